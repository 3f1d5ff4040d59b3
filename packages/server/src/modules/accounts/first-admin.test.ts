import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { startGatewayHarness } from '../../testing/gateway-harness.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { ensureAdmin } from './service.js';
import { users } from './tables.js';
import {
  createSignedInAccount,
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  uniqueEmail,
} from './testing.js';

const SQUATTER_PASSWORD = 'squatter own pass 77';
const ADMIN_PASSWORD = 'operator chosen pass 9';

for (const pair of backendPairs()) {
  describe(`the first admin's address pre-registered by someone else on ${pair.name}`, () => {
    // Each case needs a database with no admin yet (and the key routes, which come with the gateway). It is made before
    // the case, where the hook's time is counted: a fresh database and app took most of a case's 30 s on a loaded machine.
    let fresh: TestApp | undefined;
    beforeEach(async () => {
      fresh = await startGatewayHarness(pair);
    });
    afterEach(async () => {
      await fresh?.close();
      fresh = undefined;
    });
    async function withFreshApp(run: (harness: TestApp) => Promise<void>) {
      await run(fresh!);
    }

    async function squat(harness: TestApp, email: string) {
      const squatter = await signUpAndSignIn(harness.app, {
        email,
        verify: false,
        password: SQUATTER_PASSWORD,
      });
      const send = (url: string, payload?: object) =>
        harness.app.inject({
          method: 'POST',
          url,
          headers: squatter.headers,
          ...(payload ? { payload } : {}),
        });
      const { secret } = (await send('/api/account/two-factor/setup')).json();
      expect(
        (
          await send('/api/account/two-factor/enable', {
            code: await generate({ secret }),
            password: SQUATTER_PASSWORD,
          })
        ).statusCode,
      ).toBe(200);
      const created = await send('/api/keys', { name: 'x' });
      expect(created.statusCode).toBe(201);
      return { squatter, keyId: created.json().summary.id as string };
    }

    const signIn = (harness: TestApp, email: string, password: string) =>
      harness.app.inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email, password, tokenDelivery: 'body' },
      });

    async function expectOnlyTheOperatorGetsIn(
      harness: TestApp,
      email: string,
      squatted: { squatter: SignedInClient; keyId: string },
    ) {
      const { squatter } = squatted;
      expect(
        (await harness.app.inject({ url: '/api/admin/users', headers: squatter.headers })).statusCode,
      ).toBe(401);
      const refreshed = await harness.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: randomIp(),
        payload: { refreshToken: squatter.refreshToken },
      });
      expect(refreshed.statusCode).toBe(401);
      expect((await signIn(harness, email, SQUATTER_PASSWORD)).statusCode).toBe(401);

      const operator = await signIn(harness, email, ADMIN_PASSWORD);
      expect(operator.statusCode).toBe(200);
      // The squatter's TOTP is gone: the operator's password alone opens the account.
      expect(operator.json().status).toBe('signed_in');
      const headers = { authorization: `Bearer ${operator.json().tokens.accessToken}` };
      expect((await harness.app.inject({ url: '/api/admin/users', headers })).statusCode).toBe(200);
      const keys = (await harness.app.inject({ url: '/api/keys', headers })).json().keys;
      expect(keys).toEqual([expect.objectContaining({ id: squatted.keyId, revokedAt: expect.any(String) })]);
    }

    it('ADMIN_EMAIL/ADMIN_PASSWORD: the account gets ADMIN_PASSWORD and the squatter loses every way in', async () =>
      withFreshApp(async (harness) => {
        const email = uniqueEmail('boss');
        const squatted = await squat(harness, email);
        const result = await ensureAdmin(harness.database.db, {
          email,
          password: ADMIN_PASSWORD,
          setupTokenTtlMinutes: 60,
          pubSub: harness.stores.pubSub,
        });
        expect(result.kind).toBe('promoted');
        await expectOnlyTheOperatorGetsIn(harness, email, squatted);
      }));

    it('the setup link: the form’s password is set and the squatter’s sessions die with the promotion', async () =>
      withFreshApp(async (harness) => {
        const email = uniqueEmail('admin');
        const squatted = await squat(harness, email);
        const issued = await ensureAdmin(harness.database.db, {
          setupTokenTtlMinutes: 60,
          pubSub: harness.stores.pubSub,
        });
        if (issued.kind !== 'setup_token') throw new Error(issued.kind);
        const setup = await harness.app.inject({
          method: 'POST',
          url: '/api/setup',
          remoteAddress: randomIp(),
          payload: { token: issued.token, name: 'Operator', email, password: ADMIN_PASSWORD },
        });
        expect(setup.statusCode).toBe(201);
        await expectOnlyTheOperatorGetsIn(harness, email, squatted);
      }));
  });
}

for (const pair of backendPairs()) {
  describe(`an install whose every admin is disabled on ${pair.name}`, () => {
    // A fresh install each, made in the hook for the same reason as above.
    let fresh: TestApp | undefined;
    beforeEach(async () => {
      fresh = await createTestApp(pair);
    });
    afterEach(async () => {
      await fresh?.close();
      fresh = undefined;
    });
    /** Two admins who disabled each other at the same moment, as the code before `lockActiveAdmins` let them. */
    async function lockedOut(run: (harness: TestApp, admins: SignedInClient[]) => Promise<void>) {
      const harness = fresh!;
      const admins = [
        await createSignedInAccount(harness.app, { role: 'admin' }),
        await createSignedInAccount(harness.app, { role: 'admin' }),
      ];
      await harness.app.db.update(users).set({ status: 'disabled' }).where(eq(users.role, 'admin'));
      await run(harness, admins);
    }

    it('gets its way back in at start: ADMIN_EMAIL enables and promotes that account with ADMIN_PASSWORD', async () =>
      lockedOut(async (harness, [first]) => {
        const result = await ensureAdmin(harness.database.db, {
          email: first!.email,
          password: ADMIN_PASSWORD,
          setupTokenTtlMinutes: 60,
          pubSub: harness.stores.pubSub,
        });
        expect(result.kind).toBe('promoted');
        const signedIn = await harness.app.inject({
          method: 'POST',
          url: '/api/auth/sign-in',
          remoteAddress: randomIp(),
          payload: { email: first!.email, password: ADMIN_PASSWORD, tokenDelivery: 'body' },
        });
        expect(signedIn.statusCode).toBe(200);
        const headers = { authorization: `Bearer ${signedIn.json().tokens.accessToken}` };
        expect((await harness.app.inject({ url: '/api/admin/users', headers })).statusCode).toBe(200);
      }));

    it('gets its way back in at start: without ADMIN_EMAIL the setup link is issued and works', async () =>
      lockedOut(async (harness) => {
        const issued = await ensureAdmin(harness.database.db, {
          setupTokenTtlMinutes: 60,
          pubSub: harness.stores.pubSub,
        });
        if (issued.kind !== 'setup_token') throw new Error(`expected a setup link, got ${issued.kind}`);
        const setup = await harness.app.inject({
          method: 'POST',
          url: '/api/setup',
          remoteAddress: randomIp(),
          payload: {
            token: issued.token,
            name: 'Operator',
            email: uniqueEmail('back'),
            password: ADMIN_PASSWORD,
          },
        });
        expect(setup.statusCode).toBe(201);
        expect(
          (
            await ensureAdmin(harness.database.db, {
              setupTokenTtlMinutes: 60,
              pubSub: harness.stores.pubSub,
            })
          ).kind,
        ).toBe('exists');
      }));
  });
}
