import type { CacheStore, RateLimiterFactory } from '../../stores/index.js';
import type { RateLimitDecision, RateLimiter } from '../../stores/rate-limiter.js';
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

interface ThrottleState {
  failures: number;
  lastFailureAt: number;
  lockedUntil?: number;
}

export type ThrottleDecision =
  | { allowed: true }
  | { allowed: false; reason: 'delay' | 'locked'; retryAfterMs: number };

/**
 * Keyed by a hash of the address, whether or not an account exists for it, so the answers for a known and an unknown
 * address are the same. State lives in the shared cache (Redis when configured), so every process sees it.
 */
export class SignInThrottle {
  readonly #free: number;
  readonly #lockAfter: number;
  readonly #lockMs: number;
  readonly #maxDelayMs: number;
  readonly #now: () => number;

  constructor(
    private readonly cache: CacheStore,
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

  #key(email: string) {
    return `signin-throttle:${hashToken(email)}`;
  }

  async #read(email: string): Promise<ThrottleState | undefined> {
    const raw = await this.cache.get(this.#key(email));
    return raw ? (JSON.parse(raw) as ThrottleState) : undefined;
  }

  /** The wait imposed after `failures` failures: 1 s, 2 s, 4 s... from the first one past the free tries. */
  delayAfter(failures: number): number {
    if (failures < this.#free) return 0;
    return Math.min(1000 * 2 ** (failures - this.#free), this.#maxDelayMs);
  }

  async check(email: string): Promise<ThrottleDecision> {
    const state = await this.#read(email);
    if (!state) return { allowed: true };
    const now = this.#now();
    if (state.lockedUntil && state.lockedUntil > now) {
      return { allowed: false, reason: 'locked', retryAfterMs: state.lockedUntil - now };
    }
    const wait = state.lastFailureAt + this.delayAfter(state.failures) - now;
    if (!state.lockedUntil && wait > 0) return { allowed: false, reason: 'delay', retryAfterMs: wait };
    return { allowed: true };
  }

  /** Counts a failure; returns whether this one locked the address. */
  async recordFailure(email: string): Promise<{ failures: number; locked: boolean }> {
    const now = this.#now();
    const previous = await this.#read(email);
    // After a lock has run out, counting starts again.
    const base = previous?.lockedUntil && previous.lockedUntil <= now ? 0 : (previous?.failures ?? 0);
    const failures = base + 1;
    const locked = failures >= this.#lockAfter;
    const state: ThrottleState = {
      failures,
      lastFailureAt: now,
      ...(locked ? { lockedUntil: now + this.#lockMs } : {}),
    };
    await this.cache.set(this.#key(email), JSON.stringify(state), this.#lockMs);
    return { failures, locked };
  }

  async clear(email: string): Promise<void> {
    await this.cache.delete(this.#key(email));
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
 * most `attempts` of them are ever evaluated per window. The throttle's check-then-record steps are not atomic: they
 * pace one person's retries, this caps a burst.
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
}
