import { createGateway, type Gateway, type GatewayConfig } from '@webox/gateway';
import type { FastifyInstance } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import { AppError } from '../../errors.js';
import { userLimit } from '../accounts/rate-limits.js';
import { getWalletPlan } from '../billing/plans.js';
import { gatewayAdminRoutes } from './admin-routes.js';
import { keysRoutes } from './keys-routes.js';
import { VirtualKeyVerifier } from './keys-service.js';
import { KeyLimits } from './limits.js';
import type { Metering } from './metering.js';
import { OwnProviderKeys } from './own-keys.js';
import { RedisBreakerStore } from './redis-breaker-store.js';
import { ResponseCache } from './response-cache.js';
import { UsageWriter } from './usage-writer.js';
import { authenticateV1 } from './v1-auth.js';
import { type CallerPlan, v1Routes } from './v1-routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
    /** Batches /v1 usage records into the database; `flush()` writes what waits. */
    usageWriter: UsageWriter;
  }
}

export interface GatewayModuleOptions {
  config: GatewayConfig;
  metering: Metering;
  /** Aliases whose answers are cached without the client asking, with their TTL in seconds. */
  cachedAliases?: Record<string, number>;
  /** Upstream dispatcher (tests point it at local fake providers). */
  dispatcher?: Dispatcher;
  /**
   * Refuse models the caller's plan does not include. Default: when /v1 pays through the billing module (plans are
   * billing's: with BILLING=off or another metering, every configured model is open).
   */
  enforcePlanModels?: boolean;
  /** How long a user's own provider keys stay cached in the process (default 30 s; a change evicts them at once). */
  ownKeysTtlMs?: number;
}

/**
 * The /v1 API and virtual keys: wires the engine to the server's stores (breakers in Redis when configured),
 * key verification, limits, cache, metering and the usage writer.
 */
export async function registerGatewayModule(app: FastifyInstance, options: GatewayModuleOptions) {
  const log = app.log.child({ module: 'gateway' });
  const gateway = createGateway({
    config: options.config,
    ...(app.stores.redis
      ? { breakerStore: new RedisBreakerStore(app.stores.redis, `${app.stores.prefix}breaker:`) }
      : {}),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    logger: {
      info: (object, message) => log.info(object, message),
      warn: (object, message) => log.warn(object, message),
      error: (object, message) => log.error(object, message),
    },
  });
  app.decorate('gateway', gateway);

  const verifier = new VirtualKeyVerifier(app.db, app.stores.pubSub);
  await verifier.start();
  app.verifyVirtualKey = async (token) => {
    const identity = await verifier.verify(token);
    return identity ? { userId: identity.userId, role: identity.role, keyId: identity.keyId } : undefined;
  };

  const ownKeys = new OwnProviderKeys(app.db, app.stores.pubSub, {
    providers: Object.keys(options.config.providers),
    ...(options.ownKeysTtlMs !== undefined ? { ttlMs: options.ownKeysTtlMs } : {}),
    onUnreadable: (userId, provider, error) =>
      log.warn(
        { userId, provider, reason: error instanceof Error ? error.message : 'unknown' },
        "a user's own provider key could not be opened; the platform's key serves instead",
      ),
  });
  await ownKeys.start();

  const usage = new UsageWriter(app.database, {
    onError: (error, { lost, waiting }) =>
      log.error(
        { err: error, lost, waiting },
        lost
          ? 'usage records lost: the database refused them'
          : 'usage records wait: the database refused them',
      ),
  });
  app.decorate('usageWriter', usage);
  app.addHook('onClose', async () => {
    await usage.close();
    await verifier.stop();
    await ownKeys.stop();
  });

  // The plan of the wallet that pays (an organisation's for its keys) drives routes with plan conditions and the
  // models the caller may use; looked up through billing, cached a minute per person and key. Failures are not cached.
  const plans = new LRUCache<string, Promise<CallerPlan | undefined>>({ max: 50_000, ttl: 60_000 });
  const planOf = (caller: { userId: string; keyId: string | null }) => {
    const cacheKey = `${caller.userId}:${caller.keyId ?? ''}`;
    let plan = plans.get(cacheKey);
    if (!plan) {
      const loading: Promise<CallerPlan | undefined> = app.billing
        .payingWallet(caller)
        .then((wallet) => getWalletPlan(app.db, wallet.id))
        .then(
          (found) => ({ id: found.id, allowedModels: found.allowedModels }),
          (error: unknown) => {
            if (plans.get(cacheKey) === loading) plans.delete(cacheKey);
            // A refusal (a removed member's organisation key) answers as itself.
            if (error instanceof AppError) throw error;
            log.warn({ err: error, userId: caller.userId }, "the caller's plan could not be read");
            return undefined;
          },
        );
      plan = loading;
      plans.set(cacheKey, plan);
    }
    return plan;
  };

  // Budgets: a key's come with its cached identity (on the caller), a person's from billing's per-process cache.
  // Only `limitsFor` is registered here: organisations register `payerFor` through the same call.
  app.billing.useMeteringHooks({
    limitsFor: async (caller) => ({
      key: caller.keyLimits ?? {},
      user: await app.billing.userLimits(caller.userId),
    }),
  });

  await app.register(v1Routes, {
    planOf,
    enforcePlanModels: options.enforcePlanModels ?? options.metering === app.billing.metering,
    ownKeysOf: (userId) => ownKeys.keysFor(userId),
    gateway,
    metering: options.metering,
    limits: new KeyLimits(app.stores),
    cache: new ResponseCache(app.stores.cache, options.cachedAliases ?? {}),
    usage,
    authenticate: authenticateV1(verifier, userLimit(app, 'generation')),
  });
  await app.register(keysRoutes);
  await app.register(gatewayAdminRoutes);
}
