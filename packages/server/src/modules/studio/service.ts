import { randomUUID } from 'node:crypto';
import {
  and,
  asc,
  desc,
  eq,
  exists,
  getTableColumns,
  ilike,
  inArray,
  isNotNull,
  isNull,
  or,
  type SQL,
  sql,
} from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { usageRecords } from '../gateway/tables.js';
import {
  type MessageAttachment,
  type MessageRole,
  type MessageStatus,
  studioConversations,
  studioFolders,
  studioMessages,
  studioPresets,
} from './tables.js';

export type Conversation = typeof studioConversations.$inferSelect;
export type Message = typeof studioMessages.$inferSelect;
export type Folder = typeof studioFolders.$inferSelect;
export type Preset = typeof studioPresets.$inferSelect;

const TITLE_LENGTH = 60;

/** `%` and `_` typed by a person are literal characters, not wildcards. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/**
 * Every read and change below starts here: a conversation id that is not the caller's is "not found", exactly
 * like an id that does not exist, so guessing ids tells nothing.
 */
async function ownConversation(db: Database, userId: string, conversationId: string): Promise<Conversation> {
  const [row] = await db
    .select()
    .from(studioConversations)
    .where(and(eq(studioConversations.id, conversationId), eq(studioConversations.userId, userId)))
    .limit(1);
  if (!row) throw new AppError('not_found', 'No such conversation.');
  return row;
}

async function assertOwnFolder(db: Database, userId: string, folderId: string | null | undefined) {
  if (!folderId) return;
  const [row] = await db
    .select({ id: studioFolders.id })
    .from(studioFolders)
    .where(and(eq(studioFolders.id, folderId), eq(studioFolders.userId, userId)))
    .limit(1);
  if (!row) throw new AppError('not_found', 'No such folder.');
}

async function assertMessageIn(db: Database, conversationId: string, messageId: string) {
  const [row] = await db
    .select({ id: studioMessages.id })
    .from(studioMessages)
    .where(and(eq(studioMessages.id, messageId), eq(studioMessages.conversationId, conversationId)))
    .limit(1);
  if (!row) throw new AppError('not_found', 'No such message in this conversation.');
}

/** Where a page of the conversation list ends: the sort key of its last row. */
interface ListPosition {
  pinned: boolean;
  /** `updated_at` to the microsecond, as PostgreSQL keeps it: a millisecond Date would skip or repeat rows. */
  updatedAt: string;
  id: string;
}

const listPosition = z.object({
  pinned: z.boolean(),
  updatedAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
  id: z.uuid(),
});

/** Opaque to clients: base64url of the position's JSON. */
function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeCursor(cursor: string): ListPosition {
  try {
    const position = listPosition.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    // A real instant only: PostgreSQL would fail on 2025-02-30 where a 400 belongs.
    const instant = position.success ? Date.parse(position.data.updatedAt) : Number.NaN;
    if (
      position.success &&
      !Number.isNaN(instant) &&
      new Date(instant).toISOString().slice(0, 19) === position.data.updatedAt.slice(0, 19)
    ) {
      return position.data;
    }
  } catch {
    // Not JSON: refused below like any other cursor this server did not write.
  }
  throw new AppError('validation_failed', 'The request is not valid.', {
    details: [{ path: 'cursor', message: 'not a cursor from this list; start again without one' }],
  });
}

