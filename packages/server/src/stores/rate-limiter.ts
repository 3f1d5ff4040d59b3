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

/**
 * A factory bound to one backend, so callers create limiters without knowing where state lives. A name is one budget:
 * every limiter made with it counts in the same window per key (routes of several modules share `user:reads`), and a
 * second call with other points or another duration throws.
 */
export type RateLimiterFactory = (options: RateLimiterOptions) => RateLimiter;

export function memoryRateLimiterFactory(): RateLimiterFactory {
  return onePerName((options) => wrap(new RateLimiterMemory(limiterOptions(options, ''))));
}

export function redisRateLimiterFactory(redis: Redis, prefix: string): RateLimiterFactory {
  return onePerName((options) =>
    wrap(new RateLimiterRedis({ storeClient: redis, ...limiterOptions(options, prefix) })),
  );
}

/**
 * Hands out one limiter per name. In Redis the name is the key, so limiters of one name always shared their counts; a
 * memory limiter keeps its counts in its own instance, so each caller's copy was a budget of its own (N modules, N
 * times the budget). The same instance for every caller makes memory count as Redis does. Two budgets under one name
 * would be one key counted against two limits (Redis) or two counts (memory): neither is meant, so it throws.
 */
function onePerName(make: RateLimiterFactory): RateLimiterFactory {
  const made = new Map<string, { options: RateLimiterOptions; limiter: RateLimiter }>();
  return (options) => {
    const existing = made.get(options.name);
    if (existing) {
      const { points, durationSeconds } = existing.options;
      if (points !== options.points || durationSeconds !== options.durationSeconds) {
        throw new RangeError(
          `rate limit ${options.name} is already ${points} per ${durationSeconds} s; ` +
            `another budget needs another name (asked ${options.points} per ${options.durationSeconds} s)`,
        );
      }
      return existing.limiter;
    }
    const limiter = make(options);
    made.set(options.name, { options: { ...options }, limiter });
    return limiter;
  };
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
