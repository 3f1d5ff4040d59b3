import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * `queued` → `sending` (claimed by one worker) → `sent`, or `failed` (claimed again by the next try). A claim older
 * than the lease becomes `interrupted`: it may have been delivered, so it is never sent again. `stored`: no SMTP.
 */
export const emailStatuses = ['queued', 'sending', 'sent', 'failed', 'interrupted', 'stored'] as const;
export type EmailStatus = (typeof emailStatuses)[number];

/**
 * Every email the platform writes. With SMTP it records delivery, and the bodies (with their live verification, reset
 * and invitation links) are cleared once they are out of our hands (sent, interrupted, out of tries); without SMTP
 * the message stays here as `stored`, readable by admins, so a laptop install still shows its links. Any body is
 * cleared once its links are long dead (`sweepOutbox`).
 */
export const emailOutbox = pgTable(
  'email_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    /** Null once cleared. */
    text: text('text'),
    /** Null once cleared. */
    html: text('html'),
    template: text('template').notNull(),
    locale: text('locale').notNull(),
    status: text('status', { enum: emailStatuses }).notNull().default('queued'),
    /** Sends tried: each claim counts one. */
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When the last try claimed the row (status `sending` until it ends). */
    claimedAt: timestamp('claimed_at', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (table) => [
    index('email_outbox_created_idx').on(table.createdAt),
    // What the sweep looks for, kept small: claims in flight, and rows that still hold a body.
    index('email_outbox_sending_idx').on(table.claimedAt).where(sql`${table.status} = 'sending'`),
    index('email_outbox_bodies_idx').on(table.createdAt).where(sql`${table.text} is not null`),
    // Rows that wait for a try, which the sweep enqueues again when their job was lost with its process.
    index('email_outbox_waiting_idx').on(table.createdAt).where(sql`${table.status} in ('queued', 'failed')`),
    // Erasure deletes a person's emails by address; the admin view filters by it.
    index('email_outbox_recipient_idx').on(table.recipient),
  ],
);
