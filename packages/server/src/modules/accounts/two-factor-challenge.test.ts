import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { sessions } from './tables.js';
import { enableTwoFactor, randomIp, signUpAndSignIn } from './testing.js';

const EXPIRED = 'This sign-in attempt expired; enter your password again.';

for (const pair of backendPairs()) {
  describe(`two-factor challenges are single-use on ${pair.name}`, () => {
    let harness: TestApp;
    /** A second server on the same database and shared stores, as another process behind the load balancer. */
    let other: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    beforeAll(async () => {
      other = await createTestApp({
        database: { name: pair.database.name, open: async () => harness.database },
        stores: { name: pair.stores.name, open: async () => harness.stores },
      });
    });
    afterAll(async () => {
      await other?.app.close();
      await harness?.close();
    });
    const app = () => harness.app;

    /** An account with 2FA on, its backup codes, and a way to get a challenge from the password step. */
    async function enrolled() {
      const client = await signUpAndSignIn(app());
      const { backupCodes } = await enableTwoFactor(app(), client);
      const challenge = async () => {
        const first = await app().inject({
          method: 'POST',
          url: '/api/auth/sign-in',
          remoteAddress: randomIp(),
          payload: { email: client.email, password: client.password, tokenDelivery: 'body' },
        });
        expect(first.json().status).toBe('two_factor_required');
        return first.json().challengeToken as string;
      };
      return { client, backupCodes, challenge };
    }

    const secondStep = (challengeToken: string, code: string, server = app()) =>
      server.inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: randomIp(),
        payload: { challengeToken, code, tokenDelivery: 'body' },
      });

    async function sessionsOpenedWith(userId: string, method: string) {
      const rows = await harness.database.db.select().from(sessions).where(eq(sessions.userId, userId));
      return rows.filter((row) => row.method === method).length;
    }

    it('opens one session: a later right code with the same challenge is refused, on any server', async () => {
      const { client, backupCodes, challenge } = await enrolled();
      const challengeToken = await challenge();
      expect((await secondStep(challengeToken, backupCodes[0]!)).statusCode).toBe(200);
      for (const server of [app(), other.app]) {
        const reused = await secondStep(challengeToken, backupCodes[1]!, server);
        expect(reused.statusCode).toBe(401);
        expect(reused.json().error).toEqual({ code: 'unauthenticated', message: EXPIRED });
      }
      expect(await sessionsOpenedWith(client.userId, 'password+backup_code')).toBe(1);
      // The refused uses did not look at their code: it still opens a session with a new challenge.
      expect((await secondStep(await challenge(), backupCodes[1]!)).statusCode).toBe(200);
    });

    it('keeps the challenge after a wrong code, so the person can type it again', async () => {
      const { backupCodes, challenge } = await enrolled();
      const challengeToken = await challenge();
      const wrong = await secondStep(challengeToken, '000000');
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('two_factor_invalid');
      expect((await secondStep(challengeToken, backupCodes[0]!, other.app)).statusCode).toBe(200);
    });

    it('lets only one of 8 simultaneous right codes on one challenge, over two servers, open a session', async () => {
      const { client, backupCodes, challenge } = await enrolled();
      const challengeToken = await challenge();
      const answers = await Promise.all(
        backupCodes
          .slice(0, 8)
          .map((code, index) => secondStep(challengeToken, code, index % 2 ? other.app : app())),
      );
      expect(answers.filter((answer) => answer.statusCode === 200)).toHaveLength(1);
      for (const answer of answers.filter((candidate) => candidate.statusCode !== 200)) {
        expect(answer.statusCode).toBe(401);
        expect(answer.json().error).toEqual({ code: 'unauthenticated', message: EXPIRED });
      }
      expect(await sessionsOpenedWith(client.userId, 'password+backup_code')).toBe(1);
    });
  });
}
