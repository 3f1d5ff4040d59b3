import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rateLimit } from '../../plugins/rate-limit.js';
import { hashToken } from './tokens.js';

/**
 * Requests per minute: strict for authentication, moderate for generation and changes, relaxed for reads; for the
 * back-office (`adminLimit`), `pricing` for changes to what customers pay (prices, plans, credit packs), `money` for
 * what an admin does to balances (grants, adjustments, refunds, bank-transfer confirmations), `ledgerScan` for the
 * check that reads the whole ledger.
 */
export const rateTiers = {
  auth: 10,
  generation: 60,
  reads: 300,
  writes: 60,
  pricing: 30,
  money: 20,
  ledgerScan: 3,
} as const;

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

/**
 * Per signed-in account (run after authenticate): one budget per `name` (the tier's by default) over every route and
 * module that uses it, so `reads` is 300 a minute for all of a person's reads together.
 */
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

/**
 * The back-office's budgets, each counted per staff account over every route that uses it, whatever module the
 * route is in, at its tier of `rateTiers`: `what` and `per` are how the routes' OpenAPI descriptions name it
 * (`adminLimitNote`).
 */
export const adminBudgets = {
  /** Every back-office read (lists, one record, the price book, a proof file, provider health). */
  reads: { what: 'all back-office reads together', per: 'staff account' },
  /** Changes to accounts and the security policy. */
  writes: { what: 'account and security-policy changes together', per: 'admin' },
  /**
   * Changes to what customers pay: prices (each change also makes every process reload its price book), plans,
   * credit packs. A person editing by hand stays far below; a script re-pricing a catalogue is told when to go on.
   */
  pricing: { what: 'price, plan and credit-pack changes together', per: 'admin' },
  /**
   * Money moved by hand. A person checking each one stays far below it; a stolen admin session or a runaway script
   * cannot mint or reverse credits at request speed.
   */
  money: {
    what: 'grants, adjustments, refunds and bank-transfer confirmations together',
    per: 'admin',
  },
  /** `GET /api/admin/billing/verify` recomputes every wallet from every ledger entry: a full scan each time. */
  ledgerScan: { what: 'ledger checks (each reads the whole ledger)', per: 'admin' },
} as const satisfies Partial<Record<keyof typeof rateTiers, { what: string; per: string }>>;

export type AdminBudget = keyof typeof adminBudgets;

/**
 * Per staff account (run after authenticate, so a caller who may not use the route spends nothing): `budget`'s tier a
 * minute over every route of that budget together; past it 429 `rate_limited` with Retry-After. Each budget is its
 * own: an admin who spent the price changes' can still read, refund or check the ledger, and other admins keep theirs.
 */
export function adminLimit(app: FastifyInstance, budget: AdminBudget): PreHandler {
  // One budget over every module's routes: the stores hand out one limiter per name, on either backend.
  return rateLimit(app.stores.rateLimiters, {
    // `user:admin-money`, `user:admin-reads`, `user:admin-writes`: the names these budgets had before, so a rolling
    // deploy keeps counting in the same Redis keys.
    name: `user:admin-${budget === 'ledgerScan' ? 'ledger-scan' : budget}`,
    points: rateTiers[budget],
    key: (request) => request.auth.userId,
  });
}

/** The sentence an admin route's OpenAPI description ends with: its budget, what shares it, what happens past it. */
export function adminLimitNote(budget: AdminBudget): string {
  const { what, per } = adminBudgets[budget];
  return (
    `Rate limit: ${rateTiers[budget]} a minute per ${per}, counting ${what}; ` +
    'past it 429 `rate_limited` with `Retry-After`.'
  );
}
