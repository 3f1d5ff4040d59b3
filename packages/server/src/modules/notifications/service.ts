import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/client.js';
import {
  type MailLocale,
  type MailTemplateName,
  type MailTemplates,
  renderEmail,
} from '../../mail/templates.js';
import type { MailTransport } from '../../mail/transport.js';
import type { JobQueue } from '../../stores/index.js';
import { type EmailStatus, emailOutbox } from './tables.js';

export const SEND_EMAIL_JOB = 'notifications.send-email';

export interface SendEmailOptions<Name extends MailTemplateName> {
  to: string;
  template: Name;
  locale: MailLocale;
  data: MailTemplates[Name];
}

/** Writes emails to the outbox and, with SMTP configured, delivers them in the background with retries. */
export class Mailer {
  constructor(
    private readonly options: {
      db: Database;
      jobs: JobQueue;
      from: string;
      transport?: MailTransport | undefined;
      log?: FastifyBaseLogger;
    },
  ) {}

  get delivers(): boolean {
    return Boolean(this.options.transport);
  }

  /** Registers the delivery job; call once at start. */
  registerWorker(): void {
    this.options.jobs.register<{ id: string }>(SEND_EMAIL_JOB, async ({ id }, context) => {
      await this.deliver(id, context.attempt);
    });
  }

  async send<Name extends MailTemplateName>(options: SendEmailOptions<Name>): Promise<string> {
    const rendered = renderEmail(options.template, options.locale, options.data);
    const [row] = await this.options.db
      .insert(emailOutbox)
      .values({
        recipient: options.to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        template: options.template,
        locale: options.locale,
        status: this.options.transport ? 'queued' : 'stored',
      })
      .returning({ id: emailOutbox.id });
    if (this.options.transport) {
      await this.options.jobs.enqueue(
        SEND_EMAIL_JOB,
        { id: row!.id },
        { jobId: `email-${row!.id}`, attempts: 5 },
      );
    }
    return row!.id;
  }

  async deliver(id: string, attempt = 1): Promise<void> {
    const transport = this.options.transport;
    if (!transport) return;
    const [row] = await this.options.db.select().from(emailOutbox).where(eq(emailOutbox.id, id)).limit(1);
    if (!row || row.status === 'sent') return;
    try {
      await transport.send({
        from: this.options.from,
        to: row.recipient,
        subject: row.subject,
        text: row.text,
        html: row.html,
      });
      await this.options.db
        .update(emailOutbox)
        .set({ status: 'sent', sentAt: new Date(), attempts: attempt, error: null })
        .where(eq(emailOutbox.id, id));
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 500) : 'delivery failed';
      await this.options.db
        .update(emailOutbox)
        .set({ status: 'failed', attempts: attempt, error: message })
        .where(eq(emailOutbox.id, id));
      this.options.log?.warn({ emailId: id, attempt }, 'email delivery failed');
      throw error;
    }
  }
}

export interface OutboxEntry {
  id: string;
  to: string;
  subject: string;
  /** Null unless the listing was asked for bodies (they hold live verification, reset and invitation links). */
  text: string | null;
  html: string | null;
  template: string;
  locale: string;
  status: EmailStatus;
  attempts: number;
  error: string | null;
  createdAt: string;
  sentAt: string | null;
}

/** Newest first; `before` pages back in time. Bodies only with `bodies: true`, metadata otherwise. */
export async function listOutbox(
  db: Database,
  options: { to?: string; status?: EmailStatus; before?: Date; limit?: number; bodies?: boolean } = {},
): Promise<OutboxEntry[]> {
  const conditions: SQL[] = [];
  if (options.to) conditions.push(eq(emailOutbox.recipient, options.to.trim().toLowerCase()));
  if (options.status) conditions.push(eq(emailOutbox.status, options.status));
  if (options.before) conditions.push(lt(emailOutbox.createdAt, options.before));
  const rows = await db
    .select()
    .from(emailOutbox)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(emailOutbox.createdAt))
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 200));
  return rows.map((row) => ({
    id: row.id,
    to: row.recipient,
    subject: row.subject,
    text: options.bodies ? row.text : null,
    html: options.bodies ? row.html : null,
    template: row.template,
    locale: row.locale,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    sentAt: row.sentAt?.toISOString() ?? null,
  }));
}
