import type { Redis } from 'ioredis';

/**
 * Integer counters that vanish at an explicit instant (quotas that reset at midnight in a time zone).
 * The expiry is absolute, so a counter started just before a boundary still resets on it.
 */
export interface CounterStore {
  /** Adds `amount` and returns the new total; the counter expires at `expiresAt`. */
  increment(key: string, amount: number, expiresAt: Date): Promise<number>;
  get(key: string): Promise<number>;
  /** Drops the counter at once (it reads 0 again). */
  delete(key: string): Promise<void>;
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

  async delete(key: string) {
    this.#counters.delete(key);
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

/** INCRBY and PEXPIREAT as one script: atomic, so no counter is ever left without its expiry. */
const incrementUntilScript = `local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return value`;

type ScriptedRedis = Redis & {
  weboxIncrementUntil(key: string, amount: number, expiresAtMs: number): Promise<number>;
};

export class RedisCounterStore implements CounterStore {
  readonly #redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // One command where MULTI/INCRBY/PEXPIREAT/EXEC were four and a transaction of their own: it rides ioredis's
    // auto-pipelining with the other commands of the moment (the transaction per /v1 call was an eighth of its CPU).
    if (!('weboxIncrementUntil' in redis)) {
      redis.defineCommand('weboxIncrementUntil', { numberOfKeys: 1, lua: incrementUntilScript });
    }
    this.#redis = redis as ScriptedRedis;
  }

  async increment(key: string, amount: number, expiresAt: Date) {
    return Number(await this.#redis.weboxIncrementUntil(this.prefix + key, amount, expiresAt.getTime()));
  }

  async get(key: string) {
    return Number((await this.#redis.get(this.prefix + key)) ?? 0);
  }

  async delete(key: string) {
    await this.#redis.del(this.prefix + key);
  }
}
