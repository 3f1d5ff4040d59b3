import { describe, expect, it } from 'vitest';
import { computeBackoffDelay } from './backoff.js';
import { HealthTracker } from './health.js';
import { KeyRotation } from './key-rotation.js';
import { parseRetryAfter } from './retry-after.js';

const options = { baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };

describe('computeBackoffDelay', () => {
  it('grows exponentially under full jitter and stays under the cap', () => {
    expect(computeBackoffDelay(0, options, undefined, () => 0.999)).toBe(99);
    expect(computeBackoffDelay(2, options, undefined, () => 0.999)).toBe(399);
    expect(computeBackoffDelay(10, options, undefined, () => 0.999)).toBe(999);
    expect(computeBackoffDelay(3, options, undefined, () => 0)).toBe(0);
  });

  it('waits at least Retry-After, capped', () => {
    expect(computeBackoffDelay(0, options, 2_000, () => 0.5)).toBe(2_000);
    expect(computeBackoffDelay(0, options, 60_000, () => 0.5)).toBe(5_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('KeyRotation', () => {
  it('starts each call one key further', () => {
    const rotation = new KeyRotation();
    expect(rotation.order('p', 3)).toEqual([0, 1, 2]);
    expect(rotation.order('p', 3)).toEqual([1, 2, 0]);
    expect(rotation.order('p', 3)).toEqual([2, 0, 1]);
    expect(rotation.order('other', 2)).toEqual([0, 1]);
  });
});

describe('HealthTracker', () => {
  it('computes success rate and latency percentiles over a ring buffer', () => {
    const tracker = new HealthTracker(100);
    for (let latency = 1; latency <= 200; latency += 1)
      tracker.record('p', { success: latency % 4 !== 0, latencyMs: latency });
    const health = tracker.snapshot('p', true);
    expect(health.samples).toBe(100);
    expect(health.successRate).toBe(0.75);
    expect(health.latencyMs).toEqual({ p50: 150, p95: 195, p99: 199 });
    expect(tracker.snapshot('unknown', false)).toMatchObject({
      samples: 0,
      successRate: 1,
      configured: false,
    });
  });
});