export interface ListConversationsOptions {
  userId: string;
  /** Matches titles and the text of any message, case-insensitively. */
  search?: string | undefined;
  folderId?: string | undefined;
  /** Page size; default 50. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/**
 * The caller's conversations, pinned first, then the most recently active, a page at a time. Pages follow the sort
 * key (pinned, updated_at, id) rather than an offset, so a conversation that moves to the top while someone pages
 * shifts nothing under them, and a deep page costs what the first one does.
 */
export async function listConversations(
  db: Database,
  options: ListConversationsOptions,
): Promise<{ conversations: Conversation[]; nextCursor: string | null }> {
  const limit = options.limit ?? 50;
  const conditions: SQL[] = [eq(studioConversations.userId, options.userId)];
  if (options.folderId) conditions.push(eq(studioConversations.folderId, options.folderId));
  const search = options.search?.trim();
  if (search) {
    const pattern = likePattern(search);
    conditions.push(
      or(
        ilike(studioConversations.title, pattern),
        exists(
          db
            .select({ one: sql`1` })
            .from(studioMessages)
            .where(
              and(
                eq(studioMessages.conversationId, studioConversations.id),
                ilike(studioMessages.content, pattern),
              ),
            ),
        ),
      )!,
    );
  }
  if (options.cursor) {
    const after = decodeCursor(options.cursor);
    const older = sql`(${studioConversations.updatedAt}, ${studioConversations.id}) < (${after.updatedAt}::timestamptz, ${after.id}::uuid)`;
    // Pinned rows come first: after a pinned row, every unpinned one follows; after an unpinned one, no pinned row.
    conditions.push(
      after.pinned
        ? or(isNull(studioConversations.pinnedAt), and(isNotNull(studioConversations.pinnedAt), older))!
        : and(isNull(studioConversations.pinnedAt), older)!,
    );
  }
  const rows = await db
    .select({
      conversation: studioConversations,
      position: sql<string>`to_char(${studioConversations.updatedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(studioConversations)
    .where(and(...conditions))
    .orderBy(
      sql`${studioConversations.pinnedAt} is null`,
      desc(studioConversations.updatedAt),
      desc(studioConversations.id),
    )
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    conversations: page.map((row) => row.conversation),
    nextCursor:
      rows.length > limit && last
        ? encodeCursor({
            pinned: last.conversation.pinnedAt !== null,
            updatedAt: last.position,
            id: last.conversation.id,
          })
        : null,
  };
}

export async function createConversation(
  db: Database,
  options: {
    userId: string;
    title?: string | undefined;
    model?: string | null | undefined;
    systemPrompt?: string | undefined;
    folderId?: string | null | undefined;
  },
): Promise<Conversation> {
  await assertOwnFolder(db, options.userId, options.folderId);
  const [row] = await db
    .insert(studioConversations)
    .values({
      userId: options.userId,
      title: options.title ?? '',
      model: options.model ?? null,
      systemPrompt: options.systemPrompt ?? '',
      folderId: options.folderId ?? null,
    })
    .returning();
  return row!;
}

export async function getConversation(
  db: Database,
  options: { userId: string; conversationId: string },
): Promise<{ conversation: Conversation; messages: Message[] }> {
  const conversation = await ownConversation(db, options.userId, options.conversationId);
  const messages = await db
    .select()
    .from(studioMessages)
    .where(eq(studioMessages.conversationId, conversation.id))
    .orderBy(asc(studioMessages.createdAt), asc(studioMessages.id));
  return { conversation, messages };
}

/** A message as exported: everything but its inline images. */
export type BranchMessage = Omit<Message, 'attachments'>;

/**
 * The conversation and the messages of its shown branch only, without their images: what an export needs. The walk
 * from the tip stops after the message limit, so even a conversation stored before the limits loads no more.
 */
export async function getActiveBranch(
  db: Database,
  options: { userId: string; conversationId: string },
): Promise<{ conversation: Conversation; messages: BranchMessage[] }> {
  const conversation = await ownConversation(db, options.userId, options.conversationId);
  if (!conversation.activeLeafId) return { conversation, messages: [] };
  const walked = await db.execute<{ id: string }>(sql`
    with recursive branch (id, parent_id, depth) as (
      select ${studioMessages.id}, ${studioMessages.parentId}, 1 from ${studioMessages}
      where ${studioMessages.id} = ${conversation.activeLeafId} and ${studioMessages.conversationId} = ${conversation.id}
      union all
      select parent.id, parent.parent_id, branch.depth + 1
      from ${studioMessages} as parent join branch on parent.id = branch.parent_id
      where parent.conversation_id = ${conversation.id} and branch.depth < ${conversationLimits.messages}
    )
    select id::text as id from branch`);
  const ids = (walked as unknown as { rows: Array<{ id: string }> }).rows.map((row) => row.id);
  if (ids.length === 0) return { conversation, messages: [] };
  const { attachments: _images, ...columns } = getTableColumns(studioMessages);
  const messages = await db
    .select(columns)
    .from(studioMessages)
    .where(and(eq(studioMessages.conversationId, conversation.id), inArray(studioMessages.id, ids)));
  return { conversation, messages };
}

export interface ConversationChanges {
  title?: string | undefined;
  model?: string | null | undefined;
  systemPrompt?: string | undefined;
  pinned?: boolean | undefined;
  folderId?: string | null | undefined;
  /** Shows another branch: the tip must be a message of this conversation. */
  activeLeafId?: string | undefined;
}

export async function updateConversation(
  db: Database,
  options: { userId: string; conversationId: string; changes: ConversationChanges },
): Promise<Conversation> {
  const { changes } = options;
  const conversation = await ownConversation(db, options.userId, options.conversationId);
  await assertOwnFolder(db, options.userId, changes.folderId);
  if (changes.activeLeafId) await assertMessageIn(db, conversation.id, changes.activeLeafId);
  const [row] = await db
    .update(studioConversations)
    .set({
      ...(changes.title !== undefined ? { title: changes.title } : {}),
      ...(changes.model !== undefined ? { model: changes.model } : {}),
      ...(changes.systemPrompt !== undefined ? { systemPrompt: changes.systemPrompt } : {}),
      ...(changes.folderId !== undefined ? { folderId: changes.folderId } : {}),
      ...(changes.activeLeafId !== undefined ? { activeLeafId: changes.activeLeafId } : {}),
      ...(changes.pinned !== undefined
        ? { pinnedAt: changes.pinned ? (conversation.pinnedAt ?? new Date()) : null }
        : {}),
    })
    .where(and(eq(studioConversations.id, conversation.id), eq(studioConversations.userId, options.userId)))
    .returning();
  return row!;
}

export async function deleteConversation(db: Database, options: { userId: string; conversationId: string }) {
  const deleted = await db
    .delete(studioConversations)
    .where(
      and(eq(studioConversations.id, options.conversationId), eq(studioConversations.userId, options.userId)),
    )
    .returning({ id: studioConversations.id });
  if (deleted.length === 0) throw new AppError('not_found', 'No such conversation.');
}

export interface AddMessageOptions {
  userId: string;
  conversationId: string;
  /**
   * The message this one follows. Giving the parent of an existing message starts a branch beside it (an
   * edited question, or a regenerated answer); null starts a branch from the very beginning.
   */
  parentId: string | null;
  role: MessageRole;
  content: string;
  attachments?: MessageAttachment[] | undefined;
  model?: string | null | undefined;
  requestId?: string | null | undefined;
  usage?: { inputTokens: number; outputTokens: number; credits: number } | undefined;
  status?: MessageStatus | undefined;
}

/**
 * What one conversation may hold; the module README says why these numbers. Reading a conversation returns all of
 * it, so these bound that response as well as the storage: at most 2,000 messages and 50 MB of text and images.
 */
export const conversationLimits = { messages: 2_000, bytes: 50 * 1024 * 1024 } as const;

/** What a message adds to its conversation's stored bytes: UTF-8 text plus each image's data URL. */
export function messageBytes(content: string, attachments: MessageAttachment[] = []): number {
  return attachments.reduce(
    (total, attachment) => total + Buffer.byteLength(attachment.dataUrl, 'utf8'),
    Buffer.byteLength(content, 'utf8'),
  );
}

/** Stores a message, makes it the tip of the shown branch, and names an untitled conversation after it. */
export async function addMessage(db: Database, options: AddMessageOptions): Promise<Message> {
  const conversation = await ownConversation(db, options.userId, options.conversationId);
  if (options.parentId) await assertMessageIn(db, conversation.id, options.parentId);
  const bytes = messageBytes(options.content, options.attachments);
  const messageId = randomUUID();
  const title = options.role === 'user' ? titleFrom(options.content) : '';
  return db.transaction(async (transaction) => {
    // One conditional update counts the message in and checks both limits. It locks the conversation's row, so
    // parallel adds to one conversation take turns and each sees the counts the previous one left.
    const [counted] = await transaction
      .update(studioConversations)
      .set({
        messageCount: sql`${studioConversations.messageCount} + 1`,
        storedBytes: sql`${studioConversations.storedBytes} + ${bytes}`,
        activeLeafId: messageId,
        updatedAt: new Date(),
        title: sql`case when ${studioConversations.title} = '' then ${title} else ${studioConversations.title} end`,
        ...(options.model ? { model: options.model } : {}),
      })
      .where(
        and(
          eq(studioConversations.id, conversation.id),
          eq(studioConversations.userId, options.userId),
          sql`${studioConversations.messageCount} < ${conversationLimits.messages}`,
          sql`${studioConversations.storedBytes} + ${bytes} <= ${conversationLimits.bytes}`,
        ),
      )
      .returning({ id: studioConversations.id });
    if (!counted) await refuseOverLimit(transaction, conversation.id);
    const [message] = await transaction
      .insert(studioMessages)
      .values({
        id: messageId,
        conversationId: conversation.id,
        parentId: options.parentId,
        role: options.role,
        content: options.content,
        attachments: options.attachments ?? [],
        model: options.model ?? null,
        requestId: options.requestId ?? null,
        inputTokens: options.usage?.inputTokens ?? 0,
        outputTokens: options.usage?.outputTokens ?? 0,
        credits: options.usage?.credits ?? 0,
        status: options.status ?? 'complete',
      })
      .returning();
    return message!;
  });
}

/** Says which limit a refused message met, or that the conversation went away meanwhile. */
async function refuseOverLimit(db: Database, conversationId: string): Promise<never> {
  const [row] = await db
    .select({ messageCount: studioConversations.messageCount })
    .from(studioConversations)
    .where(eq(studioConversations.id, conversationId))
    .limit(1);
  if (!row) throw new AppError('not_found', 'No such conversation.');
  if (row.messageCount >= conversationLimits.messages) {
    throw new AppError(
      'conflict',
      `This conversation has reached ${conversationLimits.messages.toLocaleString('en')} messages; start a new conversation to go on.`,
    );
  }
  throw new AppError(
    'payload_too_large',
    `This conversation has reached ${conversationLimits.bytes / 1024 / 1024} MB of text and images; start a new conversation to go on.`,
  );
}

function titleFrom(content: string): string {
  const line = content.replace(/\s+/g, ' ').trim();
  return line.length <= TITLE_LENGTH ? line : `${line.slice(0, TITLE_LENGTH - 1).trimEnd()}…`;
}

/**
 * What the gateway measured for one of the caller's /v1 requests: the studio stores these figures rather than
 * the ones the page reports, so the cost under an answer is the one actually charged. The gateway module has no
 * lookup service yet, so this reads its usage table directly (read only, scoped to the caller).
 */
export async function findMeasuredUsage(
  db: Database,
  options: { userId: string; requestId: string },
): Promise<{ model: string | null; inputTokens: number; outputTokens: number; credits: number } | undefined> {
  const [row] = await db
    .select({
      requestedModel: usageRecords.requestedModel,
      inputTokens: usageRecords.inputTokens,
      outputTokens: usageRecords.outputTokens,
      credits: usageRecords.credits,
    })
    .from(usageRecords)
    .where(and(eq(usageRecords.requestId, options.requestId), eq(usageRecords.userId, options.userId)))
    .limit(1);
  if (!row) return undefined;
  return {
    model: row.requestedModel,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    credits: row.credits,
  };
}

/** The messages of the shown branch, first to last. */
export function activeBranch<T extends Pick<Message, 'id' | 'parentId'>>(
  messages: T[],
  leafId: string | null,
): T[] {
  const byId = new Map(messages.map((message) => [message.id, message]));
  const path: T[] = [];
  let current = leafId ? byId.get(leafId) : undefined;
  // A cycle cannot be built through the API, but a bound keeps a corrupted row from hanging the server.
  while (current && path.length <= messages.length) {
    path.push(current);
    current = current.parentId ? byId.get(current.parentId) : undefined;
  }
  return path.reverse();
}

export async function listFolders(db: Database, userId: string): Promise<Folder[]> {
  return db
    .select()
    .from(studioFolders)
    .where(eq(studioFolders.userId, userId))
    .orderBy(asc(studioFolders.name));
}

export async function createFolder(db: Database, options: { userId: string; name: string }): Promise<Folder> {
  const [row] = await db.insert(studioFolders).values(options).returning();
  return row!;
}

export async function renameFolder(
  db: Database,
  options: { userId: string; folderId: string; name: string },
): Promise<Folder> {
  const [row] = await db
    .update(studioFolders)
    .set({ name: options.name })
    .where(and(eq(studioFolders.id, options.folderId), eq(studioFolders.userId, options.userId)))
    .returning();
  if (!row) throw new AppError('not_found', 'No such folder.');
  return row;
}

export async function deleteFolder(db: Database, options: { userId: string; folderId: string }) {
  const deleted = await db
    .delete(studioFolders)
    .where(and(eq(studioFolders.id, options.folderId), eq(studioFolders.userId, options.userId)))
    .returning({ id: studioFolders.id });
  if (deleted.length === 0) throw new AppError('not_found', 'No such folder.');
}

export async function listPresets(db: Database, userId: string): Promise<Preset[]> {
  return db
    .select()
    .from(studioPresets)
    .where(eq(studioPresets.userId, userId))
    .orderBy(asc(studioPresets.name));
}

export async function createPreset(
  db: Database,
  options: { userId: string; name: string; model: string | null; systemPrompt: string },
): Promise<Preset> {
  const [row] = await db.insert(studioPresets).values(options).returning();
  return row!;
}

export async function deletePreset(db: Database, options: { userId: string; presetId: string }) {
  const deleted = await db
    .delete(studioPresets)
    .where(and(eq(studioPresets.id, options.presetId), eq(studioPresets.userId, options.userId)))
    .returning({ id: studioPresets.id });
  if (deleted.length === 0) throw new AppError('not_found', 'No such preset.');
}
