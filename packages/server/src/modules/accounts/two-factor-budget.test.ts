import { and, eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { auditEvents, users } from './tables.js';
import { enableTwoFactor, randomIp, signUpAndSignIn } from './testing.js';

const BUDGET = 10;

for (const pair of backendPairs()) {
  describe(`second-factor guesses on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    async function challengeFor(client: Awaited<ReturnType<typeof signUpAndSignIn>>, secret: string) {
      await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/enable',
        headers: client.headers,
        payload: { code: await generate({ secret }), password: client.password },
      });
      const first = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: client.email, password: client.password, tokenDelivery: 'body' },
      });
      expect(first.json().status).toBe('two_factor_required');
      return first.json().challengeToken as string;
    }

    it('evaluates at most the budget of 50 simultaneous guesses from 50 addresses, then refuses even the right code', async () => {
      const client = await signUpAndSignIn(app());
      const { secret } = (
        await app().inject({ method: 'POST', url: '/api/account/two-factor/setup', headers: client.headers })
      ).json();
      const challengeToken = await challengeFor(client, secret);
      const right = await generate({ secret });
      const wrong = Array.from({ length: 50 }, (_, index) => String(100_000 + index)).filter(
        (code) => code !== right,
      );

      const answers = await Promise.all(
        wrong.map((code) =>
          app().inject({
            method: 'POST',
            url: '/api/auth/sign-in/two-factor',
            remoteAddress: randomIp(),
            payload: { challengeToken, code, tokenDelivery: 'body' },
          }),
        ),
      );
      const evaluated = answers.filter((answer) => answer.json().error?.code === 'two_factor_invalid');
      expect(evaluated.length).toBeGreaterThan(0);
      expect(evaluated.length).toBeLessThanOrEqual(BUDGET);
      for (const answer of answers) expect([401, 429]).toContain(answer.statusCode);
      const failures = await harness.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.userId, client.userId), eq(auditEvents.type, 'sign_in.two_factor_failed')));
      expect(failures.length).toBeLessThanOrEqual(BUDGET);

      const late = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: randomIp(),
        payload: { challengeToken, code: right, tokenDelivery: 'body' },
      });
      expect(late.statusCode).toBe(429);
      expect(late.json().error.code).toMatch(/^(account_locked|rate_limited)$/);
      expect(Number(late.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('does not count successful sign-ins against the budget', async () => {
      const client = await signUpAndSignIn(app());
      const { backupCodes: codes } = await enableTwoFactor(app(), client);
      expect(codes.length).toBeGreaterThanOrEqual(BUDGET);
      const [{ securityVersion }] = (await app()
        .db.select({ securityVersion: users.securityVersion })
        .from(users)
        .where(eq(users.id, client.userId))) as [{ securityVersion: number }];
      // A challenge opens one session, so each answer gets a new one, signed as the password step signs it (the
      // per-address sign-in limit allows fewer password steps).
      const secondStep = async (code: string) =>
        app().inject({
          method: 'POST',
          url: '/api/auth/sign-in/two-factor',
          remoteAddress: randomIp(),
          payload: {
            challengeToken: await app().tokenKeys.signTwoFactorChallenge({
              userId: client.userId,
              method: 'password',
              securityVersion,
            }),
            code,
            tokenDelivery: 'body',
          },
        });
      // As many successes as the budget, then one more guess: it is still evaluated.
      for (const code of codes.slice(0, BUDGET)) expect((await secondStep(code)).statusCode).toBe(200);
      const wrong = await secondStep('123456');
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('two_factor_invalid');
    });
  });
}
