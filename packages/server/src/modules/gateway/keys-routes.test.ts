import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { users } from '../accounts/tables.js';
import { signUpAndSignIn } from '../accounts/testing.js';

for (const pair of backendPairs()) {
  describe(`virtual keys through the API on ${pair.name}`, () => {
    let harness: GatewayHarness;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());

    it('creates a key shown once, lists it masked, and revokes it so /v1 refuses it at once', async () => {
      const person = await signUpAndSignIn(harness.app);
      const created = await harness.app.inject({
        method: 'POST',
        url: '/api/keys',
        headers: person.headers,
        payload: { name: 'my app', allowedModels: ['gpt-test'], rpmLimit: 100 },
      });
      expect(created.statusCode).toBe(201);
      const { key, summary } = created.json();
      expect(key).toMatch(/^wbx_[A-Za-z0-9_-]{43}$/);
      expect(key.startsWith(summary.prefix)).toBe(true);

      const listed = await harness.app.inject({ url: '/api/keys', headers: person.headers });
      expect(listed.body).not.toContain(key);
      expect(listed.json().keys).toEqual([
        expect.objectContaining({ id: summary.id, prefix: summary.prefix, revokedAt: null }),
      ]);

      const models = await fetch(`${harness.origin}/v1/models`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(models.status).toBe(200);

      const revoked = await harness.app.inject({
        method: 'DELETE',
        url: `/api/keys/${summary.id}`,
        headers: person.headers,
      });
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json().key.revokedAt).not.toBeNull();
      const refused = await fetch(`${harness.origin}/v1/models`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(refused.status).toBe(401);
    });

    it('never lets one person see or revoke another person’s key by guessing its id', async () => {
      const owner = await signUpAndSignIn(harness.app);
      const intruder = await signUpAndSignIn(harness.app);
      const created = await harness.app.inject({
        method: 'POST',
        url: '/api/keys',
        headers: owner.headers,
        payload: { name: 'private' },
      });
      const { summary } = created.json();

      const attempt = await harness.app.inject({
        method: 'DELETE',
        url: `/api/keys/${summary.id}`,
        headers: intruder.headers,
      });
      expect(attempt.statusCode).toBe(404);
      expect((await harness.app.inject({ url: '/api/keys', headers: intruder.headers })).json().keys).toEqual(
        [],
      );
      const stillThere = await harness.app.inject({ url: '/api/keys', headers: owner.headers });
      expect(stillThere.json().keys[0].revokedAt).toBeNull();
    });

    it('refuses to manage keys with a virtual key or without signing in', async () => {
      const key = await harness.createKey();
      expect(
        (await harness.app.inject({ url: '/api/keys', headers: { authorization: `Bearer ${key}` } }))
          .statusCode,
      ).toBe(401);
      expect((await harness.app.inject({ url: '/api/keys' })).statusCode).toBe(401);
      const bad = await harness.app.inject({ method: 'DELETE', url: '/api/keys/not-a-uuid', headers: {} });
      expect([400, 401]).toContain(bad.statusCode);
    });

    it('shows provider health to staff only', async () => {
      const person = await signUpAndSignIn(harness.app);
      expect(
        (await harness.app.inject({ url: '/api/admin/gateway/health', headers: person.headers })).statusCode,
      ).toBe(403);
      await harness.database.db.update(users).set({ role: 'support' }).where(eq(users.id, person.userId));
      const health = await harness.app.inject({ url: '/api/admin/gateway/health', headers: person.headers });
      expect(health.statusCode).toBe(200);
      expect(health.json().providers.map((provider: { provider: string }) => provider.provider)).toEqual(
        expect.arrayContaining(['primary', 'backup', 'claude']),
      );
    });
  });
}
