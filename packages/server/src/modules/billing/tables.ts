import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from '../accounts/tables.js';

export const walletOwnerTypes = ['user', 'organization', 'system'] as const;
export type WalletOwnerType = (typeof walletOwnerTypes)[number];

/**
 * A wallet holds credits (integers). `balance` is a cache of the sum of the wallet's ledger entries, kept in the
 * same statement as each entry; `held` is the sum of its active holds. System wallets (revenue, top-ups, …) are the
 * counter-accounts of the double-entry ledger: their `balance` stays 0 and is derived from the entries instead,
 * so no system row is ever locked on the request path.
 */
export const wallets = pgTable(
  'wallets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerType: text('owner_type', { enum: walletOwnerTypes }).notNull(),
    /** The user or organisation id; for system wallets the account name (revenue, top_ups, …). */
    ownerId: text('owner_id').notNull(),
    balance: bigint('balance', { mode: 'number' }).notNull().default(0),
    held: bigint('held', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('wallets_owner_idx').on(table.ownerType, table.ownerId),
    check('wallets_owner_type_check', sql`${table.ownerType} in ('user', 'organization', 'system')`),
    // The last line of defence behind the conditional updates: a customer wallet can never be overspent.
    check(
      'wallets_never_overspent_check',
      sql`${table.ownerType} = 'system' or (${table.held} >= 0 and ${table.balance} >= ${table.held})`,
    ),
    // Behind the same updates: a balance stays a number JavaScript reads exactly (MAX_WALLET_BALANCE, 2^53 - 1).
    check('wallets_balance_exact_check', sql`${table.balance} <= 9007199254740991`),
  ],
);

/** `transfer` moves credits between two customer wallets (an owner funding an organisation): no system leg. */
export const ledgerEntryKinds = [
  'top_up',
  'grant',
  'plan_credit',
  'usage',
  'refund',
  'adjustment',
  'transfer',
] as const;
export type LedgerEntryKind = (typeof ledgerEntryKinds)[number];

/**
 * The immutable double-entry journal (a trigger refuses UPDATE and DELETE). Each row is one movement with both
 * legs: `amount` is added to `wallet_id` and subtracted from `counter_wallet_id`, so all entries sum to zero by
 * construction and a wallet's balance is Σ amount as wallet − Σ amount as counter.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Unique: a retried movement (webhook, settle, renewal) is written once. */
    idempotencyKey: text('idempotency_key').notNull(),
    kind: text('kind', { enum: ledgerEntryKinds }).notNull(),
    walletId: uuid('wallet_id')
      .notNull()
      .references(() => wallets.id),
    // No foreign key here on purpose: its KEY SHARE lock on the system wallet from every settle would make that
    // one row a point of contention; verifyLedger checks that every counter-account exists.
    counterWalletId: uuid('counter_wallet_id').notNull(),
    /** Signed change to `wallet_id`'s balance; never zero. */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    /** `wallet_id`'s balance right after this entry (statements, audits). */
    balanceAfter: bigint('balance_after', { mode: 'number' }).notNull(),
    holdId: uuid('hold_id'),
    requestId: text('request_id'),
    model: text('model'),
    keyId: text('key_id'),
    memberUserId: text('member_user_id'),
    /** The price-book row (`prices.id`) the amount was computed from. */
    priceVersion: integer('price_version'),
    paymentId: text('payment_id'),
    orderId: text('order_id'),
    /** Why an admin adjusted a balance; required for adjustments. */
    reason: text('reason'),
    /** Measured quantities behind a usage entry (tokens, images, seconds). */
    details: jsonb('details').$type<Record<string, number | string>>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('ledger_entries_idempotency_key_idx').on(table.idempotencyKey),
    index('ledger_entries_wallet_idx').on(table.walletId, table.id),
    index('ledger_entries_counter_wallet_idx').on(table.counterWalletId),
    check('ledger_entries_amount_check', sql`${table.amount} <> 0`),
    check('ledger_entries_two_legs_check', sql`${table.walletId} <> ${table.counterWalletId}`),
    check(
      'ledger_entries_kind_check',
      sql`${table.kind} in ('top_up', 'grant', 'plan_credit', 'usage', 'refund', 'adjustment', 'transfer')`,
    ),
    check(
      'ledger_entries_adjustment_reason_check',
      sql`${table.kind} <> 'adjustment' or length(${table.reason}) > 0`,
    ),
  ],
);

export const holdStatuses = ['active', 'settled', 'released', 'expired'] as const;
export type HoldStatus = (typeof holdStatuses)[number];

/** Credits reserved for one in-flight request: its worst case, until settled, released or expired. */
export const creditHolds = pgTable(
  'credit_holds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    walletId: uuid('wallet_id')
      .notNull()
      .references(() => wallets.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    status: text('status', { enum: holdStatuses }).notNull().default('active'),
    requestId: text('request_id').notNull(),
    memberUserId: text('member_user_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** The settle's idempotency key, so a retry with the same key answers the first result. */
    settleKey: text('settle_key'),
    /** How much of `amount` was still held when the hold finished (0 when it had expired first). */
    heldAtFinish: bigint('held_at_finish', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (table) => [
    index('credit_holds_active_expiry_idx').on(table.expiresAt).where(sql`${table.status} = 'active'`),
    index('credit_holds_wallet_idx').on(table.walletId),
    check('credit_holds_amount_check', sql`${table.amount} >= 0`),
    check('credit_holds_status_check', sql`${table.status} in ('active', 'settled', 'released', 'expired')`),
  ],
);

export const priceKinds = ['tokens', 'embeddings', 'image', 'speech', 'music', 'video'] as const;
export type PriceKind = (typeof priceKinds)[number];

/**
 * The versioned price book. A change inserts a new row and closes the previous one; rows are never rewritten,
 * and every usage entry points at the row it was priced with.
 */
export const prices = pgTable(
  'prices',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    /** What is priced, e.g. `model:gpt-4o`, `image:dall-e-3:1024x1024:hd`, `speech:tts-1`. */
    itemKey: text('item_key').notNull(),
    kind: text('kind', { enum: priceKinds }).notNull(),
    version: integer('version').notNull(),
    /** Integer credit rates; their fields depend on `kind` (see prices.ts). */
    rates: jsonb('rates').$type<Record<string, number>>().notNull(),
    /** `config` rows come from webox.config.yaml; `admin` rows override them until the next admin change. */
    source: text('source', { enum: ['config', 'admin'] }).notNull(),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    supersededAt: timestamp('superseded_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('prices_item_version_idx').on(table.itemKey, table.version),
    uniqueIndex('prices_current_idx').on(table.itemKey).where(sql`${table.supersededAt} is null`),
  ],
);

/** A wallet's plan and the start of its current monthly period. */
export const subscriptions = pgTable('billing_subscriptions', {
  walletId: uuid('wallet_id')
    .primaryKey()
    .references(() => wallets.id),
  plan: text('plan').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  /** The last period (`YYYY-MM` in the billing time zone) whose plan credits were granted. */
  renewedPeriod: text('renewed_period'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Limits a person sets on their own /v1 spending (every key and the studio); null means no limit of that kind.
 * They only tighten the plan's limits, never loosen them.
 */
export const userBudgets = pgTable('billing_user_budgets', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  dailyCredits: integer('daily_credits'),
  monthlyCredits: integer('monthly_credits'),
  dailyRequests: integer('daily_requests'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
