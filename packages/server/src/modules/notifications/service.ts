import { and, asc, desc, eq, gt, inArray, isNotNull, lt, or, type SQL, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../../db/client.js';
import {
  type MailLocale,
  type MailTemplateName,
  type MailTemplates,
  renderEmail,
  withoutInviter,
} from '../../mail/templates.js';
import type { MailTransport } from '../../mail/transport.js';
import type { JobQueue } from '../../stores/index.js';
import { type EmailStatus, emailOutbox } from './tables.js';

export const SEND_EMAIL_JOB = 'notifications.send-email';
export const SWEEP_OUTBOX_JOB = 'notifications.sweep-outbox';

/** Tries per email, the first included. */
export const DELIVERY_ATTEMPTS = 5;

/**
 * How long a claim may stay `sending` before the sweep calls it interrupted. A send is bounded by the SMTP transport's
 * timeouts (`mail/transport.ts`: about two minutes at worst), so a claim this old belongs to a process that died.
 */
export const SENDING_LEASE_MS = 10 * 60_000;

/** Bodies older than this are cleared, in both modes: the longest-lived link in one (an invitation) dies in 7 days. */
export const BODY_RETENTION_MS = 14 * 24 * 3_600_000;

/**
 * How old a `queued` row (or a `failed` one waiting for its retry) must be before the sweep calls its job lost and
 * enqueues another: the normal path writes the row and then enqueues at once, and its retries wait 8 s at most, so past
 * this a row still waiting lost its job with the process that held it (the in-process queue keeps nothing across a
 * restart). A second job is harmless anyway: the claim lets one try send.
 */
export const REQUEUE_GRACE_MS = 60_000;

/** Waits between tries of the write that records how a send went (a database hiccup should not cost an email). */
const RECORD_RETRY_DELAYS_MS = [100, 1_000, 5_000];

const noBody = { text: null, html: null } as const;

export interface SendEmailOptions<Name extends MailTemplateName> {
  to: string;
  template: Name;
  locale: MailLocale;
  data: MailTemplates[Name];
}

/**
 * Writes emails to the outbox and, with SMTP configured, delivers them in the background with retries, each email
 * at most once: a try first claims the row (`queued`/`failed` → `sending`, one worker wins), and once the SMTP server
 * took the message nothing sends it again, even when recording that fails. A claim a crash left behind is not retried
 * (`sweepOutbox` marks it `interrupted`): it may have gone out, and every email here can be asked for again (a new
 * link, the receipt's PDF) while a second copy cannot be taken back.
 */
export class Mailer {
  readonly #recordRetryDelaysMs: readonly number[];

  constructor(
    private readonly options: {
      db: Database;
      jobs: JobQueue;
      from: string;
      transport?: MailTransport | undefined;
      log?: FastifyBaseLogger;
      /** Waits between tries of the status write after a send (default 100 ms, 1 s, 5 s). */
      recordRetryDelaysMs?: readonly number[];
    },
  ) {
    this.#recordRetryDelaysMs = options.recordRetryDelaysMs ?? RECORD_RETRY_DELAYS_MS;
  }

  get delivers(): boolean {
    return Boolean(this.options.transport);
  }

  /** Registers the delivery job; call once at start. */
  registerWorker(): void {
    this.options.jobs.register<{ id: string }>(SEND_EMAIL_JOB, async ({ id }) => this.deliver(id));
  }

  /**
   * Enqueues a delivery job again for every email still waiting (`queued`, or `failed` with tries left) longer than
   * the grace: a job held in memory by a process that stopped is gone, and without this the email never leaves. The
   * job id is the one `send` uses, so a queue that still holds the job waiting, delayed or running (BullMQ, this
   * process's) adds nothing, and when two jobs do run (another process, the job found late) the claim lets one send.
   * A job the queue holds as finished (failed for good, say when the database refused every claim, or done while
   * another try held the row) is replaced: the row is what says tries are left. Returns how many rows it found.
   */
  async requeueStranded(options: { now?: Date; batchSize?: number } = {}): Promise<number> {
    if (!this.options.transport) return 0;
    const cutoff = new Date((options.now ?? new Date()).getTime() - REQUEUE_GRACE_MS);
    const batchSize = options.batchSize ?? 1_000;
    const waiting = and(
      inArray(emailOutbox.status, ['queued', 'failed']),
      isNotNull(emailOutbox.text),
      isNotNull(emailOutbox.html),
      or(
        and(eq(emailOutbox.status, 'queued'), lt(emailOutbox.createdAt, cutoff)),
        and(
          eq(emailOutbox.status, 'failed'),
          lt(emailOutbox.attempts, DELIVERY_ATTEMPTS),
          lt(emailOutbox.claimedAt, cutoff),
        ),
      ),
    );
    let requeued = 0;
    // Paged by id: the rows stay waiting until their jobs run, so "the next batch" cannot be "what is still left".
    let after: string | undefined;
    for (;;) {
      const rows = await this.options.db
        .select({ id: emailOutbox.id, attempts: emailOutbox.attempts })
        .from(emailOutbox)
        .where(after ? and(waiting, gt(emailOutbox.id, after)) : waiting)
        .orderBy(asc(emailOutbox.id))
        .limit(batchSize);
      for (const row of rows)
        await this.#enqueueDelivery(row.id, Math.max(DELIVERY_ATTEMPTS - row.attempts, 1), {
          rerunFinished: true,
        });
      requeued += rows.length;
      if (rows.length < batchSize) return requeued;
      after = rows.at(-1)!.id;
    }
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
    if (this.options.transport) await this.#enqueueDelivery(row!.id, DELIVERY_ATTEMPTS);
    return row!.id;
  }

  /** One job id per email (`send` and `requeueStranded` alike): a queue that still holds the job adds no other. */
  async #enqueueDelivery(id: string, attempts: number, options: { rerunFinished?: boolean } = {}) {
    await this.options.jobs.enqueue(SEND_EMAIL_JOB, { id }, { jobId: `email-${id}`, attempts, ...options });
  }

  /**
   * One try at sending the email `id`. Does nothing when another try holds it or it needs no try (sent, interrupted,
   * unknown). Throws only when the SMTP server refused or never answered, so the job tries again later.
   */
  async deliver(id: string): Promise<void> {
    const transport = this.options.transport;
    if (!transport) return;
    const [row] = await this.options.db
      .update(emailOutbox)
      .set({ status: 'sending', attempts: sql`${emailOutbox.attempts} + 1`, claimedAt: new Date() })
      .where(
        and(
          eq(emailOutbox.id, id),
          inArray(emailOutbox.status, ['queued', 'failed']),
          isNotNull(emailOutbox.text),
          isNotNull(emailOutbox.html),
        ),
      )
      .returning();
    if (!row?.text || !row.html) return;
    try {
      await transport.send({
        from: this.options.from,
        to: row.recipient,
        subject: row.subject,
        text: row.text,
        html: row.html,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 500) : 'delivery failed';
      // The last try leaves nothing that will read the body again.
      const last = row.attempts >= DELIVERY_ATTEMPTS;
      this.options.log?.warn({ emailId: id, attempt: row.attempts, last }, 'email delivery failed');
      await this.#record(id, { status: 'failed', error: message, ...(last ? noBody : {}) });
      throw error;
    }
    // The message is out: from here on, a failure must not become a retry that sends it again.
    await this.#record(id, { status: 'sent', sentAt: new Date(), error: null, ...noBody });
  }

  /**
   * Ends the claim on `id`, trying the write a few times. When it still fails the row stays `sending` (the sweep will
   * call it interrupted, never send it again) and this resolves anyway: what happens next must not depend on it.
   */
  async #record(
    id: string,
    set: { status: 'sent' | 'failed'; error: string | null; sentAt?: Date; text?: null; html?: null },
  ): Promise<void> {
    // A sent email overrides `interrupted`, should the sweep have come first: it is the truth.
    const from: EmailStatus[] = set.status === 'sent' ? ['sending', 'interrupted'] : ['sending'];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.db
          .update(emailOutbox)
          .set(set)
          .where(and(eq(emailOutbox.id, id), inArray(emailOutbox.status, from)));
        return;
      } catch (error) {
        const delay = this.#recordRetryDelaysMs[attempt];
        if (delay === undefined) {
          this.options.log?.error(
            { err: error, emailId: id, status: set.status },
            'could not record how an email delivery went; it stays sending and will not be sent again',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/**
 * Outbox upkeep, run by a periodic job: claims older than the lease become `interrupted` (their process died during
 * the send; it may have gone out, so it is never sent again) and lose their bodies, and bodies older than the
 * retention are cleared whatever the status, the rows kept for the admin view. Rows are changed in batches.
 */
export async function sweepOutbox(
  db: Database,
  options: { now?: Date; batchSize?: number } = {},
): Promise<{ interrupted: number; cleared: number }> {
  const now = options.now ?? new Date();
  const batchSize = options.batchSize ?? 1_000;
  const interrupted = await inBatches(db, batchSize, {
    where: and(
      eq(emailOutbox.status, 'sending'),
      lt(emailOutbox.claimedAt, new Date(now.getTime() - SENDING_LEASE_MS)),
    )!,
    set: {
      status: 'interrupted',
      error: 'interrupted during the send: it may have been delivered, so it is not sent again',
      ...noBody,
    },
  });
  const cleared = await inBatches(db, batchSize, {
    where: and(
      isNotNull(emailOutbox.text),
      lt(emailOutbox.createdAt, new Date(now.getTime() - BODY_RETENTION_MS)),
    )!,
    set: noBody,
  });
  return { interrupted, cleared };
}

async function inBatches(
  db: Database,
  batchSize: number,
  change: { where: SQL; set: Partial<typeof emailOutbox.$inferInsert> },
): Promise<number> {
  let total = 0;
  for (;;) {
    const batch = db.select({ id: emailOutbox.id }).from(emailOutbox).where(change.where).limit(batchSize);
    const rows = await db
      .update(emailOutbox)
      .set(change.set)
      .where(and(inArray(emailOutbox.id, batch), change.where))
      .returning({ id: emailOutbox.id });
    total += rows.length;
    if (rows.length < batchSize) return total;
  }
}

/**
 * Deletes every email addressed to these addresses, body and row, whatever its status: erasure calls it (in its
 * transaction) with the addresses of the person it erases. Nothing else references an outbox row, so nothing needs
 * an anonymised one kept. A queued one is then never sent: its claim finds no row and its job ends without an error;
 * one in the middle of its send goes out (the SMTP server has it already) and its record finds nothing to update.
 */
export async function forgetRecipients(db: Database, addresses: readonly string[]): Promise<number> {
  if (addresses.length === 0) return 0;
  const rows = await db
    .delete(emailOutbox)
    .where(inArray(emailOutbox.recipient, [...new Set(addresses)]))
    .returning({ id: emailOutbox.id });
  return rows.length;
}

/**
 * Rewords the organisation invitations still waiting with their body (queued, retrying, or stored without SMTP) that
 * name one of `inviters` as the person inviting: erasure calls it, in its transaction, with the erased person's name
 * and addresses. The invitation is the organisation's and stays valid, and its email is the only copy of its link, so
 * the email is kept and says "An owner" instead (`withoutInviter`); dropping it would silently withdraw an invitation
 * the other owners still stand by. Sent emails kept no body, and no subject names the inviter. Returns how many
 * emails changed.
 */
export async function forgetInviter(db: Database, inviters: readonly string[]): Promise<number> {
  const names = [...new Set(inviters.filter((inviter) => inviter.length > 0))];
  if (names.length === 0) return 0;
  const rows = await db
    .select({
      id: emailOutbox.id,
      locale: emailOutbox.locale,
      text: emailOutbox.text,
      html: emailOutbox.html,
    })
    .from(emailOutbox)
    .where(
      and(
        eq(emailOutbox.template, 'organization_invitation'),
        isNotNull(emailOutbox.text),
        or(...names.map((name) => sql`${emailOutbox.text} ilike ${`%${name.replace(/[\\%_]/g, '\\$&')}%`}`)),
      ),
    );
  let changed = 0;
  for (const row of rows) {
    let body = { text: row.text!, html: row.html };
    for (const name of names) body = withoutInviter(row.locale as MailLocale, body, name) ?? body;
    if (body.text === row.text && body.html === row.html) continue;
    await db.update(emailOutbox).set(body).where(eq(emailOutbox.id, row.id));
    changed += 1;
  }
  return changed;
}

export interface OutboxEntry {
  id: string;
  to: string;
  subject: string;
  /**
   * Null unless the listing was asked for bodies (they hold live verification, reset and invitation links), and once
   * cleared (delivered by SMTP, or past the retention).
   */
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
