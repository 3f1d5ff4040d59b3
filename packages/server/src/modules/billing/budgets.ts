import { eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/client.js';
import type { PubSub } from '../../stores/index.js';
import type { QuotaLimits } from './quotas.js';
import { userBudgets } from './tables.js';

/** Tells every process that a user changed their budgets; the message is the user id. */
export const USER_BUDGETS_CHANNEL = 'billing:user-budgets';

/** Upper bounds of a budget a person or a key may set (they fit the integer columns with room to spare). */
export const MAX_BUDGET_CREDITS = 1_000_000_000;
export const MAX_DAILY_REQUESTS = 10_000_000;

/** A person's own limits; null means no limit of that kind. */
export interface UserBudget {
  dailyCredits: number | null;
  monthlyCredits: number | null;
  dailyRequests: number | null;
}

const noBudget: UserBudget = Object.freeze({ dailyCredits: null, monthlyCredits: null, dailyRequests: null });

/** The limits a budget sets, leaving out the absent ones (a present-but-undefined field would erase a plan limit). */
export function budgetLimits(budget: UserBudget): QuotaLimits {
  const limits: QuotaLimits = {};
  if (budget.dailyCredits !== null) limits.dailyCredits = budget.dailyCredits;
  if (budget.monthlyCredits !== null) limits.monthlyCredits = budget.monthlyCredits;
  if (budget.dailyRequests !== null) limits.dailyRequests = budget.dailyRequests;
  return limits;
}

export async function getUserBudget(db: Database, userId: string): Promise<UserBudget> {
  const [row] = await db.select().from(userBudgets).where(eq(userBudgets.userId, userId)).limit(1);
  if (!row) return noBudget;
  return {
    dailyCredits: row.dailyCredits,
    monthlyCredits: row.monthlyCredits,
    dailyRequests: row.dailyRequests,
  };
}

/** Replaces a person's budgets and evicts them from every process's cache. */
export async function setUserBudget(
  db: Database,
  pubSub: PubSub,
  options: { userId: string; budget: UserBudget },
): Promise<UserBudget> {
  const values = { ...options.budget, updatedAt: new Date() };
  await db
    .insert(userBudgets)
    .values({ userId: options.userId, ...values })
    .onConflictDoUpdate({ target: userBudgets.userId, set: values });
  await pubSub.publish(USER_BUDGETS_CHANNEL, options.userId);
  return { ...options.budget };
}

/**
 * People's budgets for the /v1 hot path: cached per process (default 30 s) so a call costs no database round trip;
 * a change is announced on USER_BUDGETS_CHANNEL and evicts the entry in every process at once.
 */
export class UserBudgetCache {
  readonly #cache: LRUCache<string, Promise<QuotaLimits>>;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly pubSub: PubSub,
    options: { ttlMs?: number; maxEntries?: number } = {},
  ) {
    this.#cache = new LRUCache({ max: options.maxEntries ?? 50_000, ttl: options.ttlMs ?? 30_000 });
  }

  async start() {
    this.#unsubscribe = await this.pubSub.subscribe(USER_BUDGETS_CHANNEL, (userId) =>
      this.#cache.delete(userId),
    );
  }

  async stop() {
    await this.#unsubscribe?.();
  }

  limitsOf(userId: string): Promise<QuotaLimits> {
    let limits = this.#cache.get(userId);
    if (!limits) {
      const loading = getUserBudget(this.db, userId).then(budgetLimits);
      limits = loading;
      this.#cache.set(userId, loading);
      // A failed lookup is not remembered: the next call tries again.
      loading.catch(() => {
        if (this.#cache.get(userId) === loading) this.#cache.delete(userId);
      });
    }
    return limits;
  }
}

/** The stricter of two sets of limits, limit by limit (a user's budget tightens the plan's, never loosens it). */
export function tighterLimits(a: QuotaLimits, b: QuotaLimits | undefined): QuotaLimits {
  if (!b) return a;
  const result: QuotaLimits = { ...a };
  for (const name of ['dailyRequests', 'dailyCredits', 'monthlyCredits'] as const) {
    const other = b[name];
    if (other === undefined) continue;
    const own = result[name];
    result[name] = own === undefined ? other : Math.min(own, other);
  }
  return result;
}
