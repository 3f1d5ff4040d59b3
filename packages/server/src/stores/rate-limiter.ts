import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimitDecision {
  allowed: boolean;
  /** Points left in the current window. */
  remaining: number;
  /** Milliseconds until the window frees a point; 0 when allowed. */
  retryAfterMs: number;
}

/** Fixed-window limiter: at most `points` per `durationSeconds` per key. */
export interface RateLimiter {
  consume(key: string, points?: number): Promise<RateLimitDecision>;
  /** Gives back points taken in the current window (an attempt that proved legitimate); atomic like `consume`. */
  reward(key: string, points?: number): Promise<void>;
  /** Forgets the key's window: its next `consume` starts a fresh one with the full budget. */
  reset(key: string): Promise<void>;
}

export interface RateLimiterOptions {
  /** Name of the limit, part of every key (e.g. `auth`, `rpm`). */
  name: string;
  points: number;
  durationSeconds: number;
}

/** A factory bound to one backend, so callers create limiters without knowing where state lives. */
export type RateLimiterFactory = (options: RateLimiterOptions) => RateLimiter;

export function memoryRateLimiterFactory(): RateLimiterFactory {
  return (options) => wrap(new RateLimiterMemory(limiterOptions(options, '')));
}

export function redisRateLimiterFactory(redis: Redis, prefix: string): RateLimiterFactory {
  return (options) => wrap(new RateLimiterRedis({ storeClient: redis, ...limiterOptions(options, prefix) }));
}

function limiterOptions(options: RateLimiterOptions, prefix: string) {
  if (!Number.isInteger(options.points) || options.points < 1)
    throw new RangeError('points must be a positive integer');
  if (!(options.durationSeconds > 0)) throw new RangeError('durationSeconds must be positive');
  return {
    keyPrefix: `${prefix}rl:${options.name}`,
    points: options.points,
    duration: options.durationSeconds,
  };
}

function wrap(limiter: RateLimiterMemory | RateLimiterRedis): RateLimiter {
  return {
    async consume(key, points = 1) {
      try {
        const result = await limiter.consume(key, points);
        return { allowed: true, remaining: result.remainingPoints, retryAfterMs: 0 };
      } catch (rejection) {
        // rate-limiter-flexible rejects with a RateLimiterRes when over the limit, and with an Error on store failure.
        if (rejection instanceof RateLimiterRes) {
          return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, rejection.msBeforeNext) };
        }
        throw rejection;
      }
    },
    async reward(key, points = 1) {
      await limiter.reward(key, points);
    },
    async reset(key) {
      await limiter.delete(key);
    },
  };
}
