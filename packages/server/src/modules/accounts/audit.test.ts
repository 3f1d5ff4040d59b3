import type { InjectOptions } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import type { AuditEventView } from './audit.js';
import { auditEvents } from './tables.js';
import {
  createSignedInAccount,
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  toClient,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

const userAgent = 'AuditTest/1.0 (the journal must name me)';

for (const pair of backendPairs()) {
  describe(`audit log and personal journal on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let admin: SignedInClient;
    const ip = randomIp();
    const app = () => harness.app;
    /** Every request of these tests comes from one address and browser, which every event must name. */
    const send = (
      client: SignedInClient | undefined,
      method: InjectOptions['method'],
      url: string,
      payload?: unknown,
    ) =>
      app().inject({
        method,
        url,
        remoteAddress: ip,
        headers: { ...client?.headers, 'user-agent': userAgent },
        ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}),
      });
    const auditOf = async (userId: string): Promise<AuditEventView[]> =>
      (await send(admin, 'GET', `/api/admin/audit?userId=${userId}&limit=200`)).json().events;

    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
      admin = await createSignedInAccount(harness.app, { role: 'admin' });
    });
    afterAll(() => harness.close());

    it('records each security event of the issue with its time, IP and user agent', async () => {
      const person = await signUpAndSignIn(app());
      expect(
        (
          await send(undefined, 'POST', '/api/auth/sign-in', {
            email: person.email,
            password: 'not it at all',
          })
        ).statusCode,
      ).toBe(401);
      const signedIn = await send(undefined, 'POST', '/api/auth/sign-in', {
        email: person.email,
        password: person.password,
        tokenDelivery: 'body',
      });
      const client = toClient(signedIn, person.email, person.password, ip);

      const { secret } = (await send(client, 'POST', '/api/account/two-factor/setup')).json();
      const enabled = await send(client, 'POST', '/api/account/two-factor/enable', {
        code: await generate({ secret }),
        password: person.password,
      });
      const backupCodes: string[] = enabled.json().backupCodes;
      const regenerated = await send(client, 'POST', '/api/account/two-factor/backup-codes', {
        code: backupCodes[0],
      });
      expect(regenerated.statusCode).toBe(200);
      const disabled = await send(client, 'POST', '/api/account/two-factor/disable', {
        password: person.password,
        code: regenerated.json().backupCodes[0],
      });
      expect(disabled.statusCode).toBe(204);

      const newPassword = 'another sturdy passphrase';
      expect(
        (
          await send(client, 'POST', '/api/account/password', {
            currentPassword: person.password,
            newPassword,
          })
        ).statusCode,
      ).toBe(204);
      const newEmail = uniqueEmail('moved');
      const before = new Date();
      expect(
        (await send(client, 'POST', '/api/account/email', { password: newPassword, newEmail })).statusCode,
      ).toBe(202);
      const mail = await waitForEmail(app(), { to: newEmail, template: 'change_email', after: before });
      const token = tokenFromEmail(mail.text, '/confirm-email-change');
      expect((await send(undefined, 'POST', '/api/auth/email-change/confirm', { token })).statusCode).toBe(
        200,
      );

      const key = await send(client, 'POST', '/api/keys', { name: 'laptop' });
      expect((await send(client, 'DELETE', `/api/keys/${key.json().summary.id}`)).statusCode).toBe(200);
      const providerKey = await send(client, 'PUT', '/api/account/provider-keys/openai', {
        key: 'sk-test-1234567890',
      });
      expect(
        (await send(client, 'DELETE', `/api/account/provider-keys/${providerKey.json().key.id}`)).statusCode,
      ).toBe(204);

      expect(
        (await send(admin, 'PATCH', `/api/admin/users/${person.userId}/role`, { role: 'support' }))
          .statusCode,
      ).toBe(200);
      expect(
        (await send(admin, 'PATCH', `/api/admin/users/${person.userId}/status`, { status: 'disabled' }))
          .statusCode,
      ).toBe(200);

      const events = await auditOf(person.userId);
      const expected = [
        'sign_in.failed',
        'sign_in.succeeded',
        'two_factor.enabled',
        'two_factor.backup_codes_regenerated',
        'two_factor.disabled',
        'password.changed',
        'email.change_requested',
        'email.changed',
        'api_key.created',
        'api_key.revoked',
        'provider_key.saved',
        'provider_key.deleted',
        'admin.role_changed',
        'admin.status_changed',
      ];
      for (const type of expected) {
        const event = events.find((candidate) => candidate.type === type);
        expect(event, type).toMatchObject({ ip, userAgent });
        expect(Date.now() - Date.parse(event!.createdAt), type).toBeLessThan(120_000);
      }
      expect(events.find((event) => event.type === 'admin.role_changed')).toMatchObject({
        actorId: admin.userId,
        details: { from: 'user', to: 'support' },
      });
      // Secrets never reach the log.
      const text = JSON.stringify(events);
      for (const secretValue of [
        person.password,
        newPassword,
        secret,
        token,
        'sk-test-1234567890',
        backupCodes[1]!,
      ]) {
        expect(text).not.toContain(secretValue);
      }
    });

    it('records every admin change in any module as admin.action, and nothing for refused attempts', async () => {
      const admin = await createSignedInAccount(app(), { role: 'admin' });
      const person = await createSignedInAccount(app());
      const { walletId } = (await send(person, 'GET', '/api/billing/balance')).json();
      const grant = { kind: 'grant', amount: 500, reason: 'goodwill', idempotencyKey: `grant-${walletId}` };
      const url = `/api/admin/billing/wallets/${walletId}/entries`;
      expect((await send(person, 'POST', url, grant)).statusCode).toBe(403);
      expect((await send(admin, 'POST', url, { ...grant, amount: 0 })).statusCode).toBe(400);
      expect((await send(admin, 'POST', url, grant)).statusCode).toBe(200);
      expect(
        (await send(admin, 'PUT', '/api/admin/security-policy', { requireTwoFactorForStaff: false }))
          .statusCode,
      ).toBe(200);

      // admin.action is written once the answer is sent (an onResponse hook), so the last one may land a moment later.
      const adminActions = async () =>
        (await auditOf(admin.userId)).filter((event) => event.type === 'admin.action');
      await expect
        .poll(async () => (await adminActions()).map((event) => event.details.route))
        .toEqual(['/api/admin/security-policy', '/api/admin/billing/wallets/:walletId/entries']);
      const actions = await adminActions();
      expect(actions[1]).toMatchObject({
        actorId: admin.userId,
        ip,
        userAgent,
        details: { method: 'POST', params: { walletId }, status: 200 },
      });
      expect((await auditOf(person.userId)).some((event) => event.type === 'admin.action')).toBe(false);
    });

    it('filters the personal journal by type and dates, and pages it without losing or repeating events', async () => {
      const person = await createSignedInAccount(app());
      const start = new Date();
      // Thirty events written in one statement share one instant (as events of one transaction do): a page
      // boundary must not split them.
      await app()
        .db.insert(auditEvents)
        .values(
          Array.from({ length: 30 }, (_, index) => ({
            type: index % 3 === 0 ? 'password.changed' : 'session.revoked',
            userId: person.userId,
            details: { index },
          })),
        );
      const journal = (query: string) => send(person, 'GET', `/api/account/activity?${query}`);

      const passwordOnly = (await journal('types=password.changed&limit=200')).json().events;
      expect(passwordOnly).toHaveLength(10);
      const byPrefix = (await journal('types=session.,password.changed&limit=200')).json().events;
      expect(byPrefix).toHaveLength(30);
      const later = new Date(Date.now() + 60_000).toISOString();
      expect((await journal(`from=${encodeURIComponent(later)}`)).json().events).toEqual([]);
      const window = await journal(
        `from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(later)}&limit=200`,
      );
      expect(window.json().events).toHaveLength(30);

      const seen: number[] = [];
      let cursor = '';
      for (let page = 0; page < 10; page += 1) {
        const events = (await journal(`limit=4${cursor}`)).json().events as AuditEventView[];
        if (events.length === 0) break;
        seen.push(...events.map((event) => event.details.index as number));
        const last = events.at(-1)!;
        cursor = `&beforeId=${last.id}`;
      }
      expect(seen).toHaveLength(30);
      expect(new Set(seen).size).toBe(30);

      for (const bad of ['types=sign_in.%27%20OR%201=1', 'from=yesterday', 'limit=201', 'beforeId=42']) {
        expect((await journal(bad)).statusCode, bad).toBe(400);
      }
    });
  });
}
