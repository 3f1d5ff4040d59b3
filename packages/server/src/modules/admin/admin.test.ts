import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { eraseDueAccounts } from '../accounts/privacy.js';
import { auditEvents, users } from '../accounts/tables.js';
import {
  createSignedInAccount,
  enableTwoFactor,
  type SignedInClient,
  signInWithPassword,
  signUpAndSignIn,
} from '../accounts/testing.js';
import { queryRows } from '../billing/sql.js';

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
        text: expect.stringContaining('/verify-email?token='),
      });
      expect(outbox.headers['cache-control']).toBe('no-store');
      // Reading live links is recorded: who, with which filter, which emails.
      const [read] = await harness.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.type, 'admin.outbox_read'), eq(auditEvents.actorId, admin.userId)));
      expect(read).toMatchObject({
        userId: admin.userId,
        details: {
          filter: { to: user.email, status: null, before: null, limit: 50 },
          emailIds: [outbox.json().emails[0].id],
        },
      });
      // A read that cannot be recorded is not served.
      const db = harness.database.db;
      await db.execute(
        sql`alter table audit_events add constraint audit_refuses check (type <> 'admin.outbox_read') not valid`,
      );
      try {
        const unrecorded = await app().inject({
          url: `/api/admin/outbox?to=${encodeURIComponent(user.email)}`,
          headers: admin.headers,
        });
        expect(unrecorded.statusCode).toBe(500);
        expect(unrecorded.body).not.toContain('token=');
      } finally {
        await db.execute(sql`alter table audit_events drop constraint audit_refuses`);
      }
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

    it('takes admin powers from a demoted admin at once: every session, refreshed token and pending sign-in', async () => {
      // Roles are read from the database on every request (the session row joined to the account), never from the
      // access token, a cache or the 2FA challenge: nothing issued while the account was an admin carries the role.
      const boss = await makeAdmin();
      const demoted = await makeAdmin();
      const { backupCodes } = await enableTwoFactor(app(), demoted);
      // Before the demotion: an access token (bearer), a web session (cookie), a refresh token, and a sign-in halfway
      // through (password given, the second factor still to come).
      const bearer = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: demoted.ip,
        payload: {
          challengeToken: (await passwordStep(demoted, 'body')).json().challengeToken,
          code: backupCodes[0],
          tokenDelivery: 'body',
        },
      });
      expect(bearer.statusCode, bearer.body).toBe(200);
      const { accessToken, refreshToken } = bearer.json().tokens;
      const bearerHeaders = { authorization: `Bearer ${accessToken}` };
      const webSignIn = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: demoted.ip,
        payload: {
          challengeToken: (await passwordStep(demoted, 'cookie')).json().challengeToken,
          code: backupCodes[1],
        },
      });
      expect(webSignIn.statusCode, webSignIn.body).toBe(200);
      const cookie = [webSignIn.headers['set-cookie']]
        .flat()
        .map((line) => String(line).split(';')[0])
        .join('; ');
      const pending = (await passwordStep(demoted, 'body')).json().challengeToken as string;
      for (const headers of [bearerHeaders, { cookie }]) {
        expect((await app().inject({ url: '/api/admin/users', headers })).statusCode).toBe(200);
      }

      const demotion = await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${demoted.userId}/role`,
        headers: boss.headers,
        payload: { role: 'user' },
      });
      expect(demotion.statusCode, demotion.body).toBe(200);

      const adminOnly = async (headers: Record<string, string>) => {
        for (const url of ['/api/admin/users', '/api/admin/audit', '/api/admin/billing/verify']) {
          const refused = await app().inject({ url, headers });
          expect(refused.statusCode, `${url} ${refused.body}`).toBe(403);
          expect(refused.json().error.code).toBe('forbidden');
        }
        const grant = await app().inject({
          method: 'PATCH',
          url: `/api/admin/users/${demoted.userId}/role`,
          headers,
          payload: { role: 'admin' },
        });
        expect(grant.statusCode).toBe(403);
      };
      // The very next request of each existing session is refused, and the session itself goes on as a user's.
      await adminOnly(bearerHeaders);
      await adminOnly({ cookie });
      expect((await app().inject({ url: '/api/account', headers: bearerHeaders })).json().user.role).toBe(
        'user',
      );
      // A token refreshed from before the demotion carries no role either.
      const refreshed = await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: demoted.ip,
        payload: { refreshToken, tokenDelivery: 'body' },
      });
      expect(refreshed.statusCode, refreshed.body).toBe(200);
      await adminOnly({ authorization: `Bearer ${refreshed.json().tokens.accessToken}` });
      // The sign-in started as an admin opens a user's session.
      const finished = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: demoted.ip,
        payload: {
          challengeToken: pending,
          code: backupCodes[2],
          tokenDelivery: 'body',
        },
      });
      expect(finished.statusCode, finished.body).toBe(200);
      await adminOnly({ authorization: `Bearer ${finished.json().tokens.accessToken}` });
      // The demoted person keeps their own account: the demotion is not a sign-out.
      expect((await app().inject({ url: '/api/account/sessions', headers: { cookie } })).statusCode).toBe(
        200,
      );
    });

    /** The password step of a sign-in of an account with 2FA on: its challenge, cookie or body delivery. */
    function passwordStep(client: SignedInClient, tokenDelivery: 'body' | 'cookie') {
      return app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: client.ip,
        payload: { email: client.email, password: client.password, tokenDelivery },
      });
    }

    /** Leaves exactly the given accounts as active admins. */
    async function onlyAdmins(...clients: Array<{ userId: string }>) {
      const db = harness.database.db;
      await db.update(users).set({ role: 'user' }).where(eq(users.role, 'admin'));
      const ids = clients.map((client) => client.userId);
      await db.update(users).set({ role: 'admin', status: 'active' }).where(inArray(users.id, ids));
    }

    async function activeAdmins() {
      return harness.database.db
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.role, 'admin'), eq(users.status, 'active')));
    }

    it('keeps the last active admin: it cannot demote, disable or delete itself', async () => {
      const admin = await createSignedInAccount(app(), { role: 'admin' });
      await onlyAdmins(admin);
      for (const [url, payload] of [
        [`/api/admin/users/${admin.userId}/role`, { role: 'support' }],
        [`/api/admin/users/${admin.userId}/status`, { status: 'disabled' }],
      ] as const) {
        const refused = await app().inject({ method: 'PATCH', url, headers: admin.headers, payload });
        expect(refused.statusCode).toBe(409);
        expect(refused.json().error.code).toBe('conflict');
      }
      const deletion = await app().inject({
        method: 'POST',
        url: '/api/account/deletion',
        headers: admin.headers,
        payload: {},
      });
      expect(deletion.statusCode).toBe(409);
      expect(deletion.json().error.code).toBe('conflict');
      expect(await activeAdmins()).toEqual([{ id: admin.userId }]);
    });

    for (const [change, payload] of [
      ['role', { role: 'user' }],
      ['status', { status: 'disabled' }],
    ] as const) {
      it(`lets only one of two admins changing each other's ${change} at the same moment succeed`, async () => {
        for (let round = 0; round < 3; round++) {
          const first = await createSignedInAccount(app(), { role: 'admin' });
          const second = await createSignedInAccount(app(), { role: 'admin' });
          await onlyAdmins(first, second);
          const responses = await Promise.all([
            app().inject({
              method: 'PATCH',
              url: `/api/admin/users/${second.userId}/${change}`,
              headers: first.headers,
              payload,
            }),
            app().inject({
              method: 'PATCH',
              url: `/api/admin/users/${first.userId}/${change}`,
              headers: second.headers,
              payload,
            }),
          ]);
          const statuses = responses.map((response) => response.statusCode);
          expect(statuses.filter((status) => status === 200)).toHaveLength(1);
          // The loser is refused by the last-admin rule, or, when the winner finished first, at its door: no longer
          // an admin (403) or, disabled, signed out (401).
          const loser = responses.find((response) => response.statusCode !== 200)!;
          expect([409, 403, 401]).toContain(loser.statusCode);
          const remaining = await activeAdmins();
          expect(remaining).toHaveLength(1);
          const events = await harness.database.db
            .select({ userId: auditEvents.userId })
            .from(auditEvents)
            .where(
              and(
                eq(auditEvents.type, `admin.${change}_changed`),
                inArray(auditEvents.userId, [first.userId, second.userId]),
              ),
            );
          expect(events).toHaveLength(1);
          expect(events[0]!.userId).not.toBe(remaining[0]!.id);
        }
      });
    }

    it('never erases the last active admin, even when two admins asked for deletion', async () => {
      const first = await createSignedInAccount(app(), { role: 'admin' });
      const second = await createSignedInAccount(app(), { role: 'admin' });
      await onlyAdmins(first, second);
      for (const client of [first, second]) {
        const scheduled = await app().inject({
          method: 'POST',
          url: '/api/account/deletion',
          headers: client.headers,
          payload: {},
        });
        expect(scheduled.statusCode).toBe(202);
      }
      const erase = { dataDir: app().env.DATA_DIR, pubSub: harness.stores.pubSub };
      const later = new Date(Date.now() + 30 * 86_400_000);
      expect(await eraseDueAccounts(harness.database.db, { ...erase, now: later })).toBe(1);
      const remaining = await activeAdmins();
      expect(remaining).toHaveLength(1);
      const [kept] = await harness.database.db.select().from(users).where(eq(users.id, remaining[0]!.id));
      // Still scheduled: erased by the first sweep after another admin exists.
      expect(kept!.deletionScheduledFor).not.toBeNull();
      const successor = await createSignedInAccount(app(), { role: 'user' });
      await app().inject({
        method: 'PATCH',
        url: `/api/admin/users/${successor.userId}/role`,
        headers: (remaining[0]!.id === first.userId ? first : second).headers,
        payload: { role: 'admin' },
      });
      expect(await eraseDueAccounts(harness.database.db, { ...erase, now: later })).toBe(1);
      expect(await activeAdmins()).toEqual([{ id: successor.userId }]);
    });

    it('writes a role or status change and its audit event together: no unaudited change', async () => {
      const admin = await createSignedInAccount(app(), { role: 'admin' });
      const user = await createSignedInAccount(app());
      const db = harness.database.db;
      // The audit insert fails; the change it records must not be left behind.
      await db.execute(
        sql`alter table audit_events add constraint audit_refuses check (type not in ('admin.role_changed', 'admin.status_changed')) not valid`,
      );
      try {
        for (const [url, payload] of [
          [`/api/admin/users/${user.userId}/role`, { role: 'support' }],
          [`/api/admin/users/${user.userId}/status`, { status: 'disabled' }],
        ] as const) {
          const failed = await app().inject({ method: 'PATCH', url, headers: admin.headers, payload });
          expect(failed.statusCode).toBe(500);
          expect(failed.body).not.toMatch(/audit_refuses|constraint/);
        }
      } finally {
        await db.execute(sql`alter table audit_events drop constraint audit_refuses`);
      }
      const [row] = await db.select().from(users).where(eq(users.id, user.userId));
      expect(row).toMatchObject({ role: 'user', status: 'active' });
      expect((await app().inject({ url: '/api/account', headers: user.headers })).statusCode).toBe(200);
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

    it('changes the security policy only together with its audit event', async () => {
      const admin = await makeAdmin();
      const db = harness.database.db;
      const put = (requireTwoFactorForStaff: boolean) =>
        app().inject({
          method: 'PUT',
          url: '/api/admin/security-policy',
          headers: admin.headers,
          payload: { requireTwoFactorForStaff },
        });
      const changes = async () =>
        db
          .select()
          .from(auditEvents)
          .where(and(eq(auditEvents.type, 'admin.policy_changed'), eq(auditEvents.actorId, admin.userId)));
      await db.execute(
        sql`alter table audit_events add constraint audit_refuses check (type <> 'admin.policy_changed') not valid`,
      );
      try {
        const unrecorded = await put(true);
        expect(unrecorded.statusCode).toBe(500);
        expect(unrecorded.body).not.toContain('audit_refuses');
      } finally {
        await db.execute(sql`alter table audit_events drop constraint audit_refuses`);
      }
      // Not made: staff without 2FA still get in, and nothing says otherwise once the short cache has passed.
      expect((await app().inject({ url: '/api/admin/users', headers: admin.headers })).statusCode).toBe(200);
      const [stored] = await queryRows<{ value: unknown }>(
        db,
        sql`select value from security_settings where name = 'require_two_factor_for_staff'`,
      );
      expect(stored?.value ?? false).toBe(false);
      expect(await changes()).toEqual([]);

      const recorded = await put(false);
      expect(recorded.statusCode).toBe(200);
      expect(await changes()).toEqual([
        expect.objectContaining({ userId: admin.userId, details: { requireTwoFactorForStaff: false } }),
      ]);
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
