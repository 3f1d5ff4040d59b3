import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const emailStatuses = ['queued', 'sent', 'failed', 'stored'] as const;
export type EmailStatus = (typeof emailStatuses)[number];

/**
 * Every email the platform writes. With SMTP it records delivery (`sent`/`failed`); without SMTP the message stays
 * here as `stored`, readable by admins, so a laptop install still shows its verification and reset links.
 */
export const emailOutbox = pgTable(
  'email_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html').notNull(),
    template: text('template').notNull(),
    locale: text('locale').notNull(),
    status: text('status', { enum: emailStatuses }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (table) => [index('email_outbox_created_idx').on(table.createdAt)],
);
