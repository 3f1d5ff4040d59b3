import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { RateLimiterFactory } from '../stores/index.js';

export interface RateLimitOptions {
  /** Name of the limit; requests of one name share a budget, whatever route or module they reach. */
  name: string;
  /** Requests allowed per window. */
  points: number;
  /** Window length (default 60 s). */
  durationSeconds?: number;
  /** What one budget belongs to (default: the client IP). */
  key?: (request: FastifyRequest) => string;
}

/** A preHandler that answers 429 with Retry-After once a caller has spent its budget. Options are checked here, once. */
export function rateLimit(limiters: RateLimiterFactory, options: RateLimitOptions) {
  const limiter = limiters({
    name: options.name,
    points: options.points,
    durationSeconds: options.durationSeconds ?? 60,
  });
  const keyOf = options.key ?? ((request: FastifyRequest) => request.ip);
  return async function rateLimitHandler(request: FastifyRequest, reply: FastifyReply) {
    const decision = await limiter.consume(keyOf(request));
    reply.header('x-ratelimit-limit', String(options.points));
    reply.header('x-ratelimit-remaining', String(decision.remaining));
    if (!decision.allowed) {
      throw new AppError('rate_limited', 'Too many requests; try again later.', {
        retryAfterSeconds: decision.retryAfterMs / 1000,
      });
    }
  };
}
