import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BreakerStore } from '../resilience/breaker-store.js';

export interface BreakerStoreSuiteOptions {
  /** A fresh, empty store per test (e.g. a Redis store under a random key prefix). */
  create: () => Promise<BreakerStore> | BreakerStore;
  /** Cleanup after each test (close connections, delete keys). */
  destroy?: (store: BreakerStore) => Promise<void> | void;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The behaviour every BreakerStore must have. The memory store runs it here; the server runs it against
 * its Redis store. Uses real time with short windows, since Redis keeps its own clock.
 */
export function runBreakerStoreSuite(name: string, options: BreakerStoreSuiteOptions): void {
  describe(`BreakerStore: ${name}`, () => {
    let store: BreakerStore;
    beforeEach(async () => {
      store = await options.create();
    });
    afterEach(async () => {
      await options.destroy?.(store);
    });

    it('starts closed with no failures', async () => {
      expect(await store.getState('provider:key-a')).toEqual({ status: 'closed', failures: 0 });
    });

    it('counts consecutive failures and opens at the threshold', async () => {
      const settings = { threshold: 3, openMs: 10_000 };
      expect((await store.recordFailure('provider:key-a', settings)).status).toBe('closed');
      expect((await store.recordFailure('provider:key-a', settings)).status).toBe('closed');
      const opened = await store.recordFailure('provider:key-a', settings);
      expect(opened.status).toBe('open');
      expect(opened.failures).toBe(3);
      expect(opened.openUntil).toBeGreaterThan(Date.now());
      expect((await store.getState('provider:key-a')).status).toBe('open');
    });

    it('keeps keys apart', async () => {
      await store.recordFailure('provider:key-a', { threshold: 1, openMs: 10_000 });
      expect((await store.getState('provider:key-a')).status).toBe('open');
      expect((await store.getState('provider:key-b')).status).toBe('closed');
    });

    it('a success resets the count', async () => {
      const settings = { threshold: 2, openMs: 10_000 };
      await store.recordFailure('provider:key-a', settings);
      await store.recordSuccess('provider:key-a');
      expect(await store.getState('provider:key-a')).toEqual({ status: 'closed', failures: 0 });
      expect((await store.recordFailure('provider:key-a', settings)).status).toBe('closed');
    });

    it('turns half-open after openMs and grants a single probe', async () => {
      await store.recordFailure('provider:key-a', { threshold: 1, openMs: 100 });
      expect(await store.tryAcquireProbe('provider:key-a', 1_000)).toBe(true);
      await wait(150);
      expect((await store.getState('provider:key-a')).status).toBe('half-open');
      // The probe taken while open has not expired; a fresh store would grant exactly one here.
      await store.recordSuccess('provider:key-a');
      await store.recordFailure('provider:key-a', { threshold: 1, openMs: 100 });
      await wait(150);
      const grants = await Promise.all([1, 2, 3].map(() => store.tryAcquireProbe('provider:key-a', 1_000)));
      expect(grants.filter(Boolean)).toHaveLength(1);
    });

    it('releases the probe after its ttl', async () => {
      await store.recordFailure('provider:key-a', { threshold: 1, openMs: 50 });
      await wait(80);
      // The ttl is long enough that a loaded machine cannot let it lapse between the first two calls.
      expect(await store.tryAcquireProbe('provider:key-a', 500)).toBe(true);
      expect(await store.tryAcquireProbe('provider:key-a', 500)).toBe(false);
      await wait(600);
      expect(await store.tryAcquireProbe('provider:key-a', 500)).toBe(true);
    });

    it('re-opens at once when the half-open probe fails', async () => {
      await store.recordFailure('provider:key-a', { threshold: 3, openMs: 50 });
      await store.recordFailure('provider:key-a', { threshold: 3, openMs: 50 });
      await store.recordFailure('provider:key-a', { threshold: 3, openMs: 50 });
      await wait(80);
      expect((await store.getState('provider:key-a')).status).toBe('half-open');
      expect(await store.tryAcquireProbe('provider:key-a', 1_000)).toBe(true);
      const reopened = await store.recordFailure('provider:key-a', { threshold: 3, openMs: 10_000 });
      expect(reopened.status).toBe('open');
    });

    it('closes after a successful probe', async () => {
      await store.recordFailure('provider:key-a', { threshold: 1, openMs: 50 });
      await wait(80);
      expect(await store.tryAcquireProbe('provider:key-a', 1_000)).toBe(true);
      await store.recordSuccess('provider:key-a');
      expect(await store.getState('provider:key-a')).toEqual({ status: 'closed', failures: 0 });
      // A new failure run starts from zero, and the probe lock is gone.
      expect(await store.tryAcquireProbe('provider:key-a', 1_000)).toBe(true);
    });
  });
}
