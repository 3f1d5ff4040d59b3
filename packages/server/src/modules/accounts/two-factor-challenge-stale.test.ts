import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { eraseAccount } from './privacy.js';
import { sessions } from './tables.js';
import {
  createSignedInAccount,
  enableTwoFactor,
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  tokenFromEmail,
  waitForEmail,
} from './testing.js';

const EXPIRED = {
  code: 'unauthenticated',
  message: 'This sign-in attempt expired; enter your password again.',
};
const NEW_PASSWORD = 'an entirely new passphrase 99';

/**
 * A challenge from the password step proves the password (and the account's standing) as they were when it was
 * issued. Whatever changes those before the second step (a new password, 2FA turned off or enrolled again, the account
 * disabled or erased) leaves the challenge worthless, even with a right code.
 */
for (const pair of backendPairs()) {
  describe(`a two-factor challenge issued before a security change on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(async () => {
      await harness?.close();
    });
    const app = () => harness.app;

    const passwordStep = (email: string, password: string) =>
      app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email, password, tokenDelivery: 'body' },
      });

    async function challengeFor(client: SignedInClient, password = client.password): Promise<string> {
      const first = await passwordStep(client.email, password);
      expect(first.json().status).toBe('two_factor_required');
      return first.json().challengeToken as string;
    }

    const secondStep = (challengeToken: string, code: string) =>
      app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: randomIp(),
        payload: { challengeToken, code, tokenDelivery: 'body' },
      });

    /** An account with 2FA on, and a challenge from its password step. */
    async function pendingSignIn() {
      const client = await signUpAndSignIn(app());
      const { backupCodes } = await enableTwoFactor(app(), client);
      return { client, backupCodes, challengeToken: await challengeFor(client) };
    }

    async function sessionsFromChallenges(userId: string) {
      const rows = await harness.database.db
        .select({ method: sessions.method })
        .from(sessions)
        .where(eq(sessions.userId, userId));
      return rows.filter((row) => row.method.startsWith('password+')).length;
    }

    async function admin() {
      return createSignedInAccount(app(), { role: 'admin' });
    }

    const setStatus = async (by: SignedInClient, userId: string, status: 'active' | 'disabled') => {
      const changed = await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${userId}/status`,
        headers: by.headers,
        payload: { status },
      });
      expect(changed.statusCode).toBe(200);
    };

    it('is refused after the password is changed', async () => {
      const { client, backupCodes, challengeToken } = await pendingSignIn();
      const changed = await app().inject({
        method: 'POST',
        url: '/api/account/password',
        headers: client.headers,
        payload: { currentPassword: client.password, newPassword: NEW_PASSWORD },
      });
      expect(changed.statusCode).toBe(204);
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toEqual(EXPIRED);
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
      // The refusal spent no code: with the new password, the same backup code signs in.
      const fresh = await challengeFor(client, NEW_PASSWORD);
      expect((await secondStep(fresh, backupCodes[0]!)).json().status).toBe('signed_in');
    });

    it('is refused after the password is reset from an email link', async () => {
      const { client, backupCodes, challengeToken } = await pendingSignIn();
      const after = new Date();
      await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: client.email },
      });
      const mail = await waitForEmail(app(), { to: client.email, template: 'reset_password', after });
      const reset = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: randomIp(),
        payload: { token: tokenFromEmail(mail.text, '/reset-password'), password: NEW_PASSWORD },
      });
      expect(reset.statusCode).toBe(200);
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toEqual(EXPIRED);
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
    });

    it('is refused after 2FA is turned off and enrolled again, even with a code of the new enrolment', async () => {
      const { client, backupCodes: before, challengeToken } = await pendingSignIn();
      const disabled = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/disable',
        headers: client.headers,
        payload: { password: client.password, code: before[0]! },
      });
      expect(disabled.statusCode).toBe(204);
      const { backupCodes } = await enableTwoFactor(app(), client);
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toEqual(EXPIRED);
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
    });

    it('gives a disabled account the password step’s refusal, and opens no session', async () => {
      const { client, backupCodes, challengeToken } = await pendingSignIn();
      await setStatus(await admin(), client.userId, 'disabled');
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      const passwordStepNow = await passwordStep(client.email, client.password);
      expect(passwordStepNow.statusCode).toBe(401);
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual(passwordStepNow.json());
      expect(refused.json().error.code).toBe('invalid_credentials');
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
    });

    it('is refused after the account was disabled and enabled again', async () => {
      const { client, backupCodes, challengeToken } = await pendingSignIn();
      const by = await admin();
      await setStatus(by, client.userId, 'disabled');
      await setStatus(by, client.userId, 'active');
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toEqual(EXPIRED);
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
    });

    it('gives an erased account the password step’s refusal', async () => {
      const { client, backupCodes, challengeToken } = await pendingSignIn();
      expect(
        await eraseAccount(harness.database.db, {
          userId: client.userId,
          dataDir: app().env.DATA_DIR,
          pubSub: harness.stores.pubSub,
        }),
      ).toBe(true);
      const refused = await secondStep(challengeToken, backupCodes[0]!);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.code).toBe('invalid_credentials');
      expect(await sessionsFromChallenges(client.userId)).toBe(0);
    });
  });
}
