import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { users } from '../accounts/tables.js';
import { signInWithPassword, signUpAndSignIn } from '../accounts/testing.js';

for (const pair of backendPairs()) {
  describe(`admin security back-office on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    async function makeAdmin() {
      const client = await signUpAndSignIn(app());
      await harness.database.db.update(users).set({ role: 'admin' }).where(eq(users.id, client.userId));
      return client;
    }

    it('guards every admin route by role', async () => {
      const user = await signUpAndSignIn(app());
      for (const url of [
        '/api/admin/users',
        '/api/admin/audit',
        '/api/admin/outbox',
        '/api/admin/security-policy',
      ]) {
        expect((await app().inject({ url })).statusCode).toBe(401);
        const response = await app().inject({ url, headers: user.headers });
        expect(response.statusCode).toBe(403);
        expect(response.json().error.code).toBe('forbidden');
      }
    });

    it('lets an admin read the outbox, where verification links wait without SMTP', async () => {
      const admin = await makeAdmin();
      const user = await signUpAndSignIn(app());
      const outbox = await app().inject({
        url: `/api/admin/outbox?to=${encodeURIComponent(user.email)}`,
        headers: admin.headers,
      });
      expect(outbox.statusCode).toBe(200);
      expect(outbox.json().smtp).toBe(false);
      expect(outbox.json().emails[0]).toMatchObject({
        to: user.email,
        template: 'verify_email',
        status: 'stored',
      });
      expect(outbox.headers['cache-control']).toBe('no-store');
    });

    it('changes roles with an audit trail, takes effect at once, and keeps the last admin', async () => {
      const admin = await makeAdmin();
      const user = await signUpAndSignIn(app());
      const promoted = await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${user.userId}/role`,
        headers: admin.headers,
        payload: { role: 'support' },
      });
      expect(promoted.statusCode).toBe(200);
      expect(promoted.json().user.role).toBe('support');
      // The same access token now carries the new role: roles are read per request.
      expect((await app().inject({ url: '/api/admin/users', headers: user.headers })).statusCode).toBe(200);
      expect((await app().inject({ url: '/api/admin/audit', headers: user.headers })).statusCode).toBe(403);

      const audit = await app().inject({
        url: `/api/admin/audit?userId=${user.userId}&types=admin.`,
        headers: admin.headers,
      });
      expect(audit.json().events[0]).toMatchObject({
        type: 'admin.role_changed',
        actorId: admin.userId,
        details: { from: 'user', to: 'support' },
      });

      const unknown = await app().inject({
        method: 'PATCH',
        url: '/api/admin/users/00000000-0000-4000-8000-000000000000/role',
        headers: admin.headers,
        payload: { role: 'admin' },
      });
      expect(unknown.statusCode).toBe(404);
      const invalid = await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${user.userId}/role`,
        headers: admin.headers,
        payload: { role: 'superuser' },
      });
      expect(invalid.statusCode).toBe(400);
    });

    it('disables an account: its sessions end and it cannot sign in', async () => {
      const admin = await makeAdmin();
      const user = await signUpAndSignIn(app());
      const disabled = await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${user.userId}/status`,
        headers: admin.headers,
        payload: { status: 'disabled' },
      });
      expect(disabled.statusCode).toBe(200);
      expect((await app().inject({ url: '/api/account', headers: user.headers })).statusCode).toBe(401);
      await expect(signInWithPassword(app(), { email: user.email, password: user.password })).rejects.toThrow(
        /401/,
      );
    });

    it('makes 2FA mandatory for staff: an admin without it can only enrol until they do', async () => {
      const admin = await makeAdmin();
      const policy = await app().inject({
        method: 'PUT',
        url: '/api/admin/security-policy',
        headers: admin.headers,
        payload: { requireTwoFactorForStaff: true },
      });
      expect(policy.statusCode).toBe(200);
      const blocked = await app().inject({ url: '/api/admin/users', headers: admin.headers });
      expect(blocked.statusCode).toBe(403);
      expect(blocked.json().error.code).toBe('two_factor_required');
      const me = await app().inject({ url: '/api/account', headers: admin.headers });
      expect(me.json().twoFactorSetupRequired).toBe(true);
      expect(
        (await app().inject({ method: 'POST', url: '/api/account/two-factor/setup', headers: admin.headers }))
          .statusCode,
      ).toBe(200);
      // A plain user is not concerned.
      const user = await signUpAndSignIn(app());
      expect((await app().inject({ url: '/api/account/sessions', headers: user.headers })).statusCode).toBe(
        200,
      );
      await harness.database.db.delete(users).where(eq(users.id, admin.userId));
      const { updateSecurityPolicy } = await import('../accounts/policy.js');
      await updateSecurityPolicy(harness.database.db, {
        requireTwoFactorForStaff: false,
        actorId: user.userId,
      });
    });
  });
}
