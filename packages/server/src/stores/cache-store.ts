import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/** Key-value cache with a time-to-live per entry (response cache, lookups). */
export interface CacheStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** In-process cache, bounded by entry count (default 10,000) so memory cannot grow without limit. */
export class MemoryCacheStore implements CacheStore {
  readonly #entries: LRUCache<string, string>;

  constructor(options: { maxEntries?: number } = {}) {
    this.#entries = new LRUCache({ max: options.maxEntries ?? 10_000, ttlAutopurge: false });
  }

  async get(key: string) {
    return this.#entries.get(key);
  }

  async set(key: string, value: string, ttlMs: number) {
    this.#entries.set(key, value, { ttl: Math.max(1, Math.round(ttlMs)) });
  }

  async delete(key: string) {
    this.#entries.delete(key);
  }
}

export class RedisCacheStore implements CacheStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(key: string) {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number) {
    await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async delete(key: string) {
    await this.redis.del(this.prefix + key);
  }
}
