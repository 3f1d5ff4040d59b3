import { AppError } from '../../errors.js';
import type { CacheStore, CounterStore, RateLimiterFactory, Stores } from '../../stores/index.js';
import type { RateLimitDecision, RateLimiter } from '../../stores/rate-limiter.js';
import type { AccountsContext } from './context.js';
import { hashToken } from './tokens.js';

/** Failed sign-ins counted per address: free tries, then doubling waits, then a lockout. */
export interface SignInThrottleOptions {
  /** Failures allowed before any wait (default 3). */
  freeFailures?: number;
  /** Failures that lock the address (default 10). */
  lockAfter?: number;
  /** Length of the lock, and how long failures are remembered (default 15 minutes). */
  lockMs?: number;
  /** Longest wait between two tries before the lock (default 5 minutes). */
  maxDelayMs?: number;
  now?: () => number;
}

export type ThrottleDecision =
  | { allowed: true }
  | { allowed: false; reason: 'delay' | 'locked'; retryAfterMs: number };

/**
 * Keyed by a hash of the address, whether or not an account exists for it, so the answers for a known and an unknown
 * address are the same. State lives in the shared stores (Redis when configured), so every process sees it: the
 * failures in an atomic counter, so parallel failures are all counted and none can keep the count below the lock, and
 * the instant of the last one in the cache. The counter expires `lockMs` after the last failure, which is also when a
 * lock ends, so counting starts again after a lock.
 */
export class SignInThrottle {
  readonly #free: number;
  readonly #lockAfter: number;
  readonly #lockMs: number;
  readonly #maxDelayMs: number;
  readonly #now: () => number;

  constructor(
    private readonly stores: { cache: CacheStore; counters: CounterStore },
    options: SignInThrottleOptions = {},
  ) {
    this.#free = options.freeFailures ?? 3;
    this.#lockAfter = options.lockAfter ?? 10;
    this.#lockMs = options.lockMs ?? 15 * 60_000;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#now = options.now ?? Date.now;
    if (this.#free < 0 || this.#lockAfter <= this.#free)
      throw new RangeError('lockAfter must exceed freeFailures');
  }

  /** Failures that lock the address; also the size of the attempt budget that goes with it. */
  get lockAfter(): number {
    return this.#lockAfter;
  }

  /** Length of the lock. */
  get lockMs(): number {
    return this.#lockMs;
  }

  #key(email: string) {
    return `signin-throttle:${hashToken(email)}`;
  }

