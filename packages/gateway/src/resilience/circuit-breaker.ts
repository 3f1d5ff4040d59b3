import type { BreakerStore } from './breaker-store.js';

export interface CircuitBreakerOptions {
  store: BreakerStore;
  failureThreshold: number;
  openMs: number;
  /** How long a half-open probe holds its claim; about one attempt timeout. */
  probeTtlMs: number;
}

/** Whether a call may go through a breaker, and whether it is the half-open probe. */
export type BreakerAdmission = { allowed: false } | { allowed: true; probe: boolean };

/**
 * Breaker policy over a BreakerStore: closed lets everything through, open nothing, half-open exactly
 * one probe at a time. A store failure (say Redis down) fails open: availability of the gateway matters
 * more than the breaker.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
  }

  async admit(key: string): Promise<BreakerAdmission> {
    try {
      const state = await this.#options.store.getState(key);
      if (state.status === 'closed') return { allowed: true, probe: false };
      if (state.status === 'open') return { allowed: false };
      const acquired = await this.#options.store.tryAcquireProbe(key, this.#options.probeTtlMs);
      return acquired ? { allowed: true, probe: true } : { allowed: false };
    } catch {
      return { allowed: true, probe: false };
    }
  }

  async onSuccess(key: string): Promise<void> {
    await this.#options.store.recordSuccess(key).catch(() => undefined);
  }

  async onFailure(key: string): Promise<void> {
    await this.#options.store
      .recordFailure(key, { threshold: this.#options.failureThreshold, openMs: this.#options.openMs })
      .catch(() => undefined);
  }
}
