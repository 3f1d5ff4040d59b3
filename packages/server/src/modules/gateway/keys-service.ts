import { hash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, type SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { VIRTUAL_KEY_PREFIX } from '../../plugins/authenticate.js';
import type { PubSub } from '../../stores/index.js';
import type { UserRole } from '../accounts/tables.js';
import { users } from '../accounts/tables.js';
import type { QuotaLimits } from '../billing/index.js';
import { virtualKeys } from './tables.js';

/**
 * Evicts a key's cached identity in every process (the message is its secret hash): sent on revocation and on a
 * budget change. The name predates budgets.
 */
const REVOCATION_CHANNEL = 'virtual-keys:revoked';

export interface VirtualKeySummary {
  id: string;
  name: string;
  prefix: string;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** Credits per day / per month and requests per day (billing time zone); null means no limit. */
  dailyCreditBudget: number | null;
  monthlyCreditBudget: number | null;
  dailyRequestQuota: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
  /** The organisation whose wallet pays for this key's calls; null for a personal key. */
  organizationId: string | null;
}

/** What a verified key lets the request do; cached, so it must hold nothing that changes often. */
export interface VirtualKeyIdentity {
  keyId: string;
  userId: string;
  role: UserRole;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** The key's budgets and quota as billing quota limits (absent: no limit); a change evicts the cached identity. */
  keyLimits: QuotaLimits;
  expiresAt: number | null;
}

/** The budget fields of a key, settable at creation and later. */
export interface VirtualKeyBudget {
  dailyCreditBudget?: number | null | undefined;
  monthlyCreditBudget?: number | null | undefined;
  dailyRequestQuota?: number | null | undefined;
}

function keyLimitsOf(row: typeof virtualKeys.$inferSelect): QuotaLimits {
  const limits: QuotaLimits = {};
  if (row.dailyCreditBudget !== null) limits.dailyCredits = row.dailyCreditBudget;
  if (row.monthlyCreditBudget !== null) limits.monthlyCredits = row.monthlyCreditBudget;
  if (row.dailyRequestQuota !== null) limits.dailyRequests = row.dailyRequestQuota;
  return limits;
}

export function hashVirtualKey(key: string): string {
  return hash('sha256', key, 'hex');
}

function summarise(row: typeof virtualKeys.$inferSelect): VirtualKeySummary {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    allowedModels: row.allowedModels,
    rpmLimit: row.rpmLimit,
    tpmLimit: row.tpmLimit,
    dailyCreditBudget: row.dailyCreditBudget,
    monthlyCreditBudget: row.monthlyCreditBudget,
    dailyRequestQuota: row.dailyRequestQuota,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
    createdAt: row.createdAt,
    organizationId: row.organizationId,
  };
}

export interface CreateVirtualKeyOptions extends VirtualKeyBudget {
  userId: string;
  name: string;
  allowedModels?: string[] | null | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
  expiresAt?: Date | null | undefined;
  /** Makes it an organisation's key; the caller checks first that `userId` is a member of it. */
  organizationId?: string | null | undefined;
}

