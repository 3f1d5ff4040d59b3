import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { accountsContext } from './context.js';
import { signInWithOAuth } from './oauth.js';
import { backupCodes, providerKeys, users } from './tables.js';
import {
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

for (const pair of backendPairs()) {
  describe(`taking over an account pre-registered with someone else's address on ${pair.name}`, () => {
    let harness: GatewayHarness;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    const models = (key: string) =>
      fetch(`${harness.origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

    /** What a squatter sets up on an account made with the victim's address, before its owner shows up. */
    async function squat(options: { verify?: boolean } = {}) {
      const email = uniqueEmail('victim');
      const squatter = await signUpAndSignIn(app(), {
        email,
        verify: options.verify ?? false,
        password: 'squatter own pass 77',
      });
      const send = (method: 'POST' | 'PUT', url: string, payload?: object) =>
        app().inject({ method, url, headers: squatter.headers, ...(payload ? { payload } : {}) });
      const created = await send('POST', '/api/keys', { name: 'spender' });
      expect(created.statusCode).toBe(201);
      const { secret } = (await send('POST', '/api/account/two-factor/setup')).json();
      expect(
        (
          await send('POST', '/api/account/two-factor/enable', {
            code: await generate({ secret }),
            password: squatter.password,
          })
        ).statusCode,
      ).toBe(200);
      expect(
        (await send('PUT', '/api/account/provider-keys/openai', { key: 'sk-squatter-0123456789' }))
          .statusCode,
      ).toBe(200);
      expect((await send('POST', '/api/organizations', { name: 'Squatters' })).statusCode).toBe(201);
      // A pending email change would move the account to the squatter's address once the owner has it.
      const changeTime = new Date();
      const elsewhere = uniqueEmail('squatter');
      expect(
        (await send('POST', '/api/account/email', { password: squatter.password, newEmail: elsewhere }))
          .statusCode,
      ).toBeLessThan(300);
      const changeMail = await waitForEmail(app(), {
        to: elsewhere,
        template: 'change_email',
        after: changeTime,
      });
      const key: string = created.json().key;
      expect((await models(key)).status).toBe(200);
      return {
        email,
        squatter,
        key,
        secret,
        emailChangeToken: tokenFromEmail(changeMail.text, '/confirm-email-change'),
      };
    }

    async function expectNothingOfTheSquatterLeft(
      squatted: Awaited<ReturnType<typeof squat>>,
      owner: { headers: Record<string, string> },
    ) {
      expect((await models(squatted.key)).status).toBe(401);
      expect(
        (await app().inject({ url: '/api/account', headers: squatted.squatter.headers })).statusCode,
      ).toBe(401);
      const refreshed = await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: randomIp(),
        payload: { refreshToken: squatted.squatter.refreshToken },
      });
      expect(refreshed.statusCode).toBe(401);
      const account = (await app().inject({ url: '/api/account', headers: owner.headers })).json();
      expect(account.user.twoFactorEnabled).toBe(false);
      const [enrolment] = await harness.database.db
        .select({ secret: users.totpSecret, step: users.totpLastStep })
        .from(users)
        .where(eq(users.id, squatted.squatter.userId));
      expect(enrolment).toEqual({ secret: null, step: null });
      expect(
        await harness.database.db
          .select()
          .from(backupCodes)
          .where(eq(backupCodes.userId, squatted.squatter.userId)),
      ).toEqual([]);
      const keys = (await app().inject({ url: '/api/keys', headers: owner.headers })).json().keys;
      expect(keys.every((key: { revokedAt: string | null }) => key.revokedAt !== null)).toBe(true);
      expect(
        (await app().inject({ url: '/api/account/provider-keys', headers: owner.headers })).json().keys,
      ).toEqual([]);
      expect(
        (await app().inject({ url: '/api/organizations', headers: owner.headers })).json().organizations,
      ).toEqual([]);
      const moved = await app().inject({
        method: 'POST',
        url: '/api/auth/email-change/confirm',
        remoteAddress: randomIp(),
        payload: { token: squatted.emailChangeToken },
      });
      expect(moved.statusCode).toBe(400);
      expect(account.user.email).toBe(squatted.email);
    }

    it('through OAuth with the verified address: the owner signs straight in and nothing of the squatter survives', async () => {
      const squatted = await squat();
      const result = await signInWithOAuth(accountsContext(app()), {
        provider: 'google',
        identity: {
          providerUserId: `g-${squatted.email}`,
          email: squatted.email,
          emailVerified: true,
          name: 'Owner',
        },
      });
      expect(result.kind).toBe('session'); // no second factor of the squatter's asked
      if (result.kind !== 'session') return;
      await expectNothingOfTheSquatterLeft(squatted, {
        headers: { authorization: `Bearer ${result.tokens.accessToken}` },
      });
    });

    it('through a password reset: the owner signs in with the new password alone and nothing of the squatter survives', async () => {
      const squatted = await squat();
      const owner = await resetAndSignIn(squatted.email);
      expect(owner.status).toBe('signed_in');
      await expectNothingOfTheSquatterLeft(squatted, { headers: owner.headers });
    });

    it('keeps the 2FA, virtual keys and provider keys of a verified account whose owner resets the password', async () => {
      const kept = await squat({ verify: true });
      const afterReset = await resetAndSignIn(kept.email);
      expect(afterReset.status).toBe('two_factor_required');
      expect((await models(kept.key)).status).toBe(200);
      expect(
        await harness.database.db
          .select()
          .from(providerKeys)
          .where(eq(providerKeys.userId, kept.squatter.userId)),
      ).toHaveLength(1);
    });

    async function resetAndSignIn(email: string) {
      const ip = randomIp();
      const asked = new Date();
      await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: ip,
        payload: { email },
      });
      const mail = await waitForEmail(app(), { to: email, template: 'reset_password', after: asked });
      const reset = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: ip,
        payload: { token: tokenFromEmail(mail.text, '/reset-password'), password: 'owner new pass 12345' },
      });
      expect(reset.statusCode).toBeLessThan(300);
      const signedIn = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email, password: 'owner new pass 12345', tokenDelivery: 'body' },
      });
      expect(signedIn.statusCode).toBe(200);
      const body = signedIn.json();
      return {
        status: body.status as string,
        headers: { authorization: `Bearer ${body.tokens?.accessToken}` } as Record<string, string>,
      } satisfies Partial<SignedInClient> & { status: string };
    }
  });
}
