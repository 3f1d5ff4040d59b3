/**
 * One run of `run` at a time, shared: a call while one is running gets that run's promise (its result, or its error:
 * an answer that began a little before the call), a call after it settled starts a new one, so no caller gets an
 * answer that had finished before its call. Per process: for work too heavy to do N times at once for N callers, such
 * as a scan of the whole ledger.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    if (running) return running;
    // A run that throws at once still settles as a rejected promise (and is forgotten like any other).
    const current = (async () => run())();
    running = current;
    // Registered before any waiter's: once settled, it is forgotten before a waiter can call again.
    const forget = () => {
      if (running === current) running = undefined;
    };
    current.then(forget, forget);
    return current;
  };
}
