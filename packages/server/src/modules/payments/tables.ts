import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const paymentProviders = ['chargily', 'stripe', 'paypal', 'bank_transfer'] as const;
export type PaymentProvider = (typeof paymentProviders)[number];

export const paymentStatuses = [
  'created',
  'pending',
  'paid',
  'failed',
  'canceled',
  'expired',
  'partially_refunded',
  'refunded',
] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];

/** What a payment buys. Only credit packs today; orders and subscriptions reuse the same intents later. */
export const paymentPurposes = ['credit_pack'] as const;
export type PaymentPurpose = (typeof paymentPurposes)[number];

/**
 * One attempt to collect money for a purpose. `amount` is in minor units of `currency` (cents for EUR/USD, whole
 * dinars for DZD, as Chargily counts them). `credits` is what a paid intent adds to the wallet, fixed at creation so a
 * later price change never alters a payment in flight.
 */
export const paymentIntents = pgTable(
  'payment_intents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull(),
    walletId: uuid('wallet_id').notNull(),
    purpose: text('purpose', { enum: paymentPurposes }).notNull(),
    /** The pack id (or, later, the order or subscription id). */
    purposeRef: text('purpose_ref').notNull(),
    credits: bigint('credits', { mode: 'number' }).notNull(),
    provider: text('provider', { enum: paymentProviders }).notNull(),
    currency: text('currency').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    status: text('status', { enum: paymentStatuses }).notNull().default('created'),
    /** The provider's checkout / session / order id. */
    providerRef: text('provider_ref'),
    /** The provider's id of the captured money (Stripe payment_intent, PayPal capture), used for refunds. */
    providerPaymentId: text('provider_payment_id'),
    checkoutUrl: text('checkout_url'),
    /** Bank transfers only: what the buyer writes on the transfer. */
    bankReference: text('bank_reference'),
    locale: text('locale').notNull().default('en'),
    /** Refunded through refunds (an admin's, or the provider's cumulative total); chargebacks are not in it. */
    refundedAmount: bigint('refunded_amount', { mode: 'number' }).notNull().default(0),
    /**
     * Taken back by lost disputes and reversals. Kept apart from `refundedAmount` because refund events carry the
     * refunds' cumulative total only: compared with a sum that held chargebacks too, a refund after one was lost.
     */
    chargedBackAmount: bigint('charged_back_amount', { mode: 'number' }).notNull().default(0),
    creditsReversed: bigint('credits_reversed', { mode: 'number' }).notNull().default(0),
    failureReason: text('failure_reason'),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('payment_intents_user_idx').on(table.userId, table.createdAt),
    uniqueIndex('payment_intents_provider_ref_idx')
      .on(table.provider, table.providerRef)
      .where(sql`${table.providerRef} is not null`),
    uniqueIndex('payment_intents_bank_reference_idx')
      .on(table.bankReference)
      .where(sql`${table.bankReference} is not null`),
    check('payment_intents_amount_check', sql`${table.amount} > 0 and ${table.credits} > 0`),
    check(
      'payment_intents_refund_check',
      sql`${table.refundedAmount} >= 0 and ${table.chargedBackAmount} >= 0 and ${table.refundedAmount} + ${table.chargedBackAmount} <= ${table.amount}`,
    ),
  ],
);

/**
 * Every change of an intent with its cause, and every provider event received (even ignored ones, even for unknown
 * intents). The unique (provider, provider_event_id) is what makes a replayed or duplicated webhook a no-op.
 */
export const paymentEvents = pgTable(
  'payment_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    intentId: uuid('intent_id'),
    provider: text('provider', { enum: paymentProviders }),
    providerEventId: text('provider_event_id'),
    /** e.g. `status_changed`, `webhook_ignored`, `refund`, `proof_uploaded`. */
    type: text('type').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    /** Who or what caused it: `buyer`, `webhook`, `return`, `admin`, `system`. */
    cause: text('cause').notNull(),
    actorId: uuid('actor_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    /** The key an admin refund was sent with (`refund_requested` events): a resubmission of it refunds nothing more. */
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('payment_events_intent_idx').on(table.intentId, table.id),
    uniqueIndex('payment_events_idempotency_idx')
      .on(table.intentId, table.idempotencyKey)
      .where(sql`${table.idempotencyKey} is not null`),
    uniqueIndex('payment_events_provider_event_idx')
      .on(table.provider, table.providerEventId)
      .where(sql`${table.providerEventId} is not null`),
  ],
);

/** Receipt numbers: one counter row per year, incremented under its row lock, so numbers never repeat or skip. */
export const paymentReceiptCounters = pgTable('payment_receipt_counters', {
  year: integer('year').primaryKey(),
  last: integer('last').notNull(),
});

export const paymentReceipts = pgTable(
  'payment_receipts',
  {
    intentId: uuid('intent_id').primaryKey(),
    year: integer('year').notNull(),
    sequence: integer('sequence').notNull(),
    /** e.g. `WBX-2025-000042`. */
    number: text('number').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('payment_receipts_year_sequence_idx').on(table.year, table.sequence)],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/** A buyer's proof of a bank transfer (small image or PDF), kept in the database so every process can serve it. */
export const paymentProofs = pgTable(
  'payment_proofs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    intentId: uuid('intent_id').notNull(),
    contentType: text('content_type').notNull(),
    size: integer('size').notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('payment_proofs_intent_idx').on(table.intentId)],
);

/**
 * Admin overrides of the credit packs from webox.config.yaml (same id wins), and packs added by admins.
 * `prices` maps a currency to its amount in minor units.
 */
export const creditPacks = pgTable(
  'credit_packs',
  {
    id: text('id').notNull(),
    name: text('name').notNull(),
    credits: bigint('credits', { mode: 'number' }).notNull(),
    prices: jsonb('prices').$type<Record<string, number>>().notNull(),
    active: boolean('active').notNull().default(true),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.id] }),
    check('credit_packs_credits_check', sql`${table.credits} > 0`),
  ],
);
