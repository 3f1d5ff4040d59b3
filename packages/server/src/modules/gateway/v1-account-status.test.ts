import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { eraseAccount } from '../accounts/privacy.js';
import { users } from '../accounts/tables.js';
import { type SignedInClient, signInWithPassword, signUpAndSignIn } from '../accounts/testing.js';

for (const pair of backendPairs()) {
  describe(`virtual keys follow their account's status on ${pair.name}`, () => {
    let harness: GatewayHarness;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());

    async function keyOf(person: SignedInClient): Promise<{ key: string; id: string }> {
      const created = await harness.app.inject({
        method: 'POST',
        url: '/api/keys',
        headers: person.headers,
        payload: { name: 'app' },
      });
      expect(created.statusCode).toBe(201);
      return { key: created.json().key, id: created.json().summary.id };
    }

    const models = (key: string) =>
      fetch(`${harness.origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

    async function expectRefused(key: string) {
      const response = await models(key);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: unknown }).error).toMatchObject({
        type: 'authentication_error',
        code: 'unauthenticated',
      });
    }

    it('refuses a cached key at once when an admin disables its owner, and re-enabling does not revive it', async () => {
      const admin = await signUpAndSignIn(harness.app);
      await harness.database.db.update(users).set({ role: 'admin' }).where(eq(users.id, admin.userId));
      const person = await signUpAndSignIn(harness.app);
      const { key, id } = await keyOf(person);
      expect((await models(key)).status).toBe(200); // now in this process's key cache

      const setStatus = (status: 'active' | 'disabled') =>
        harness.app.inject({
          method: 'PATCH',
          url: `/api/admin/users/${person.userId}/status`,
          headers: admin.headers,
          payload: { status },
        });
      expect((await setStatus('disabled')).statusCode).toBe(200);
      await expectRefused(key);

      expect((await setStatus('active')).statusCode).toBe(200);
      await expectRefused(key);
      // Revoked for good: once enabled again, the person signs in and makes new keys.
      const back = await signInWithPassword(harness.app, person);
      const listed = await harness.app.inject({ url: '/api/keys', headers: back.headers });
      expect(listed.json().keys).toEqual([expect.objectContaining({ id, revokedAt: expect.any(String) })]);
      const fresh = await keyOf(back);
      expect((await models(fresh.key)).status).toBe(200);
    });

    it('refuses the key of an account disabled behind the revocation’s back (status checked on every lookup)', async () => {
      const person = await signUpAndSignIn(harness.app);
      const { key } = await keyOf(person);
      await harness.database.db.update(users).set({ status: 'disabled' }).where(eq(users.id, person.userId));
      await expectRefused(key);
    });

    it('refuses a cached key at once when its account is erased', async () => {
      const person = await signUpAndSignIn(harness.app);
      const { key } = await keyOf(person);
      expect((await models(key)).status).toBe(200);
      await eraseAccount(harness.database.db, {
        userId: person.userId,
        dataDir: harness.app.env.DATA_DIR,
        pubSub: harness.stores.pubSub,
      });
      await expectRefused(key);
    });
  });
}
