/**
 * Where circuit-breaker state lives. Async so it can sit on Redis and be shared by every server
 * process; the memory implementation serves a single process and tests.
 */

export type BreakerStatus = 'closed' | 'open' | 'half-open';

export interface BreakerState {
  status: BreakerStatus;
  /** Consecutive failures since the last success. */
  failures: number;
  /** Epoch ms until which the breaker stays open (set once it opened). */
  openUntil?: number;
}

export interface BreakerFailureOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** How long it stays open before one half-open probe may go through. */
  openMs: number;
}

export interface BreakerStore {
  getState(key: string): Promise<BreakerState>;
  /** Closes the breaker and clears the failure count and any probe lock. */
  recordSuccess(key: string): Promise<void>;
  /**
   * Counts a failure. Opens the breaker when the count reaches the threshold, and re-opens it at once
   * when the failure was a half-open probe's. Returns the state after the update.
   */
  recordFailure(key: string, options: BreakerFailureOptions): Promise<BreakerState>;
  /**
   * Claims the single half-open probe for `ttlMs` (so one caller tests the provider while the others
   * keep skipping it). Returns false when another caller holds it.
   */
  tryAcquireProbe(key: string, ttlMs: number): Promise<boolean>;
}

interface MemoryEntry {
  failures: number;
  openUntil?: number;
  probeUntil?: number;
}

export interface MemoryBreakerStoreOptions {
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export class MemoryBreakerStore implements BreakerStore {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #now: () => number;

  constructor(options: MemoryBreakerStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async getState(key: string): Promise<BreakerState> {
    return this.#stateOf(this.#entries.get(key));
  }

  async recordSuccess(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async recordFailure(key: string, options: BreakerFailureOptions): Promise<BreakerState> {
    const entry = this.#entries.get(key) ?? { failures: 0 };
    const wasHalfOpen = this.#stateOf(entry).status === 'half-open';
    entry.failures += 1;
    if (wasHalfOpen || entry.failures >= options.threshold) {
      entry.openUntil = this.#now() + options.openMs;
      delete entry.probeUntil;
    }
    this.#entries.set(key, entry);
    return this.#stateOf(entry);
  }

  async tryAcquireProbe(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.#entries.get(key) ?? { failures: 0 };
    const now = this.#now();
    if (entry.probeUntil !== undefined && entry.probeUntil > now) return false;
    entry.probeUntil = now + ttlMs;
    this.#entries.set(key, entry);
    return true;
  }

  #stateOf(entry: MemoryEntry | undefined): BreakerState {
    if (!entry) return { status: 'closed', failures: 0 };
    if (entry.openUntil === undefined) return { status: 'closed', failures: entry.failures };
    const status = entry.openUntil > this.#now() ? 'open' : 'half-open';
    return { status, failures: entry.failures, openUntil: entry.openUntil };
  }
}