/** Creates a key and returns its secret, the only time it is ever visible. */
export async function createVirtualKey(db: Database, options: CreateVirtualKeyOptions) {
  const key = `${VIRTUAL_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const [row] = await db
    .insert(virtualKeys)
    .values({
      userId: options.userId,
      name: options.name,
      prefix: key.slice(0, VIRTUAL_KEY_PREFIX.length + 8),
      secretHash: hashVirtualKey(key),
      allowedModels: options.allowedModels ?? null,
      rpmLimit: options.rpmLimit ?? null,
      tpmLimit: options.tpmLimit ?? null,
      dailyCreditBudget: options.dailyCreditBudget ?? null,
      monthlyCreditBudget: options.monthlyCreditBudget ?? null,
      dailyRequestQuota: options.dailyRequestQuota ?? null,
      expiresAt: options.expiresAt ?? null,
      organizationId: options.organizationId ?? null,
    })
    .returning();
  return { key, summary: summarise(row!) };
}

export async function listVirtualKeys(db: Database, userId: string): Promise<VirtualKeySummary[]> {
  const rows = await db
    .select()
    .from(virtualKeys)
    .where(eq(virtualKeys.userId, userId))
    .orderBy(desc(virtualKeys.createdAt));
  return rows.map(summarise);
}

/**
 * Revokes one of the caller's keys. Another user's key id answers not_found, exactly like an unknown id,
 * so ids cannot be probed.
 */
export async function revokeVirtualKey(
  db: Database,
  pubSub: PubSub,
  options: { userId: string; keyId: string },
): Promise<VirtualKeySummary> {
  const [row] = await db
    .update(virtualKeys)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(virtualKeys.id, options.keyId),
        eq(virtualKeys.userId, options.userId),
        isNull(virtualKeys.revokedAt),
      ),
    )
    .returning();
  if (!row) {
    const [existing] = await db
      .select()
      .from(virtualKeys)
      .where(and(eq(virtualKeys.id, options.keyId), eq(virtualKeys.userId, options.userId)));
    if (!existing) throw new AppError('not_found', 'No such key.');
    return summarise(existing);
  }
  await pubSub.publish(REVOCATION_CHANNEL, row.secretHash);
  return summarise(row);
}

/**
 * Changes the budgets of one of the caller's keys (a field left undefined is kept, null removes it). Like a
 * revocation, the change evicts the key's cached identity in every process, so it applies to the next call.
 * Another user's key answers not_found.
 */
export async function updateVirtualKeyBudget(
  db: Database,
  pubSub: PubSub,
  options: { userId: string; keyId: string; budget: VirtualKeyBudget },
): Promise<VirtualKeySummary> {
  const { dailyCreditBudget, monthlyCreditBudget, dailyRequestQuota } = options.budget;
  const changes = Object.fromEntries(
    Object.entries({ dailyCreditBudget, monthlyCreditBudget, dailyRequestQuota }).filter(
      ([, value]) => value !== undefined,
    ),
  ) as Partial<typeof virtualKeys.$inferInsert>;
  const where = and(eq(virtualKeys.id, options.keyId), eq(virtualKeys.userId, options.userId));
  const [row] =
    Object.keys(changes).length > 0
      ? await db.update(virtualKeys).set(changes).where(where).returning()
      : await db.select().from(virtualKeys).where(where);
  if (!row) throw new AppError('not_found', 'No such key.');
  await pubSub.publish(REVOCATION_CHANNEL, row.secretHash);
  return summarise(row);
}

/** The organisation a key was created for (null for a personal or unknown key); it never changes. */
export async function organizationOfKey(db: Database, keyId: string): Promise<string | null> {
  const [row] = await db
    .select({ organizationId: virtualKeys.organizationId })
    .from(virtualKeys)
    .where(eq(virtualKeys.id, keyId))
    .limit(1);
  return row?.organizationId ?? null;
}

/**
 * Revokes every key a person holds for an organisation (they left it or were removed) and tells every process,
 * like `revokeVirtualKey`. Returns how many keys were revoked.
 */
export async function revokeOrganizationKeys(
  db: Database,
  pubSub: PubSub,
  options: { organizationId: string; userId: string },
): Promise<number> {
  return revokeLiveKeys(
    db,
    pubSub,
    and(eq(virtualKeys.organizationId, options.organizationId), eq(virtualKeys.userId, options.userId))!,
  );
}

/**
 * Revokes every live key a person holds (personal and organisation keys) and tells every process, like
 * `revokeVirtualKey`: used when an account is disabled, erased or taken over. Returns how many keys were revoked.
 * Revoked keys stay revoked: re-enabling the account does not bring them back.
 */
export async function revokeUserKeys(
  db: Database,
  pubSub: PubSub,
  options: { userId: string },
): Promise<number> {
  return revokeLiveKeys(db, pubSub, eq(virtualKeys.userId, options.userId));
}

/** Revokes the live keys `which` selects and announces each revocation, so every process's cache drops them. */
async function revokeLiveKeys(db: Database, pubSub: PubSub, which: SQL): Promise<number> {
  const rows = await db
    .update(virtualKeys)
    .set({ revokedAt: new Date() })
    .where(and(which, isNull(virtualKeys.revokedAt)))
    .returning({ secretHash: virtualKeys.secretHash });
  for (const row of rows) await pubSub.publish(REVOCATION_CHANNEL, row.secretHash);
  return rows.length;
}

/**
 * Verifies keys on the hot path. A verified key is cached for a short while so most requests cost no
 * database round trip; a revocation is broadcast to every process and evicts the entry at once.
 */
export class VirtualKeyVerifier {
  readonly #cache: LRUCache<string, VirtualKeyIdentity | false>;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly pubSub: PubSub,
    options: { ttlMs?: number; maxEntries?: number } = {},
  ) {
    this.#cache = new LRUCache({ max: options.maxEntries ?? 50_000, ttl: options.ttlMs ?? 30_000 });
  }

  async start() {
    this.#unsubscribe = await this.pubSub.subscribe(REVOCATION_CHANNEL, (secretHash) =>
      this.#cache.delete(secretHash),
    );
  }

  async stop() {
    await this.#unsubscribe?.();
  }

  /** The key's identity, or undefined when it is unknown, revoked or expired, or its owner is not active. */
  async verify(key: string, now = Date.now()): Promise<VirtualKeyIdentity | undefined> {
    if (!key.startsWith(VIRTUAL_KEY_PREFIX) || key.length > 100) return undefined;
    const secretHash = hashVirtualKey(key);
    let identity = this.#cache.get(secretHash);
    if (identity === undefined) {
      const [row] = await this.db
        .select({ key: virtualKeys, role: users.role })
        .from(virtualKeys)
        .innerJoin(users, eq(users.id, virtualKeys.userId))
        .where(
          and(
            eq(virtualKeys.secretHash, secretHash),
            isNull(virtualKeys.revokedAt),
            // A disabled or erased account's keys are refused like its sessions, even one whose revocation failed.
            eq(users.status, 'active'),
          ),
        );
      identity = row
        ? {
            keyId: row.key.id,
            userId: row.key.userId,
            role: row.role,
            allowedModels: row.key.allowedModels,
            rpmLimit: row.key.rpmLimit,
            tpmLimit: row.key.tpmLimit,
            keyLimits: keyLimitsOf(row.key),
            expiresAt: row.key.expiresAt?.getTime() ?? null,
          }
        : false;
      this.#cache.set(secretHash, identity);
      if (row) void this.#touch(row.key.id);
    }
    if (!identity || (identity.expiresAt !== null && identity.expiresAt <= now)) return undefined;
    return identity;
  }

  // Last-used is informative; it is refreshed when a key enters the cache, not on every request.
  async #touch(keyId: string) {
    await this.db
      .update(virtualKeys)
      .set({ lastUsedAt: new Date() })
      .where(eq(virtualKeys.id, keyId))
      .catch(() => undefined);
  }
}
