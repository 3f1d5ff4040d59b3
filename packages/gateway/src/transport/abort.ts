import { EventEmitter } from 'node:events';

/**
 * A cheap abort signal for the per-request path: an EventEmitter with an AbortSignal's `aborted` and `reason`.
 * undici accepts it as a request `signal` (it listens with `once('abort')`). In Node 20 an AbortController and an
 * 'abort' listener added and removed on its EventTarget cost about 5 µs each, and every proxied call made two
 * controllers and four listeners; this costs a fraction of a microsecond.
 */
export class Abort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown = abortedByCaller): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** The default reason, made once: a DOMException captures a stack trace, which costs more than all the rest. */
const abortedByCaller = new DOMException('This operation was aborted', 'AbortError');

/** What the engine takes as a caller's cancellation: a standard AbortSignal or an `Abort`. */
export type CancelSignal = AbortSignal | Abort;

/** Calls `listener` once when `signal` aborts; returns the function that stops listening. */
export function onAbort(signal: CancelSignal, listener: () => void): () => void {
  if (signal instanceof Abort) {
    signal.once('abort', listener);
    return () => signal.removeListener('abort', listener);
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
