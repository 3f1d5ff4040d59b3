import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from '../accounts/tables.js';

/** A person's folders for grouping conversations; deleting one leaves its conversations unfiled. */
export const studioFolders = pgTable(
  'studio_folders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('studio_folders_user_idx').on(table.userId)],
);

/**
 * A chat. Messages form a tree (editing an earlier message starts a branch); `activeLeafId` is the tip of the
 * branch shown, so the page reopens where the person left it, on any device.
 */
export const studioConversations = pgTable(
  'studio_conversations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    folderId: uuid('folder_id').references(() => studioFolders.id, { onDelete: 'set null' }),
    title: text('title').notNull().default(''),
    model: text('model'),
    systemPrompt: text('system_prompt').notNull().default(''),
    pinnedAt: timestamp('pinned_at', { withTimezone: true }),
    activeLeafId: uuid('active_leaf_id'),
    /**
     * How many messages it holds and their bytes (text plus inline images), kept with each message added so the
     * conversation's limits are checked and counted in one conditional update, not by re-reading every message.
     */
    messageCount: integer('message_count').notNull().default(0),
    storedBytes: bigint('stored_bytes', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('studio_conversations_user_updated_idx').on(table.userId, table.updatedAt)],
);

export const messageRoles = ['user', 'assistant'] as const;
export type MessageRole = (typeof messageRoles)[number];
/** `stopped`: the person stopped the answer; `failed`: the provider or the stream broke off. */
export const messageStatuses = ['complete', 'stopped', 'failed'] as const;
export type MessageStatus = (typeof messageStatuses)[number];

/** An image sent with a message to a vision model, kept inline (small, size-capped by the route). */
export const imageMediaTypes = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export interface MessageAttachment {
  type: 'image';
  mediaType: (typeof imageMediaTypes)[number];
  dataUrl: string;
}

export const studioMessages = pgTable(
  'studio_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => studioConversations.id, { onDelete: 'cascade' }),
    /** The message this one answers or follows; null for the first message of a branch from the start. */
    parentId: uuid('parent_id').references((): AnyPgColumn => studioMessages.id, { onDelete: 'cascade' }),
    role: text('role', { enum: messageRoles }).notNull(),
    content: text('content').notNull(),
    attachments: jsonb('attachments').$type<MessageAttachment[]>().notNull().default([]),
    /** The model that answered (assistant messages). */
    model: text('model'),
    /** The /v1 request that produced the answer, to find it in usage and ledger records. */
    requestId: text('request_id'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    credits: bigint('credits', { mode: 'number' }).notNull().default(0),
    status: text('status', { enum: messageStatuses }).notNull().default('complete'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('studio_messages_conversation_idx').on(table.conversationId, table.createdAt),
    check('studio_messages_role_check', sql`${table.role} in ('user', 'assistant')`),
    check('studio_messages_credits_check', sql`${table.credits} >= 0`),
  ],
);

/** Saved model + system prompt combinations a person reuses. */
export const studioPresets = pgTable(
  'studio_presets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    model: text('model'),
    systemPrompt: text('system_prompt').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('studio_presets_user_idx').on(table.userId)],
);
