import { bigint, boolean, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from '../accounts/tables.js';
import { organizations } from '../organizations/tables.js';

/**
 * Virtual API keys (`wbx_…`). Only a SHA-256 of the key is stored: keys are 256-bit random, so a fast hash
 * is enough and keeps verification off the CPU-heavy path. The visible prefix identifies a key in lists.
 */
export const virtualKeys = pgTable(
  'virtual_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The first characters of the key, shown in lists (`wbx_1a2b3c4d`). */
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull().unique(),
    /** Model ids or aliases this key may call; null means every model. */
    allowedModels: text('allowed_models').array(),
    /** Requests per minute; null means no per-key limit. */
    rpmLimit: integer('rpm_limit'),
    /** Tokens (prompt + completion) per minute; null means no per-key limit. */
    tpmLimit: integer('tpm_limit'),
    /** Credits this key may spend per day / per month (billing time zone); null means no key budget. */
    dailyCreditBudget: integer('daily_credit_budget'),
    monthlyCreditBudget: integer('monthly_credit_budget'),
    /** Requests per day (reset at midnight in the billing time zone); null means no key quota. */
    dailyRequestQuota: integer('daily_request_quota'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set at creation for an organisation's key: its calls pay from that organisation's wallet. */
    organizationId: uuid('organization_id').references(() => organizations.id, { onDelete: 'cascade' }),
  },
  (table) => [
    index('virtual_keys_user_idx').on(table.userId),
    index('virtual_keys_organization_idx').on(table.organizationId, table.userId),
  ],
);

/** One row per /v1 request, written in batches after the response. */
export const usageRecords = pgTable(
  'usage_records',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    requestId: text('request_id').notNull(),
    userId: uuid('user_id'),
    keyId: uuid('key_id'),
    operation: text('operation', { enum: ['chat', 'messages', 'embeddings'] }).notNull(),
    requestedModel: text('requested_model').notNull(),
    servedModel: text('served_model'),
    provider: text('provider'),
    attempts: integer('attempts').notNull().default(0),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    credits: bigint('credits', { mode: 'number' }).notNull().default(0),
    timeToFirstTokenMs: integer('time_to_first_token_ms'),
    latencyMs: integer('latency_ms').notNull(),
    status: integer('status').notNull(),
    errorCode: text('error_code'),
    stream: boolean('stream').notNull().default(false),
    cacheHit: boolean('cache_hit').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('usage_records_user_created_idx').on(table.userId, table.createdAt),
    index('usage_records_key_created_idx').on(table.keyId, table.createdAt),
  ],
);
