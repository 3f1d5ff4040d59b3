import { and, eq, inArray } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { rateTiers } from './rate-limits.js';
import { auditEvents } from './tables.js';
import {
  randomIp,
  signInWithPassword,
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

const BUDGET = 10;

// Every argon2 verification the sign-in runs, counted on the way through.
const verifications = vi.hoisted(() => ({ count: 0 }));
vi.mock('./passwords.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('./passwords.js')>();
  return {
    ...original,
    verifyPassword: (passwordHash: string, password: string) => {
      verifications.count += 1;
      return original.verifyPassword(passwordHash, password);
    },
  };
});

// The per-address route limit (10 a minute) would stop a burst here by itself; an attacker only has to wait for its
// next minute, so the sign-in must hold on its own. Raised for this file before the app registers its routes.
(rateTiers as { auth: number }).auth = 1_000;

for (const pair of backendPairs()) {
  describe(`password guesses on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    const signInAs = (email: string, password: string) =>
      app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email, password, tokenDelivery: 'body' },
      });

    /** 50 wrong passwords for one address at once, from 50 addresses; how many argon2 runs they caused. */
    async function burst(email: string) {
      verifications.count = 0;
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, index) => signInAs(email, `wrong password number ${index}`)),
      );
      return { answers, checked: verifications.count };
    }

    function expectRefusedOrWrong(answers: LightMyRequestResponse[]) {
      for (const answer of answers) {
        const code = answer.json().error?.code;
        if (answer.statusCode === 401) expect(code).toBe('invalid_credentials');
        else {
          expect(answer.statusCode).toBe(429);
          expect(code).toMatch(/^(account_locked|rate_limited)$/);
          expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
        }
      }
    }

    it('checks at most the budget of 50 simultaneous wrong passwords, counts every failure, and locks', async () => {
      const client = await signUpAndSignIn(app());
      const { answers, checked } = await burst(client.email);
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThanOrEqual(BUDGET);
      expectRefusedOrWrong(answers);

      // Each checked password left one failure, numbered 1, 2, 3...: none was lost to a concurrent one.
      const failures = await harness.database.db
        .select()
        .from(auditEvents)
        .where(
          and(
            eq(auditEvents.userId, client.userId),
            inArray(auditEvents.type, ['sign_in.failed', 'sign_in.locked']),
          ),
        );
      const numbers = failures.map((event) => (event.details as { failures: number }).failures);
      expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: checked }, (_, index) => index + 1));

      // Even the right password is refused now, without being checked.
      verifications.count = 0;
      const late = await signInAs(client.email, client.password);
      expect(late.statusCode).toBe(429);
      expect(Number(late.headers['retry-after'])).toBeGreaterThan(0);
      expect(verifications.count).toBe(0);
    });

    it('answers a burst on an unknown address like one on a known address, after as many checks', async () => {
      const { answers, checked } = await burst(uniqueEmail('ghost'));
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThanOrEqual(BUDGET);
      expectRefusedOrWrong(answers);
      const late = await signInAs(uniqueEmail('ghost'), 'wrong password again');
      expect(late.statusCode).toBe(401);
    });

    it('gives a success its attempt back: signing in more often than the budget keeps working', async () => {
      const client = await signUpAndSignIn(app());
      for (let index = 0; index <= BUDGET; index += 1) {
        expect((await signInAs(client.email, client.password)).statusCode).toBe(200);
      }
    });

    it('lets the owner in after a password reset, even when guesses had spent the budget', async () => {
      const client = await signUpAndSignIn(app());
      await burst(client.email);
      expect((await signInAs(client.email, client.password)).statusCode).toBe(429);
      await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: client.email },
      });
      const mail = await waitForEmail(app(), { to: client.email, template: 'reset_password' });
      const password = 'a brand new passphrase 9';
      const reset = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: randomIp(),
        payload: { token: tokenFromEmail(mail.text, '/reset-password'), password },
      });
      expect(reset.statusCode).toBe(200);
      await signInWithPassword(app(), { email: client.email, password });
    });
  });
}
