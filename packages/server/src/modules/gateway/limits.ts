import { AppError } from '../../errors.js';
import type { Stores } from '../../stores/index.js';
import type { RateLimiter } from '../../stores/rate-limiter.js';
import type { V1Caller } from './v1-auth.js';

/**
 * Per-key requests-per-minute and tokens-per-minute. State lives in the shared stores (Redis when configured),
 * so the limits hold across every server process.
 */
export class KeyLimits {
  readonly #rpmLimiters = new Map<number, RateLimiter>();

  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends one request of the key's RPM budget and checks its TPM budget; throws 429 when either is spent. */
  async admit(caller: V1Caller): Promise<void> {
    if (!caller.keyId) return;
    const keyId = caller.keyId;
    // Both read the shared stores: asked together, they cost one round trip to Redis instead of two.
    const tpm = caller.tpmLimit ? this.#tpmWindow(keyId) : undefined;
    const [rpmDecision, tokensThisMinute] = await Promise.all([
      caller.rpmLimit ? this.#rpmLimiter(caller.rpmLimit).consume(keyId) : undefined,
      tpm ? this.stores.counters.get(tpm.key) : 0,
    ]);
    if (rpmDecision && !rpmDecision.allowed) {
      throw new AppError('rate_limited', `This key allows ${caller.rpmLimit} requests per minute.`, {
        retryAfterSeconds: rpmDecision.retryAfterMs / 1000,
      });
    }
    if (tpm && caller.tpmLimit && tokensThisMinute >= caller.tpmLimit) {
      throw new AppError('rate_limited', `This key allows ${caller.tpmLimit} tokens per minute.`, {
        retryAfterSeconds: (tpm.resetsAt - this.now()) / 1000,
      });
    }
  }

  /**
   * Counts the tokens a request actually used against the key's TPM window. Undefined (no promise made) when there
   * is nothing to count: most keys have no TPM limit, and this runs once per call.
   */
  recordTokens(caller: V1Caller, tokens: number): Promise<number> | undefined {
    if (!caller.keyId || !caller.tpmLimit || tokens <= 0) return undefined;
    const { key, resetsAt } = this.#tpmWindow(caller.keyId);
    return this.stores.counters.increment(key, tokens, new Date(resetsAt));
  }

  #tpmWindow(keyId: string) {
    const minute = Math.floor(this.now() / 60_000);
    return { key: `tpm:${keyId}:${minute}`, resetsAt: (minute + 1) * 60_000 };
  }

  #rpmLimiter(points: number): RateLimiter {
    let limiter = this.#rpmLimiters.get(points);
    if (!limiter) {
      limiter = this.stores.rateLimiters({ name: `key-rpm-${points}`, points, durationSeconds: 60 });
      this.#rpmLimiters.set(points, limiter);
    }
    return limiter;
  }
}
