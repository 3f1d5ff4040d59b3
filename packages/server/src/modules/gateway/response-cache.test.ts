import { describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../../stores/cache-store.js';
import { ResponseCache } from './response-cache.js';

describe('ResponseCache.decide', () => {
  const cache = new ResponseCache(new MemoryCacheStore(), { smart: 60 });
  const decide = (model: string, headers: Record<string, string> = {}) =>
    cache.decide({
      userId: 'user-1',
      request: { model, messages: [{ role: 'user', content: 'Hi' }] },
      headers,
    });

  it('caches an alias configured for it, and nothing else unless asked', () => {
    expect(decide('smart')?.ttlMs).toBe(60_000);
    expect(decide('other')).toBeUndefined();
    expect(decide('other', { 'x-webox-cache': 'true', 'x-webox-cache-ttl': '30' })?.ttlMs).toBe(30_000);
  });

  it('finds no alias TTL under a name every object inherits', () => {
    for (const model of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(decide(model)).toBeUndefined();
    }
  });
});
