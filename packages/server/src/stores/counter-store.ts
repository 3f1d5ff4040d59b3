import type { Redis } from 'ioredis';

/**
 * Integer counters that vanish at an explicit instant (quotas that reset at midnight in a time zone).
 * The expiry is absolute, so a counter started just before a boundary still resets on it.
 */
export interface CounterStore {
  /** Adds `amount` and returns the new total; the counter expires at `expiresAt`. */
  increment(key: string, amount: number, expiresAt: Date): Promise<number>;
  get(key: string): Promise<number>;
}

export class MemoryCounterStore implements CounterStore {
  readonly #counters = new Map<string, { value: number; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async increment(key: string, amount: number, expiresAt: Date) {
    const current = this.#live(key);
    const value = (current?.value ?? 0) + amount;
    this.#counters.set(key, { value, expiresAt: expiresAt.getTime() });
    this.#sweep();
    return value;
  }

  async get(key: string) {
    return this.#live(key)?.value ?? 0;
  }

  #live(key: string) {
    const entry = this.#counters.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.#counters.delete(key);
      return undefined;
    }
    return entry;
  }

  // Expired keys are dropped lazily; an occasional sweep keeps abandoned keys from piling up.
  #sweep() {
    if (this.#counters.size % 1024 !== 0) return;
    const now = this.now();
    for (const [key, entry] of this.#counters) if (entry.expiresAt <= now) this.#counters.delete(key);
  }
}

export class RedisCounterStore implements CounterStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async increment(key: string, amount: number, expiresAt: Date) {
    const fullKey = this.prefix + key;
    const results = await this.redis
      .multi()
      .incrby(fullKey, amount)
      .pexpireat(fullKey, expiresAt.getTime())
      .exec();
    const [error, value] = results?.[0] ?? [new Error('counter increment failed'), 0];
    if (error) throw error;
    return Number(value);
  }

  async get(key: string) {
    return Number((await this.redis.get(this.prefix + key)) ?? 0);
  }
}
