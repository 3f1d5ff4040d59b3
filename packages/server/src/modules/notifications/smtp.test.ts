import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../db/client.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { useSmtpApp } from '../../testing/smtp-app.js';
import { auditEvents } from '../accounts/tables.js';
import { createSignedInAccount, randomIp, tokenFromEmail, uniqueEmail } from '../accounts/testing.js';
import { queryRows } from '../billing/sql.js';
import { BODY_RETENTION_MS, SENDING_LEASE_MS, sweepOutbox } from './service.js';
import { emailOutbox } from './tables.js';
import { outboxRow, partsOf, passwordChangedEmail, refuseStatusUpdates, sleep, waitFor } from './testing.js';

/** The newest email of `template` to `to`, once its delivery is over (sent or failed). */
async function delivered(db: Database, to: string, template: string) {
  return waitFor(async () => {
    const [row] = await db
      .select()
      .from(emailOutbox)
      .where(and(eq(emailOutbox.recipient, to), eq(emailOutbox.template, template)));
    return row && (row.status === 'sent' || row.status === 'failed') ? row : undefined;
  });
}

/** Every row of every table, as text: what a database dump or a backup would hold. */
async function everythingStored(db: Database): Promise<string> {
  const tables = await queryRows<{ schema: string; name: string }>(
    db,
    sql`select table_schema as schema, table_name as name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
  );
  expect(tables.map((table) => table.name)).toContain('email_outbox');
  const dumps: string[] = [];
  for (const table of tables) {
    const rows = await queryRows(db, sql.raw(`select * from "${table.schema}"."${table.name}"`));
    dumps.push(JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? String(value) : value)));
  }
  return dumps.join('\n');
}

for (const pair of backendPairs()) {
  describe(`email over SMTP on ${pair.name}`, () => {
    const mail = useSmtpApp(pair);

    it('delivers the verification email through SMTP in the chosen language, text and HTML', async () => {
      const email = uniqueEmail('smtp');
      const response = await mail.app.inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: '10.9.9.9',
        payload: { email, password: 'a sturdy passphrase 42', name: 'سارة', locale: 'ar' },
      });
      expect(response.statusCode).toBe(202);
      const message = await waitFor(() => mail.smtp.to(email)[0]);
      expect(message.from).toBe('hello@webox.test');
      const parts = partsOf(message.raw);
      expect(parts['text/plain']).toContain('/verify-email?token=');
      expect(parts['text/html']).toContain('dir="rtl"');
      const row = await delivered(mail.db, email, 'verify_email');
      expect(row).toMatchObject({ status: 'sent', subject: 'أكّد عنوان بريدك الإلكتروني', attempts: 1 });
    });

    it('clears a delivered email’s body: the reset link is nowhere in the database, the admin view unchanged', async () => {
      const admin = await createSignedInAccount(mail.app, { role: 'admin' });
      const person = await createSignedInAccount(mail.app);
      const requested = await mail.app.inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: person.email },
      });
      expect(requested.statusCode).toBe(202);
      const message = await waitFor(() => mail.smtp.to(person.email)[0]);
      const token = tokenFromEmail(partsOf(message.raw)['text/plain']!, '/reset-password');
      const row = await delivered(mail.db, person.email, 'reset_password');
      expect(row).toMatchObject({ status: 'sent', text: null, html: null, template: 'reset_password' });

      const stored = await everythingStored(mail.db);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(encodeURIComponent(token));

      // What admins see stays: to whom, what, when, how delivery went; never a body.
      const listing = await mail.app.inject({
        url: `/api/admin/outbox?to=${encodeURIComponent(person.email)}`,
        headers: admin.headers,
      });
      expect(listing.statusCode).toBe(200);
      expect(listing.json()).toMatchObject({
        smtp: true,
        emails: [
          {
            id: row.id,
            to: person.email,
            subject: row.subject,
            template: 'reset_password',
            status: 'sent',
            attempts: 1,
            text: null,
            html: null,
            createdAt: row.createdAt.toISOString(),
            sentAt: row.sentAt!.toISOString(),
          },
        ],
      });
      // Nothing secret was read, so nothing to record as an outbox read.
      expect(
        await mail.harness.database.db
          .select()
          .from(auditEvents)
          .where(and(eq(auditEvents.type, 'admin.outbox_read'), eq(auditEvents.actorId, admin.userId))),
      ).toEqual([]);
    });

    it('escapes names in HTML so a script payload never runs in a mail client', async () => {
      const email = uniqueEmail('script');
      await mail.app.inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: randomIp(),
        payload: { email, password: 'a sturdy passphrase 42', name: '<script>alert(1)</script>' },
      });
      const html = partsOf((await waitFor(() => mail.smtp.to(email)[0])).raw)['text/html']!;
      expect(html).not.toContain('<script>alert(1)</script>');
      expect(html).toContain('&lt;script&gt;');
    });

    it('sends once when the database fails to record the send (the job is not retried into a second copy)', async () => {
      const to = uniqueEmail('hiccup');
      await refuseStatusUpdates(mail.db, to, 'sent', 1);
      const id = await mail.app.mailer.send(passwordChangedEmail(to));
      const row = await waitFor(async () => {
        const current = await outboxRow(mail.db, id);
        return current.status === 'sent' ? current : undefined;
      }, 10_000);
      // Longer than the job queues' first backoff (1 s in memory, 50 ms on BullMQ): a retry would have sent by now.
      await sleep(1_500);
      expect(mail.smtp.to(to)).toHaveLength(1);
      expect(row).toMatchObject({ attempts: 1, error: null, text: null, html: null });
    });

    it('never sends again once the SMTP server took it, even when recording that keeps failing', async () => {
      const to = uniqueEmail('down');
      await refuseStatusUpdates(mail.db, to, 'sent', 1_000);
      const mailer = mail.mailer({ recordRetryDelaysMs: [10, 10] });
      const id = await mailer.send(passwordChangedEmail(to));
      // The send succeeded, so this try succeeds: nothing for the job queue to retry.
      await expect(mailer.deliver(id)).resolves.toBeUndefined();
      // A retry anyway (another process, a stalled job run again) finds the claim and leaves it.
      await mailer.deliver(id);
      await mail.mailer().deliver(id);
      expect(mail.smtp.to(to)).toHaveLength(1);
      expect(await outboxRow(mail.db, id)).toMatchObject({ status: 'sending', attempts: 1 });

      // A claim within its lease is left alone; past it, the row is marked for what it is and loses its body.
      const claimedAt = (await outboxRow(mail.db, id)).claimedAt!;
      await sweepOutbox(mail.db, { now: new Date(claimedAt.getTime() + SENDING_LEASE_MS - 1_000) });
      expect((await outboxRow(mail.db, id)).status).toBe('sending');
      await sweepOutbox(mail.db, { now: new Date(claimedAt.getTime() + SENDING_LEASE_MS + 1_000) });
      expect(await outboxRow(mail.db, id)).toMatchObject({
        status: 'interrupted',
        error: expect.stringContaining('not sent again'),
        text: null,
        html: null,
      });
      await mailer.deliver(id);
      expect(mail.smtp.to(to)).toHaveLength(1);
    });

    it('sends an email once when two workers deliver it at the same moment', async () => {
      const first = mail.mailer();
      const second = mail.mailer();
      const recipients = Array.from({ length: 5 }, () => uniqueEmail('race'));
      for (const to of recipients) {
        const id = await first.send(passwordChangedEmail(to));
        await Promise.all([first.deliver(id), second.deliver(id), first.deliver(id), second.deliver(id)]);
        expect(await outboxRow(mail.db, id)).toMatchObject({ status: 'sent', attempts: 1 });
      }
      await sleep(100);
      expect(recipients.map((to) => mail.smtp.to(to).length)).toEqual([1, 1, 1, 1, 1]);
    });

    it('retries a refused send, and the last refusal leaves no body behind', async () => {
      const to = uniqueEmail('refused');
      // Nothing listens there: the connection is refused.
      const mailer = mail.mailer({ smtpUrl: 'smtp://127.0.0.1:9' });
      const id = await mailer.send(passwordChangedEmail(to));
      for (let attempt = 1; attempt <= 4; attempt++) {
        await expect(mailer.deliver(id)).rejects.toThrow();
        expect(await outboxRow(mail.db, id)).toMatchObject({ status: 'failed', attempts: attempt });
        expect((await outboxRow(mail.db, id)).text).toContain('password');
      }
      await expect(mailer.deliver(id)).rejects.toThrow();
      expect(await outboxRow(mail.db, id)).toMatchObject({
        status: 'failed',
        attempts: 5,
        text: null,
        html: null,
      });
      // Nothing left to send from.
      await expect(mailer.deliver(id)).resolves.toBeUndefined();
    });

    it('clears any body past the retention, keeping the row', async () => {
      const to = uniqueEmail('old');
      const id = await mail.mailer().send(passwordChangedEmail(to));
      const createdAt = (await outboxRow(mail.db, id)).createdAt.getTime();
      await sweepOutbox(mail.db, { now: new Date(createdAt + BODY_RETENTION_MS - 60_000) });
      expect((await outboxRow(mail.db, id)).text).not.toBeNull();
      await sweepOutbox(mail.db, {
        now: new Date(createdAt + BODY_RETENTION_MS + 60_000),
        batchSize: 2,
      });
      expect(await outboxRow(mail.db, id)).toMatchObject({
        recipient: to,
        template: 'password_changed',
        text: null,
        html: null,
      });
    });
  });
}
