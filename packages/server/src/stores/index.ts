import { Redis } from 'ioredis';
import { type CacheStore, MemoryCacheStore, RedisCacheStore } from './cache-store.js';
import { type CounterStore, MemoryCounterStore, RedisCounterStore } from './counter-store.js';
import { BullJobQueue, type JobQueue, type JobQueueOptions, MemoryJobQueue } from './job-queue.js';
import { MemoryPubSub, type PubSub, RedisPubSub } from './pub-sub.js';
import {
  memoryRateLimiterFactory,
  type RateLimiterFactory,
  redisRateLimiterFactory,
} from './rate-limiter.js';

export type { CacheStore, CounterStore, JobQueue, PubSub, RateLimiterFactory };

/** The shared fast state of the server: in memory for one process, in Redis for many. */
export interface Stores {
  kind: 'memory' | 'redis';
  /** The Redis connection when configured (for stores added by modules). */
  redis: Redis | undefined;
  /** Key prefix for anything a module writes to Redis itself. */
  prefix: string;
  cache: CacheStore;
  counters: CounterStore;
  rateLimiters: RateLimiterFactory;
  pubSub: PubSub;
  jobs: JobQueue;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoresOptions {
  redisUrl?: string | undefined;
  prefix: string;
  jobs?: JobQueueOptions;
}

export function createStores(options: StoresOptions): Stores {
  if (!options.redisUrl) {
    const pubSub = new MemoryPubSub();
    const jobs = new MemoryJobQueue(options.jobs);
    return {
      kind: 'memory',
      redis: undefined,
      prefix: options.prefix,
      cache: new MemoryCacheStore(),
      counters: new MemoryCounterStore(),
      rateLimiters: memoryRateLimiterFactory(),
      pubSub,
      jobs,
      async ping() {},
      async close() {
        await jobs.close();
        await pubSub.close();
      },
    };
  }
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  // Connection errors surface on each command; the client reconnects by itself.
  redis.on('error', () => {});
  const pubSub = new RedisPubSub(redis, options.prefix);
  const jobs = new BullJobQueue(options.redisUrl, options.prefix, options.jobs);
  return {
    kind: 'redis',
    redis,
    prefix: options.prefix,
    cache: new RedisCacheStore(redis, `${options.prefix}cache:`),
    counters: new RedisCounterStore(redis, `${options.prefix}counter:`),
    rateLimiters: redisRateLimiterFactory(redis, options.prefix),
    pubSub,
    jobs,
    async ping() {
      await redis.ping();
    },
    async close() {
      await jobs.close();
      await pubSub.close();
      await redis.quit().catch(() => {});
    },
  };
}
