import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { auditEvents } from '../accounts/tables.js';
import {
  createSignedInAccount,
  randomIp,
  signUpAndSignIn,
  uniqueEmail,
  waitForEmail,
} from '../accounts/testing.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server in this process, keeping what it receives. */
async function startSmtpServer(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((recipient) => recipient.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function waitFor<T>(find: () => T | undefined | Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const pair of backendPairs()) {
  describe(`email over SMTP on ${pair.name}`, () => {
    let harness: TestApp;
    let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
    beforeAll(async () => {
      smtp = await startSmtpServer();
      harness = await createTestApp(pair, { SMTP_URL: smtp.url, MAIL_FROM: 'WeBox <hello@webox.test>' });
    });
    afterAll(async () => {
      await harness.close();
      await smtp.close();
    });

    it('delivers the verification email through SMTP in the chosen language, text and HTML', async () => {
      const email = uniqueEmail('smtp');
      const response = await harness.app.inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: '10.9.9.9',
        payload: { email, password: 'a sturdy passphrase 42', name: 'سارة', locale: 'ar' },
      });
      expect(response.statusCode).toBe(202);
      const message = await waitFor(() => smtp.received.find((entry) => entry.to.includes(email)));
      expect(message.from).toBe('hello@webox.test');
      expect(message.raw).toMatch(/Content-Type: text\/plain/i);
      expect(message.raw).toMatch(/Content-Type: text\/html/i);
      expect(message.raw).toContain('/verify-email?token=');
      const row = await waitForEmail(harness.app, { to: email, template: 'verify_email' });
      expect(row.subject).toBe('أكّد عنوان بريدك الإلكتروني');
      expect(row.html).toContain('dir="rtl"');
      const deadline = Date.now() + 5_000;
      let status = row.status;
      while (status !== 'sent' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = (await waitForEmail(harness.app, { to: email, template: 'verify_email' })).status;
      }
      expect(status).toBe('sent');
    });

    it('shows admins what was sent to whom, never the bodies and the live links in them', async () => {
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const person = await signUpAndSignIn(harness.app);
      const requested = await harness.app.inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: person.email },
      });
      expect(requested.statusCode).toBe(202);
      const stored = await waitForEmail(harness.app, { to: person.email, template: 'reset_password' });
      const token = stored.text.match(/reset-password\?token=([A-Za-z0-9_%-]+)/)![1]!;
      const listing = async () =>
        harness.app.inject({
          url: `/api/admin/outbox?to=${encodeURIComponent(person.email)}`,
          headers: admin.headers,
        });
      // Pending or delivered, the listing is the same: metadata only.
      const early = await listing();
      expect(early.statusCode).toBe(200);
      expect(early.body).not.toContain(token);
      const sent = await waitFor(async () => {
        const reset = (await listing())
          .json()
          .emails.find((email: { template: string }) => email.template === 'reset_password');
        return reset?.status === 'sent' ? reset : undefined;
      });
      expect(sent).toMatchObject({ to: person.email, subject: expect.any(String), text: null, html: null });
      const response = await listing();
      expect(response.json().smtp).toBe(true);
      expect(response.body).not.toContain(token);
      expect(response.body).not.toContain('token=');
      // Nothing secret was read, so nothing to record as an outbox read.
      expect(
        await harness.database.db
          .select()
          .from(auditEvents)
          .where(and(eq(auditEvents.type, 'admin.outbox_read'), eq(auditEvents.actorId, admin.userId))),
      ).toEqual([]);
    });

    it('escapes names in HTML so a script payload never runs in a mail client', async () => {
      const client = await signUpAndSignIn(harness.app, { name: '<script>alert(1)</script>' });
      const row = await waitForEmail(harness.app, { to: client.email, template: 'verify_email' });
      expect(row.html).not.toContain('<script>alert(1)</script>');
      expect(row.html).toContain('&lt;script&gt;');
      await waitFor(() => smtp.received.find((entry) => entry.to.includes(client.email)));
    });
  });
}
