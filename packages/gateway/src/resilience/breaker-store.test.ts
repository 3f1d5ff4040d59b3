import { describe, expect, it } from 'vitest';
import { runBreakerStoreSuite } from '../testing/breaker-store.suite.js';
import { MemoryBreakerStore } from './breaker-store.js';
import { CircuitBreaker } from './circuit-breaker.js';

runBreakerStoreSuite('memory', { create: () => new MemoryBreakerStore() });

describe('CircuitBreaker', () => {
  it('admits one half-open probe and fails open when the store is down', async () => {
    let time = 0;
    const store = new MemoryBreakerStore({ now: () => time });
    const breaker = new CircuitBreaker({ store, failureThreshold: 2, openMs: 100, probeTtlMs: 1_000 });
    await breaker.onFailure('k');
    expect(await breaker.admit('k')).toEqual({ allowed: true, probe: false });
    await breaker.onFailure('k');
    expect(await breaker.admit('k')).toEqual({ allowed: false });
    time = 150;
    expect(await breaker.admit('k')).toEqual({ allowed: true, probe: true });
    expect(await breaker.admit('k')).toEqual({ allowed: false });
    await breaker.onSuccess('k');
    expect(await breaker.admit('k')).toEqual({ allowed: true, probe: false });

    const broken = new CircuitBreaker({
      store: {
        getState: () => Promise.reject(new Error('redis down')),
        recordSuccess: () => Promise.reject(new Error('redis down')),
        recordFailure: () => Promise.reject(new Error('redis down')),
        tryAcquireProbe: () => Promise.reject(new Error('redis down')),
      },
      failureThreshold: 1,
      openMs: 100,
      probeTtlMs: 100,
    });
    expect(await broken.admit('k')).toEqual({ allowed: true, probe: false });
    await expect(broken.onFailure('k')).resolves.toBeUndefined();
  });
});
