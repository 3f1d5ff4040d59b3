import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rateLimit } from '../../plugins/rate-limit.js';
import type { RateLimiterFactory } from '../../stores/index.js';
import { hashToken } from './tokens.js';

/**
 * Requests per minute: strict for authentication, moderate for generation and changes, relaxed for reads; `money` for
 * what an admin does to balances (grants, adjustments, refunds, bank-transfer confirmations).
 */
export const rateTiers = { auth: 10, generation: 60, reads: 300, writes: 60, money: 20 } as const;

/** Strict: per client IP. */
export function authIpLimit(app: FastifyInstance, name: string) {
  return rateLimit(app.stores.rateLimiters, { name: `auth-ip:${name}`, points: rateTiers.auth });
}

/** Strict: per account address named in the body, whoever sends it (spreads no further than the IP limit). */
export function authAccountLimit(app: FastifyInstance, name: string) {
  return rateLimit(app.stores.rateLimiters, {
    name: `auth-account:${name}`,
    points: rateTiers.auth,
    key: (request: FastifyRequest) => {
      const email = (request.body as { email?: unknown } | undefined)?.email;
      return typeof email === 'string' ? hashToken(email.trim().toLowerCase()) : request.ip;
    },
  });
}

/** Per signed-in account (run after authenticate). */
export function userLimit(
  app: FastifyInstance,
  tier: 'reads' | 'writes' | 'generation' | 'auth',
  name: string = tier,
) {
  return rateLimit(app.stores.rateLimiters, {
    name: `user:${name}`,
    points: rateTiers[tier],
    key: (request) => request.auth?.userId ?? request.ip,
  });
}

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
// One limiter per store backend: a memory limiter keeps its counts in its own instance, so billing's and payments'
// routes must share the same one for the budget to be one.
const moneyLimits = new WeakMap<RateLimiterFactory, PreHandler>();

/**
 * Per admin (run after authenticate): `rateTiers.money` a minute over every route that moves money by hand, together
 * (billing grants, adjustments and refunds, payment refunds, bank-transfer confirmations). A person checking each one
 * stays far below it; a stolen admin session or a runaway script cannot mint or reverse credits at request speed.
 */
export function adminMoneyLimit(app: FastifyInstance): PreHandler {
  let limit = moneyLimits.get(app.stores.rateLimiters);
  if (!limit) {
    limit = rateLimit(app.stores.rateLimiters, {
      name: 'user:admin-money',
      points: rateTiers.money,
      key: (request) => request.auth.userId,
    });
    moneyLimits.set(app.stores.rateLimiters, limit);
  }
  return limit;
}
