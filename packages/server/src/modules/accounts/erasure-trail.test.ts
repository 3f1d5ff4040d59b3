import { randomUUID } from 'node:crypto';
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { verifyLedger } from '../billing/ledger.js';
import { queryRows } from '../billing/sql.js';
import { emailOutbox } from '../notifications/tables.js';
import { paymentEvents, paymentIntents } from '../payments/tables.js';
import { balanceOf, createPaymentsTestApp, makeAdmin } from '../payments/testing/harness.js';
import { eraseDueAccounts } from './privacy.js';
import { accountErasures, auditEvents } from './tables.js';
import {
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  toClient,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

for (const pair of backendPairs()) {
  describe(`erasure pseudonymises the person's audit trail on ${pair.name}`, () => {
    let harness: TestApp;
    const app = () => harness.app;

    beforeAll(async () => {
      harness = await createPaymentsTestApp(pair);
    });
    afterAll(async () => harness?.close());

    /** Every row of every table, as text, that contains one of `needles` (case-insensitive). */
    async function rowsHolding(needles: string[]) {
      const tables = await queryRows<{ schema: string; name: string }>(
        app().db,
        sql`select table_schema as schema, table_name as name from information_schema.tables
            where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
      );
      const found: string[] = [];
      for (const table of tables) {
        const rows = await queryRows<{ row: string }>(
          app().db,
          sql`select t::text as row from ${sql.identifier(table.schema)}.${sql.identifier(table.name)} t`,
        );
        for (const { row } of rows) {
          const lower = row.toLowerCase();
          if (needles.some((needle) => lower.includes(needle.toLowerCase())))
            found.push(`${table.name}: ${row}`);
        }
      }
      return found;
    }

    it('keeps every event and money record, without their addresses, IP, user agent or name anywhere', async () => {
      const name = 'Zelda Quillfeather';
      const firstEmail = uniqueEmail('zelda');
      const secondEmail = uniqueEmail('zelda-new');
      const password = 'a sturdy passphrase 42';
      const ip = randomIp();
      const userAgent = `ZeldaBrowser/7.3 (${randomIp()})`;
      /** A request from the person's device. */
      const fromThem = (options: InjectOptions, person?: SignedInClient) =>
        app().inject({
          ...options,
          remoteAddress: ip,
          headers: { 'user-agent': userAgent, ...person?.headers, ...options.headers },
        });

      // Signs up, confirms, fails once and signs in, changes address: each an event with their IP and user agent.
      expect(
        (
          await fromThem({
            method: 'POST',
            url: '/api/auth/sign-up',
            payload: { email: firstEmail, password, name },
          })
        ).statusCode,
      ).toBe(202);
      const verification = await waitForEmail(app(), { to: firstEmail, template: 'verify_email' });
      await fromThem({
        method: 'POST',
        url: '/api/auth/verify-email',
        payload: { token: tokenFromEmail(verification.text, '/verify-email') },
      });
      const signIn = (email: string, attempt: string) =>
        fromThem({
          method: 'POST',
          url: '/api/auth/sign-in',
          payload: { email, password: attempt, tokenDelivery: 'body' },
        });
      expect((await signIn(firstEmail, 'not the passphrase')).statusCode).toBe(401);
      let person = toClient(await signIn(firstEmail, password), firstEmail, password, ip);
      expect(
        (
          await fromThem(
            { method: 'POST', url: '/api/account/email', payload: { password, newEmail: secondEmail } },
            person,
          )
        ).statusCode,
      ).toBe(202);
      const change = await waitForEmail(app(), { to: secondEmail, template: 'change_email' });
      expect(
        (
          await fromThem({
            method: 'POST',
            url: '/api/auth/email-change/confirm',
            payload: { token: tokenFromEmail(change.text, '/confirm-email-change') },
          })
        ).statusCode,
      ).toBe(200);
      person = toClient(await signIn(secondEmail, password), secondEmail, password, ip);

      // They own an organisation and invite someone: the invitation waits in the outbox, naming them.
      const invitee = await signUpAndSignIn(app());
      const organization = await fromThem(
        { method: 'POST', url: '/api/organizations', payload: { name: 'Lighthouse Works' } },
        person,
      );
      expect(organization.statusCode, organization.body).toBe(201);
      const organizationId = organization.json().organization.id;
      // A second owner, so the organisation (and the invitation below) outlives them.
      const coOwner = await signUpAndSignIn(app());
      await fromThem(
        {
          method: 'POST',
          url: `/api/organizations/${organizationId}/invitations`,
          payload: { email: coOwner.email, role: 'owner' },
        },
        person,
      );
      const coOwnerMail = await waitForEmail(app(), {
        to: coOwner.email,
        template: 'organization_invitation',
      });
      const joined = await app().inject({
        method: 'POST',
        url: '/api/organizations/invitations/accept',
        headers: coOwner.headers,
        payload: { token: tokenFromEmail(coOwnerMail.text, '/organizations/accept') },
      });
      expect(joined.statusCode, joined.body).toBe(200);
      const invited = await fromThem(
        {
          method: 'POST',
          url: `/api/organizations/${organizationId}/invitations`,
          payload: { email: invitee.email },
        },
        person,
      );
      expect(invited.statusCode, invited.body).toBe(201);

      // Someone else's organisation invites them.
      const admin = await makeAdmin(app());
      const adminOrganization = await app().inject({
        method: 'POST',
        url: '/api/organizations',
        headers: admin.headers,
        remoteAddress: admin.ip,
        payload: { name: 'Harbour Office' },
      });
      const invitation = await app().inject({
        method: 'POST',
        url: `/api/organizations/${adminOrganization.json().organization.id}/invitations`,
        headers: admin.headers,
        remoteAddress: admin.ip,
        payload: { email: secondEmail },
      });
      expect(invitation.statusCode, invitation.body).toBe(201);

      // They buy credits by bank transfer; an admin confirms it and refunds part, naming them in the notes.
      const intent = await fromThem(
        {
          method: 'POST',
          url: '/api/payments/intents',
          payload: { packId: 'pro', currency: 'DZD', provider: 'bank_transfer' },
        },
        person,
      );
      expect(intent.statusCode, intent.body).toBe(201);
      const intentId = intent.json().id;
      const asAdmin = (url: string, payload: Record<string, unknown>) =>
        app().inject({ method: 'POST', url, headers: admin.headers, remoteAddress: admin.ip, payload });
      const confirmed = await asAdmin(`/api/admin/payments/intents/${intentId}/confirm-transfer`, {
        amount: 9000,
        currency: 'DZD',
        note: `seen on statement, from ${name} (${secondEmail})`,
      });
      expect(confirmed.statusCode, confirmed.body).toBe(200);
      const refunded = await asAdmin(`/api/admin/payments/intents/${intentId}/refund`, {
        amount: 1000,
        idempotencyKey: randomUUID(),
        reason: `refunded user ${name} <${secondEmail.toUpperCase()}> after a complaint`,
      });
      expect(refunded.statusCode, refunded.body).toBe(200);
      // An admin reads the emails sent to them (recorded with the address as the filter), and disables and enables them.
      const read = await app().inject({
        url: `/api/admin/outbox?to=${encodeURIComponent(secondEmail)}`,
        headers: admin.headers,
        remoteAddress: admin.ip,
      });
      expect(read.statusCode).toBe(200);

      // They ask for their account to be erased; the grace period passes and the sweep erases it.
      expect(
        (await fromThem({ method: 'POST', url: '/api/account/deletion', payload: { password } }, person))
          .statusCode,
      ).toBe(202);
      for (const status of ['disabled', 'active']) {
        const changed = await app().inject({
          method: 'PATCH',
          url: `/api/admin/users/${person.userId}/status`,
          headers: admin.headers,
          remoteAddress: admin.ip,
          payload: { status },
        });
        expect(changed.statusCode, changed.body).toBe(200);
      }

      const theirEvents = or(eq(auditEvents.userId, person.userId), eq(auditEvents.actorId, person.userId));
      const eventsBefore = await app().db.select().from(auditEvents).where(theirEvents);
      const byAdmin = eventsBefore.filter((event) => event.actorId === admin.userId);
      expect(eventsBefore.map((event) => event.type)).toEqual(
        expect.arrayContaining([
          'sign_up',
          'sign_in.failed',
          'sign_in.succeeded',
          'email.changed',
          'payment.started',
          'payment.transfer_confirmed',
          'payment.refunded',
          'account.deletion_scheduled',
          'admin.status_changed',
        ]),
      );
      const paymentEventsBefore = await app()
        .db.select()
        .from(paymentEvents)
        .where(eq(paymentEvents.intentId, intentId));
      const balanceBefore = await balanceOf(app(), person.userId);
      expect(balanceBefore).toBeGreaterThan(0);
      const theirs = [firstEmail, secondEmail, ip, userAgent, name];
      expect((await rowsHolding(theirs)).length).toBeGreaterThan(0);

      const sweep = () =>
        eraseDueAccounts(app().db, {
          dataDir: app().env.DATA_DIR,
          pubSub: harness.stores.pubSub,
          now: new Date(Date.now() + 400 * 86_400_000),
        });
      expect(await sweep()).toBeGreaterThanOrEqual(1);

      expect(await rowsHolding(theirs)).toEqual([]);

      // Every event is still there, of the same type, about the same account.
      const eventsAfter = await app()
        .db.select()
        .from(auditEvents)
        .where(
          inArray(
            auditEvents.id,
            eventsBefore.map((event) => event.id),
          ),
        );
      expect(eventsAfter.map((event) => [event.id, event.type, event.userId, event.actorId]).sort()).toEqual(
        eventsBefore.map((event) => [event.id, event.type, event.userId, event.actorId]).sort(),
      );
      // What the admin did keeps where the admin did it from; the notes name the account by its erased address.
      for (const event of byAdmin) {
        const after = eventsAfter.find((each) => each.id === event.id)!;
        expect([after.ip, after.userAgent]).toEqual([event.ip, event.userAgent]);
        expect(after.ip).toBe(admin.ip);
      }
      const refund = eventsAfter.find((event) => event.type === 'payment.refunded')!;
      expect(refund.details).toMatchObject({
        amount: 9000,
        currency: 'DZD',
        refundedTotal: 1000,
        reason: `refunded user [erased] <deleted-${person.userId}@deleted.invalid> after a complaint`,
      });
      const outboxRead = await app()
        .db.select()
        .from(auditEvents)
        .where(and(eq(auditEvents.type, 'admin.outbox_read'), eq(auditEvents.actorId, admin.userId)));
      expect(outboxRead[0]!.details).toMatchObject({
        filter: { to: `deleted-${person.userId}@deleted.invalid` },
      });

      // The money records are whole: every payment event, the same balance, a ledger that adds up.
      const paymentEventsAfter = await app()
        .db.select()
        .from(paymentEvents)
        .where(eq(paymentEvents.intentId, intentId));
      expect(paymentEventsAfter.map((event) => [event.id, event.type, event.toStatus])).toEqual(
        paymentEventsBefore.map((event) => [event.id, event.type, event.toStatus]),
      );
      const [paid] = await app().db.select().from(paymentIntents).where(eq(paymentIntents.id, intentId));
      expect(paid).toMatchObject({ status: 'partially_refunded', amount: 9000, refundedAmount: 1000 });
      expect(await balanceOf(app(), person.userId)).toBe(balanceBefore);
      expect(await verifyLedger(app().db)).toEqual([]);

      // The invitation they sent still works, in words that no longer name them.
      const [sent] = await app()
        .db.select()
        .from(emailOutbox)
        .where(
          and(eq(emailOutbox.recipient, invitee.email), eq(emailOutbox.template, 'organization_invitation')),
        );
      expect(sent!.text).toContain('An owner invites you to join the organisation “Lighthouse Works”');
      expect(sent!.html).toContain('An owner invites you to join the organisation “Lighthouse Works”');
      const accepted = await app().inject({
        method: 'POST',
        url: '/api/organizations/invitations/accept',
        headers: invitee.headers,
        payload: { token: tokenFromEmail(sent!.text, '/organizations/accept') },
      });
      expect(accepted.statusCode, accepted.body).toBe(200);

      // Done once: the sweep finds nothing left, and running it again changes nothing.
      expect(await app().db.select().from(accountErasures)).toEqual([]);
      const snapshot = await app().db.select().from(auditEvents).where(theirEvents);
      await sweep();
      expect(await app().db.select().from(auditEvents).where(theirEvents)).toEqual(snapshot);
    });
  });
}
