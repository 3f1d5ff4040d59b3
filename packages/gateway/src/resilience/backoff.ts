import { type CancelSignal, onAbort } from '../transport/abort.js';

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound for a provider's Retry-After; a longer wait is not worth holding the client for. */
  maxRetryAfterMs: number;
}

/**
 * Delay before retry number `retry` (0 for the first retry): exponential backoff with full jitter,
 * so many clients failing together do not retry in lockstep. A provider's Retry-After wins when it
 * asks for longer, capped at `maxRetryAfterMs`.
 */
export function computeBackoffDelay(
  retry: number,
  options: BackoffOptions,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jittered;
  return Math.min(Math.max(jittered, retryAfterMs), options.maxRetryAfterMs);
}

/** Sleeps, waking early (with the signal's reason) when the signal aborts. */
export function sleep(ms: number, signal?: CancelSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const stopListening = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(signal.reason);
        })
      : undefined;
    const timer = setTimeout(() => {
      stopListening?.();
      resolve();
    }, ms);
  });
}
