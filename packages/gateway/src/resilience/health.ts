/** Passive health figures per provider, from the outcomes of real calls (no probing traffic). */
export type ProviderHealth = {
  provider: string;
  /** False when the provider needs a key and has none: it is skipped by routing. */
  configured: boolean;
  /** Outcomes kept in the window (at most the ring size). */
  samples: number;
  /** Share of successful calls in the window, 0..1; 1 when there are no samples. */
  successRate: number;
  latencyMs: { p50: number; p95: number; p99: number };
  lastErrorCode?: string;
  lastErrorAt?: number;
};

interface Outcome {
  success: boolean;
  latencyMs: number;
}

/** Fixed-size ring of recent outcomes: constant memory, recent behaviour only. */
class OutcomeRing {
  readonly #items: Outcome[] = [];
  #next = 0;
  constructor(readonly size: number) {}

  push(outcome: Outcome): void {
    if (this.#items.length < this.size) this.#items.push(outcome);
    else this.#items[this.#next] = outcome;
    this.#next = (this.#next + 1) % this.size;
  }

  values(): readonly Outcome[] {
    return this.#items;
  }
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export class HealthTracker {
  readonly #rings = new Map<string, OutcomeRing>();
  readonly #lastErrors = new Map<string, { code: string; at: number }>();

  constructor(
    readonly ringSize = 500,
    readonly now: () => number = Date.now,
  ) {}

  record(provider: string, outcome: { success: boolean; latencyMs: number; errorCode?: string }): void {
    let ring = this.#rings.get(provider);
    if (!ring) {
      ring = new OutcomeRing(this.ringSize);
      this.#rings.set(provider, ring);
    }
    ring.push({ success: outcome.success, latencyMs: Math.max(0, Math.round(outcome.latencyMs)) });
    if (!outcome.success && outcome.errorCode) {
      this.#lastErrors.set(provider, { code: outcome.errorCode, at: this.now() });
    }
  }

  snapshot(provider: string, configured: boolean): ProviderHealth {
    const outcomes = this.#rings.get(provider)?.values() ?? [];
    const latencies = outcomes.map((outcome) => outcome.latencyMs).sort((left, right) => left - right);
    const successes = outcomes.filter((outcome) => outcome.success).length;
    const lastError = this.#lastErrors.get(provider);
    return {
      provider,
      configured,
      samples: outcomes.length,
      successRate: outcomes.length === 0 ? 1 : successes / outcomes.length,
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
        p99: percentile(latencies, 0.99),
      },
      ...(lastError ? { lastErrorCode: lastError.code, lastErrorAt: lastError.at } : {}),
    };
  }
}
