import type { FastifyInstance } from 'fastify';
import { LedgerBatcher } from './batcher.js';
import { UserBudgetCache } from './budgets.js';
import { parseCreditRates } from './display.js';
import { CreditLeases } from './leases.js';
import { ensureWallet, expireHolds, type Wallet } from './ledger.js';
import { createLedgerMetering, type LedgerMeteringOptions } from './metering.js';
import { renewPlans } from './plans.js';
import { type ConfiguredModel, PriceBookCache, syncPriceBook } from './prices.js';
import type { QuotaLimits } from './quotas.js';
import { subscriptions } from './tables.js';

export const EXPIRE_HOLDS_JOB = 'billing.expire-holds';
export const RENEW_PLANS_JOB = 'billing.renew-plans';
/** Channel on which an admin price change tells every process to reload its price book. */
export const PRICES_CHANNEL = 'billing:prices';

export interface BillingContext {
  timeZone: string;
  holdTtlSeconds: number;
  /** Credits per unit of each display currency. */
  creditRates: Record<string, number>;
  prices: PriceBookCache;
  /** The signed-in user's wallet, created on first use and put on the default plan. */
  userWallet(userId: string): Promise<Wallet>;
  /**
   * The wallet that pays for a /v1 caller: an organisation's for its keys (the `payerFor` hook), else the caller's.
   * Its plan is the one that decides routes and allowed models.
   */
  payingWallet(caller: { userId: string; keyId: string | null }): Promise<Wallet>;
  /** The ledger-backed metering for /v1 (pass it as `metering` to the gateway module). */
  metering: ReturnType<typeof createLedgerMetering>;
  /** Writes the usage entries this process still batches, so a read that follows sees them. */
  flushUsage(): Promise<void>;
  /** A person's own budgets as quota limits (cached 30 s per process, evicted everywhere when they change them). */
  userLimits(userId: string): Promise<QuotaLimits>;
  /** Tells every process (including this one) to reload prices. */
  pricesChanged(): Promise<void>;
  /**
   * Lets other modules tell the metering which wallet pays (organisations) and which extra limits apply (budgets
   * set on a virtual key or a user). Call it while registering, before serving.
   */
  useMeteringHooks(hooks: MeteringHooks): void;
}

export type MeteringHooks = Pick<LedgerMeteringOptions, 'limitsFor' | 'payerFor'>;

declare module 'fastify' {
  interface FastifyInstance {
    billing: BillingContext;
  }
}

export interface BillingPluginOptions {
  /** The gateway config's models: their prices are synced into the versioned price book at boot. */
  models?: Record<string, ConfiguredModel> | undefined;
  /**
   * How often each process enqueues hold expiry (default 30 s, or half of HOLD_TTL_SECONDS when shorter) and plan
   * renewal (default 10 min); 0 turns a job off.
   */
  expireEveryMs?: number;
  renewEveryMs?: number;
}

/**
 * Decorates `app.billing` and schedules the billing jobs. Jobs are enqueued by every process with an id per time
 * slot, so on BullMQ only one process runs each slot; both jobs are also safe to run concurrently.
 */
export async function registerBilling(
  app: FastifyInstance,
  options: BillingPluginOptions = {},
): Promise<void> {
  if (options.models) {
    const created = await syncPriceBook(app.db, options.models);
    if (created > 0) app.log.info({ created }, 'price book updated from the config file');
  }
  const prices = new PriceBookCache(app.db);
  const hooks: MeteringHooks = {};
  const log = app.log.child({ module: 'billing' });
  const leases = new CreditLeases({
    db: app.db,
    ttlSeconds: app.env.HOLD_TTL_SECONDS,
    onError: (error, context) => log.error({ err: error }, `credit leases: ${context} failed`),
  });
  app.addHook('onClose', () => leases.close());
  const budgets = new UserBudgetCache(app.db, app.stores.pubSub);
  await budgets.start();
  app.addHook('onClose', () => budgets.stop());
  const context: BillingContext = {
    timeZone: app.env.BILLING_TIME_ZONE,
    holdTtlSeconds: app.env.HOLD_TTL_SECONDS,
    creditRates: parseCreditRates(app.env.BILLING_CREDITS_PER_UNIT),
    prices,
    async userWallet(userId) {
      const wallet = await ensureWallet(app.db, { ownerType: 'user', ownerId: userId });
      await app.db.insert(subscriptions).values({ walletId: wallet.id, plan: 'free' }).onConflictDoNothing();
      return wallet;
    },
    async payingWallet(caller) {
      const payer = await hooks.payerFor?.(caller);
      if (!payer) return context.userWallet(caller.userId);
      return ensureWallet(app.db, { ownerType: payer.ownerType, ownerId: payer.ownerId });
    },
    metering: createLedgerMetering({
      db: app.db,
      counters: app.stores.counters,
      prices,
      timeZone: app.env.BILLING_TIME_ZONE,
      holdTtlSeconds: app.env.HOLD_TTL_SECONDS,
      // PGlite has one connection: one batch at a time. A PostgreSQL pool writes a few batches side by side.
      batcher: new LedgerBatcher(app.db, { maxInFlight: app.database.kind === 'pglite' ? 1 : 4 }),
      leases,
      limitsFor: async (caller, plan) => (await hooks.limitsFor?.(caller, plan)) ?? {},
      payerFor: async (caller) => hooks.payerFor?.(caller),
    }),
    flushUsage: () => leases.flush(),
    userLimits: (userId) => budgets.limitsOf(userId),
    useMeteringHooks(next) {
      Object.assign(hooks, next);
    },
    async pricesChanged() {
      prices.invalidate();
      await app.stores.pubSub.publish(PRICES_CHANNEL, String(Date.now()));
    },
  };
  app.decorate('billing', context);

  const unsubscribe = await app.stores.pubSub.subscribe(PRICES_CHANNEL, () => prices.invalidate());

  app.stores.jobs.register(EXPIRE_HOLDS_JOB, async () => {
    const expired = await expireHolds(app.db);
    if (expired > 0) app.log.warn({ expired }, 'expired credit holds whose requests never settled');
  });
  app.stores.jobs.register(RENEW_PLANS_JOB, async () => {
    const granted = await renewPlans(app.db, { timeZone: app.env.BILLING_TIME_ZONE });
    if (granted > 0) app.log.info({ granted }, 'granted monthly plan credits');
  });

  const timers: NodeJS.Timeout[] = [];
  const schedule = (name: string, everyMs: number) => {
    if (everyMs <= 0) return;
    const enqueue = () => {
      const slot = Math.floor(Date.now() / everyMs);
      app.stores.jobs.enqueue(name, {}, { jobId: `${name}-${slot}`, attempts: 1 }).catch(() => {});
    };
    const timer = setInterval(enqueue, everyMs);
    timer.unref();
    timers.push(timer);
    enqueue();
  };
  app.addHook('onReady', async () => {
    // Often enough that a hold is swept within half its TTL (holdCredits also sweeps a wallet before refusing).
    schedule(
      EXPIRE_HOLDS_JOB,
      options.expireEveryMs ?? Math.min(30_000, (app.env.HOLD_TTL_SECONDS * 1000) / 2),
    );
    schedule(RENEW_PLANS_JOB, options.renewEveryMs ?? 600_000);
  });
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer);
    await unsubscribe();
  });
}
