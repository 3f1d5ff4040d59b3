import type { FastifyInstance, FastifyRequest } from 'fastify';
import { rateLimit } from '../../plugins/rate-limit.js';
import { hashToken } from './tokens.js';

/** The three tiers of the issue: strict for authentication, moderate for generation, relaxed for reads (per minute). */
export const rateTiers = { auth: 10, generation: 60, reads: 300, writes: 60 } as const;

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
