import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import type { Database } from '../../db/client.js';
import { emailOutbox } from './tables.js';

export interface ReceivedEmail {
  from: string;
  to: string[];
  raw: string;
}

export interface TestSmtpServer {
  url: string;
  received: ReceivedEmail[];
  /** What reached `recipient`, each delivery once. */
  to(recipient: string): ReceivedEmail[];
  close(): Promise<void>;
}

/** A real SMTP server in this process, keeping what it receives. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedEmail[] = [];
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
    to: (recipient) => received.filter((email) => email.to.includes(recipient)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The decoded parts of a MIME message by content type (7bit, quoted-printable or base64, as nodemailer writes). */
export function partsOf(raw: string): Record<string, string> {
  const boundary = /boundary="([^"]+)"/.exec(raw)?.[1];
  if (!boundary) throw new Error('not a multipart message');
  const parts: Record<string, string> = {};
  for (const part of raw.split(`--${boundary}`).slice(1, -1)) {
    const [head = '', ...body] = part.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
    const type = /content-type:\s*([^;\s]+)/i.exec(head)?.[1]?.toLowerCase() ?? 'text/plain';
    const encoding = /content-transfer-encoding:\s*(\S+)/i.exec(head)?.[1]?.toLowerCase() ?? '7bit';
    const content = body.join('\n\n').replace(/\r?\n$/, '');
    parts[type] =
      encoding === 'base64'
        ? Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8')
        : encoding === 'quoted-printable'
          ? Buffer.from(
              content
                .replace(/=\r?\n/g, '')
                .replace(/=([0-9A-F]{2})/gi, (_match, hex: string) =>
                  String.fromCharCode(Number.parseInt(hex, 16)),
                ),
              'latin1',
            ).toString('utf8')
          : content;
  }
  return parts;
}

/**
 * Makes the database refuse to move emails to `recipient` to `status`, the first `times` times (a trigger with a
 * sequence, which a rolled-back statement does not roll back): the database hiccup that follows a send the SMTP server
 * took (`sent`), or one that makes a try fail before it could claim the email (`sending`).
 */
export async function refuseStatusUpdates(
  db: Database,
  recipient: string,
  status: 'sending' | 'sent',
  times: number,
): Promise<void> {
  const name = `refuse_${status}_${Math.random().toString(36).slice(2, 10)}`;
  const address = recipient.replaceAll("'", "''");
  await db.execute(sql.raw(`create sequence ${name}`));
  await db.execute(
    sql.raw(`create function ${name}() returns trigger language plpgsql as $$
      begin
        if nextval('${name}') <= ${Math.trunc(times)} then raise exception 'database hiccup'; end if;
        return new;
      end $$`),
  );
  await db.execute(
    sql.raw(`create trigger ${name} before update on email_outbox for each row
      when (new.status = '${status}' and new.recipient = '${address}') execute function ${name}()`),
  );
}

/** Polls `find` every 20 ms until it gives something (a mail on its way, a row's next status), for up to `timeoutMs`. */
export async function waitFor<T>(
  find: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What `Mailer.send` takes for a plain email to `to`, one with no link in it. */
export const passwordChangedEmail = (to: string) =>
  ({ to, template: 'password_changed', locale: 'en', data: { name: 'Test Person' } }) as const;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function outboxRow(db: Database, id: string) {
  const [row] = await db.select().from(emailOutbox).where(eq(emailOutbox.id, id));
  return row!;
}