  /** The wait imposed after `failures` failures: 1 s, 2 s, 4 s... from the first one past the free tries. */
  delayAfter(failures: number): number {
    if (failures < this.#free) return 0;
    return Math.min(1000 * 2 ** (failures - this.#free), this.#maxDelayMs);
  }

  async check(email: string): Promise<ThrottleDecision> {
    const key = this.#key(email);
    const failures = await this.stores.counters.get(key);
    if (failures === 0) return { allowed: true };
    const now = this.#now();
    const recorded = Number(await this.stores.cache.get(key));
    const lastFailureAt = Number.isFinite(recorded) && recorded > 0 ? recorded : undefined;
    if (failures >= this.#lockAfter) {
      return {
        allowed: false,
        reason: 'locked',
        retryAfterMs: Math.max(1, (lastFailureAt ?? now) + this.#lockMs - now),
      };
    }
    const wait = lastFailureAt === undefined ? 0 : lastFailureAt + this.delayAfter(failures) - now;
    if (wait > 0) return { allowed: false, reason: 'delay', retryAfterMs: wait };
    return { allowed: true };
  }

  /** Counts a failure; returns the count it made and whether the address is now locked. */
  async recordFailure(email: string): Promise<{ failures: number; locked: boolean }> {
    const key = this.#key(email);
    const now = this.#now();
    const failures = await this.stores.counters.increment(key, 1, new Date(now + this.#lockMs));
    // A plain write: parallel failures write instants milliseconds apart and whichever lands last will do.
    await this.stores.cache.set(key, String(now), this.#lockMs);
    return { failures, locked: failures >= this.#lockAfter };
  }

  async clear(email: string): Promise<void> {
    const key = this.#key(email);
    await this.stores.counters.delete(key);
    await this.stores.cache.delete(key);
  }
}

/** A hard cap on attempts per key; see `AttemptBudget`. */
export interface AttemptBudgetOptions {
  /** Name of the budget, part of every store key. */
  name: string;
  /** Attempts evaluated per window (default 10). */
  attempts?: number;
  /** Length of the window, counted from its first attempt (default 15 minutes). */
  windowSeconds?: number;
}

/**
 * The hard limit behind `SignInThrottle`: an attempt is taken from a shared rate limiter (memory or Redis) in one
 * atomic step before the secret is checked, so however many guesses arrive at once, from however many addresses, at
 * most `attempts` of them are ever evaluated per window. The throttle's check only reads what earlier failures left, so
 * a burst passes it before any of them is counted: it paces one person's retries, this caps a burst.
 */
export class AttemptBudget {
  readonly #limiter: RateLimiter;

  constructor(rateLimiters: RateLimiterFactory, options: AttemptBudgetOptions) {
    this.#limiter = rateLimiters({
      name: `attempts:${options.name}`,
      points: options.attempts ?? 10,
      durationSeconds: options.windowSeconds ?? 15 * 60,
    });
  }

  /** Takes one attempt; refused when the window's budget is spent (`retryAfterMs` until it renews). */
  take(key: string): Promise<RateLimitDecision> {
    return this.#limiter.consume(key);
  }

  /** Returns the attempt of a success, so signing in often does not wear the budget down. */
  giveBack(key: string): Promise<void> {
    return this.#limiter.reward(key);
  }

  /** Gives the whole budget back (the owner proved themselves another way, e.g. a password reset link). */
  reset(key: string): Promise<void> {
    return this.#limiter.reset(key);
  }
}

/** One instance per app (per set of stores), made on first use. */
function perStores<T>(make: (context: AccountsContext) => T): (context: AccountsContext) => T {
  const instances = new WeakMap<Stores, T>();
  return (context) => {
    let instance = instances.get(context.stores);
    if (!instance) {
      instance = make(context);
      instances.set(context.stores, instance);
    }
    return instance;
  };
}

export const signInThrottle = perStores(
  (context) => new SignInThrottle(context.stores, { now: context.now }),
);

/** Second-factor codes evaluated per account: 10 per 15 minutes, whatever the concurrency or source address. */
export const twoFactorBudget = perStores(
  (context) => new AttemptBudget(context.stores.rateLimiters, { name: 'two-factor' }),
);

/**
 * Passwords checked per address (known or not, by a hash of it): as many as lock it, per lock length (10 per 15
 * minutes), whatever the concurrency or source address.
 */
export const passwordBudget = perStores((context) => {
  const throttle = signInThrottle(context);
  return new AttemptBudget(context.stores.rateLimiters, {
    name: 'password',
    attempts: throttle.lockAfter,
    windowSeconds: throttle.lockMs / 1000,
  });
});

/** The answer to a refused attempt: `account_locked` once the lock or the budget says so, `rate_limited` for a wait. */
export function throttled(retryAfterMs: number, locked: boolean): AppError {
  return locked
    ? new AppError(
        'account_locked',
        'Too many failed attempts: sign-in is locked for a while. Try again later.',
        {
          retryAfterSeconds: retryAfterMs / 1000,
        },
      )
    : new AppError('rate_limited', 'Too many failed attempts; wait before trying again.', {
        retryAfterSeconds: retryAfterMs / 1000,
      });
}

/**
 * A secret check of a signed-in person proving themselves again (current password, second-factor code): one attempt
 * taken from `budget` under `key` before `check` runs, given back when it passes. These draw on the sign-in's own
 * budgets, so a stolen session is no faster a way to guess the password or the code than the sign-in form, and no
 * way around its lock. `check` answers undefined for a failure.
 */
export async function budgetedCheck<T>(
  budget: AttemptBudget,
  key: string,
  check: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const attempt = await budget.take(key);
  if (!attempt.allowed) throw throttled(attempt.retryAfterMs, true);
  const result = await check();
  if (result !== undefined) await budget.giveBack(key);
  return result;
}
