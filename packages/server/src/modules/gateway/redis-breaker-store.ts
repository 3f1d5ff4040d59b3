import type { BreakerFailureOptions, BreakerState, BreakerStore } from '@webox/gateway';
import type { Redis } from 'ioredis';

// Each breaker is one hash (f = consecutive failures, o = open-until, p = probe-until, epoch ms).
// The scripts read Redis's own clock, so every server process agrees on when a breaker half-opens.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const KEEP = 'redis.call("PEXPIRE", KEYS[1], math.max(tonumber(ARGV[2]) * 10, 3600000))';

const scripts = {
  breakerState: `${NOW}
    return { tonumber(redis.call('HGET', KEYS[1], 'f') or '0'), tonumber(redis.call('HGET', KEYS[1], 'o') or '-1'), now }`,
  breakerFailure: `${NOW}
    local failures = tonumber(redis.call('HGET', KEYS[1], 'f') or '0') + 1
    local openUntil = tonumber(redis.call('HGET', KEYS[1], 'o') or '-1')
    local halfOpen = openUntil >= 0 and openUntil <= now
    redis.call('HSET', KEYS[1], 'f', failures)
    if halfOpen or failures >= tonumber(ARGV[1]) then
      openUntil = now + tonumber(ARGV[2])
      redis.call('HSET', KEYS[1], 'o', openUntil)
      redis.call('HDEL', KEYS[1], 'p')
    end
    ${KEEP}
    return { failures, openUntil, now }`,
  breakerProbe: `${NOW}
    local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'p') or '-1')
    if probeUntil > now then return 0 end
    redis.call('HSET', KEYS[1], 'p', now + tonumber(ARGV[1]))
    redis.call("PEXPIRE", KEYS[1], math.max(tonumber(ARGV[1]) * 10, 3600000))
    return 1`,
};

/** How long a process trusts a clean breaker it read (see `RedisBreakerStore.#cleanUntil`). */
const CLEAN_FOR_MS = 1_000;

type ScriptClient = Redis & {
  breakerState(key: string): Promise<[number, number, number]>;
  breakerFailure(key: string, threshold: number, openMs: number): Promise<[number, number, number]>;
  breakerProbe(key: string, ttlMs: number): Promise<number>;
};

function toState([failures, openUntil, now]: [number, number, number]): BreakerState {
  if (openUntil < 0) return { status: 'closed', failures };
  return { status: openUntil > now ? 'open' : 'half-open', failures, openUntil };
}

/** Circuit breakers shared by every server process through Redis; same behaviour as MemoryBreakerStore. */
export class RedisBreakerStore implements BreakerStore {
  readonly #redis: ScriptClient;
  /**
   * Keys this process saw closed with no failures, and until when it trusts that without asking again. Within that
   * time a read costs no round trip, and a success has nothing to reset (each served request used to cost a script
   * call and a DEL). What another process records meanwhile reaches this one at most `CLEAN_FOR_MS` later; a
   * failure it records is then kept rather than reset by a success here, which can only open the breaker sooner.
   */
  readonly #cleanUntil = new Map<string, number>();

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    for (const [name, lua] of Object.entries(scripts)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua });
    }
    this.#redis = redis as ScriptClient;
  }

  async getState(key: string): Promise<BreakerState> {
    if (this.#isClean(key)) return { status: 'closed', failures: 0 };
    const state = toState(await this.#redis.breakerState(this.prefix + key));
    if (state.status === 'closed' && state.failures === 0) this.#markClean(key);
    else this.#cleanUntil.delete(key);
    return state;
  }

  async recordSuccess(key: string): Promise<void> {
    if (this.#isClean(key)) return;
    await this.#redis.del(this.prefix + key);
    this.#markClean(key);
  }

  async recordFailure(key: string, options: BreakerFailureOptions): Promise<BreakerState> {
    this.#cleanUntil.delete(key);
    return toState(await this.#redis.breakerFailure(this.prefix + key, options.threshold, options.openMs));
  }

  #isClean(key: string): boolean {
    return (this.#cleanUntil.get(key) ?? 0) > Date.now();
  }

  #markClean(key: string) {
    this.#cleanUntil.set(key, Date.now() + CLEAN_FOR_MS);
  }

  async tryAcquireProbe(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.breakerProbe(this.prefix + key, ttlMs)) === 1;
  }
}
