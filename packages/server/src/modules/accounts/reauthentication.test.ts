import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { rateTiers } from './rate-limits.js';
import { emailTokens } from './tables.js';
import {
  createSignedInAccount,
  emailedTwoFactorCode,
  enableTwoFactor,
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
} from './testing.js';

const BUDGET = 10;

// The per-account limit on sensitive routes (10 a minute) would stop a burst here by itself; an attacker holding a
// session only has to wait for its next minute, so the checks must hold on their own. Raised for this file before the
// app registers its routes.
(rateTiers as { auth: number }).auth = 1_000;

/**
 * Someone holding a stolen session (a cookie or token copied off a device) but not the password nor the
 * authenticator: what the routes that ask a signed-in person to prove themselves again let them do.
 */
for (const pair of backendPairs()) {
  describe(`re-authentication of a signed-in session on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    const send = (client: SignedInClient, url: string, payload: Record<string, unknown>) =>
      app().inject({ method: 'POST', url, headers: client.headers, remoteAddress: randomIp(), payload });

    function expectEvaluatedOrRefused(answers: LightMyRequestResponse[], wrongCode: string) {
      for (const answer of answers) {
        if (answer.statusCode === 401) expect(answer.json().error.code).toBe(wrongCode);
        else {
          expect(answer.statusCode).toBe(429);
          expect(answer.json().error.code).toBe('account_locked');
          expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
        }
      }
      return answers.filter((answer) => answer.statusCode === 401).length;
    }

    it('cannot turn on two-factor with the session alone, which would lock the owner out of their account', async () => {
      const owner = await signUpAndSignIn(app());
      const { secret } = (await send(owner, '/api/account/two-factor/setup', {})).json();
      const hijack = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
      });
      expect(hijack.statusCode).toBe(401);
      expect(hijack.json().error.code).toBe('invalid_credentials');
      const wrongPassword = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        password: 'not the password at all',
      });
      expect(wrongPassword.statusCode).toBe(401);

      // The owner still signs in with the password alone.
      const signIn = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: owner.email, password: owner.password, tokenDelivery: 'body' },
      });
      expect(signIn.json().status).toBe('signed_in');

      // With the password, the owner turns it on.
      const enabled = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        password: owner.password,
      });
      expect(enabled.statusCode).toBe(200);
      expect(enabled.json().backupCodes).toHaveLength(10);
    });

    /** The code the account's mailbox received for `action`, as its owner reads it (the thief does not). */
    const emailedCode = (client: SignedInClient, action: 'enable' | 'disable') =>
      emailedTwoFactorCode(app(), client, action);

    it('cannot turn two-factor on or off with the session alone on an account without a password (OAuth only)', async () => {
      // Signed up through Google or GitHub: no password to ask for, so the session alone used to be enough.
      const owner = await createSignedInAccount(app());
      const { secret } = (await send(owner, '/api/account/two-factor/setup', {})).json();
      const hijack = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
      });
      expect(hijack.statusCode, hijack.body).toBe(400);
      expect(hijack.json().error.code).toBe('token_invalid');
      const guessed = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        emailCode: 'abcde-fghjk',
      });
      expect(guessed.statusCode).toBe(400);
      expect(
        (await app().inject({ url: '/api/account/two-factor', headers: owner.headers })).json(),
      ).toMatchObject({ enabled: false });

      // The owner proves control of the mailbox with the code it received; a wrong authenticator code does not spend it.
      const enableCode = await emailedCode(owner, 'enable');
      const typo = await send(owner, '/api/account/two-factor/enable', {
        code: String((Number(await generate({ secret })) + 1) % 1_000_000).padStart(6, '0'),
        emailCode: enableCode,
      });
      expect(typo.json().error.code).toBe('two_factor_invalid');
      const enabled = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        emailCode: ` ${enableCode.toUpperCase()} `,
      });
      expect(enabled.statusCode, enabled.body).toBe(200);
      expect(enabled.json().backupCodes).toHaveLength(10);
      // Turning it off needs the mailbox too, on top of a code: a backup code alone (with the session) is refused.
      const backupCode = enabled.json().backupCodes[0] as string;
      const offHijack = await send(owner, '/api/account/two-factor/disable', { code: backupCode });
      expect(offHijack.statusCode).toBe(400);
      expect(offHijack.json().error.code).toBe('token_invalid');
      const offCode = await emailedCode(owner, 'disable');
      const off = await send(owner, '/api/account/two-factor/disable', {
        code: backupCode,
        emailCode: offCode,
      });
      expect(off.statusCode, off.body).toBe(204);
      // Each code works once: the one that turned it on does not turn it on again.
      const { secret: next } = (await send(owner, '/api/account/two-factor/setup', {})).json();
      const replayed = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret: next }),
        emailCode: enableCode,
      });
      expect(replayed.statusCode).toBe(400);
      expect(replayed.json().error.code).toBe('token_invalid');
    });

    it('takes an emailed code only from its own account, within its ten minutes, once', async () => {
      const owner = await createSignedInAccount(app());
      const other = await createSignedInAccount(app());
      const { secret } = (await send(owner, '/api/account/two-factor/setup', {})).json();
      await send(other, '/api/account/two-factor/setup', {});
      const othersCode = await emailedCode(other, 'enable');
      const foreign = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        emailCode: othersCode,
      });
      expect(foreign.statusCode).toBe(400);

      // Asking again replaces the previous code.
      const first = await emailedCode(owner, 'enable');
      const second = await emailedCode(owner, 'enable');
      expect(second).not.toBe(first);
      const replaced = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        emailCode: first,
      });
      expect(replaced.statusCode).toBe(400);
      // Ten minutes, no more.
      await app()
        .db.update(emailTokens)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(emailTokens.userId, owner.userId));
      const late = await send(owner, '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        emailCode: second,
      });
      expect(late.statusCode).toBe(400);
      expect(late.json().error.code).toBe('token_invalid');
    });

    it('sends emailed codes only to accounts without a password, a few at a time', async () => {
      const withPassword = await signUpAndSignIn(app());
      const refused = await send(withPassword, '/api/account/two-factor/email-code', { action: 'enable' });
      expect(refused.statusCode).toBe(409);
      const owner = await createSignedInAccount(app());
      const answers = [];
      for (let index = 0; index < 6; index += 1)
        answers.push(
          (await send(owner, '/api/account/two-factor/email-code', { action: 'enable' })).statusCode,
        );
      expect(answers).toEqual([202, 202, 202, 202, 202, 429]);
    });

    it('checks at most the account budget of second-factor guesses sent through the signed-in routes', async () => {
      const owner = await signUpAndSignIn(app());
      const { secret } = await enableTwoFactor(app(), owner);
      const right = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
      const wrong = Array.from({ length: 30 }, (_, index) => String(200_000 + index)).filter(
        (code) => code !== right,
      );
      const answers = await Promise.all(
        wrong.map((code) => send(owner, '/api/account/two-factor/backup-codes', { code })),
      );
      const evaluated = expectEvaluatedOrRefused(answers, 'two_factor_invalid');
      expect(evaluated).toBeGreaterThan(0);
      expect(evaluated).toBeLessThanOrEqual(BUDGET);

      // The budget is the account's: the sign-in's second step is spent too, even with the right code.
      const challenge = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: owner.email, password: owner.password, tokenDelivery: 'body' },
      });
      const late = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: randomIp(),
        payload: { challengeToken: challenge.json().challengeToken, code: right, tokenDelivery: 'body' },
      });
      expect(late.statusCode).toBe(429);
    });

    it('checks at most the address budget of current-password guesses sent through the signed-in routes', async () => {
      const owner = await signUpAndSignIn(app());
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          send(owner, '/api/account/password', {
            currentPassword: `wrong password number ${index}`,
            newPassword: 'a brand new passphrase 9',
          }),
        ),
      );
      const evaluated = expectEvaluatedOrRefused(answers, 'invalid_credentials');
      expect(evaluated).toBeGreaterThan(0);
      expect(evaluated).toBeLessThanOrEqual(BUDGET);

      // The same budget as the sign-in form's: it is spent there too, even for the right password.
      const late = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: owner.email, password: owner.password, tokenDelivery: 'body' },
      });
      expect(late.statusCode).toBe(429);
    });

    it('gives a right password or code its attempt back', async () => {
      const owner = await signUpAndSignIn(app());
      for (let index = 0; index <= BUDGET; index += 1) {
        const answer = await send(owner, '/api/account/email', {
          password: owner.password,
          newEmail: `moved-${index}-${owner.email}`,
        });
        expect(answer.statusCode).toBe(202);
      }
    });
  });
}
