import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { CounterStore } from '../../stores/index.js';
import type { LedgerBatcher } from './batcher.js';
import { tighterLimits } from './budgets.js';
import type { CreditLeases, LeaseReservation } from './leases.js';
import { ensureWallet, holdCredits, releaseHold, settleHold, type Wallet } from './ledger.js';
import { getWalletPlan, type Plan, planWalletLimits } from './plans.js';
import type { PriceBookCache } from './prices.js';
import {
  consumeQuota,
  type QuotaLimits,
  type QuotaReservation,
  type QuotaSubject,
  releaseQuota,
  settleQuota,
} from './quotas.js';

/**
 * The ledger-backed implementation of the gateway module's `Metering` port (modules/gateway/metering.ts).
 * The types below are the structural subset it needs, so billing does not depend on the gateway module.
 */
export interface MeteredCaller {
  userId: string;
  keyId: string | null;
  /** Budgets and quotas set on the caller's virtual key, when the caller carries them (for `limitsFor`). */
  keyLimits?: QuotaLimits;
}

export interface MeteredCandidate {
  model: string;
}

export interface MeteredUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
}

export interface MeteredCharge {
  /** Credits held for the worst case. */
  readonly held: number;
  /** Charges the usage as priced for the model that served, releases the rest; retries charge nothing more. */
  settle(options: { usage: MeteredUsage; model: string }): Promise<{ charged: number; balance?: number }>;
  release(): Promise<void>;
}

export interface LedgerMeteringOptions {
  db: Database;
  counters: CounterStore;
  prices: PriceBookCache;
  timeZone: string;
  holdTtlSeconds: number;
  /** Group-commits holds and settles under load (same results as the single calls); default: single calls. */
  batcher?: LedgerBatcher;
  /**
   * Takes holds from per-process leases on wallets far from empty (no database round trip per request; usage
   * entries written in batches); small wallets still get one hold per request. Default: one hold per request.
   */
  leases?: CreditLeases;
  /** Per-key and per-user limits beyond the plan's (e.g. budgets set on a key); default none. */
  limitsFor?: (caller: MeteredCaller, plan: Plan) => Promise<{ key?: QuotaLimits; user?: QuotaLimits }>;
  /**
   * Which wallet pays for a caller; default (or undefined): the caller's own user wallet. A member of an organisation
   * pays from the organisation's wallet, within `memberLimits` (e.g. a monthly credit limit per member).
   */
  payerFor?: (caller: MeteredCaller) => Promise<Payer | undefined>;
}

export interface Payer {
  ownerType: 'user' | 'organization';
  ownerId: string;
  /** The member spending from an organisation wallet; recorded on the hold and the usage entry. */
  memberUserId?: string;
  memberLimits?: QuotaLimits;
}

/**
 * Charge ids, for the idempotency keys of leased usage entries: unique per process start (a random prefix) and per
 * charge (a counter), without asking the system's random source on every call.
 */
const chargeIdPrefix = `${randomUUID()}:`;
let chargeCount = 0;

/**
 * Pays for /v1 calls from the caller's wallet: checks quotas and budgets, holds the worst case over every candidate,
 * then settles the real usage (exactly once, also when settle is called again for a retried or cut stream) or
 * releases everything. Wallet ids and plans are cached per process for a minute.
 */
export function createLedgerMetering(options: LedgerMeteringOptions) {
  const ledger = options.batcher ?? {
    holdCredits: (hold: Parameters<typeof holdCredits>[1]) => holdCredits(options.db, hold),
    settleHold: (settle: Parameters<typeof settleHold>[1]) => settleHold(options.db, settle),
  };
  const wallets = new Map<string, { wallet: Promise<{ wallet: Wallet; plan: Plan }>; at: number }>();
  const walletOf = (payer: Payer) => {
    const cacheKey = `${payer.ownerType}:${payer.ownerId}`;
    const cached = wallets.get(cacheKey);
    if (cached && Date.now() - cached.at < 60_000) return cached.wallet;
    const loading = (async () => {
      const wallet = await ensureWallet(options.db, { ownerType: payer.ownerType, ownerId: payer.ownerId });
      return { wallet, plan: await getWalletPlan(options.db, wallet.id) };
    })();
    loading.catch(() => wallets.delete(cacheKey));
    wallets.set(cacheKey, { wallet: loading, at: Date.now() });
    if (wallets.size > 50_000) wallets.delete(wallets.keys().next().value!);
    return loading;
  };

  return {
    enabled: true as const,
    async begin(request: {
      caller: MeteredCaller;
      requestId: string;
      /** Targets paid with the platform's keys; empty when the caller's own keys cover every candidate. */
      candidates: MeteredCandidate[];
      maxPromptTokens: number;
      maxOutputTokens: number;
    }): Promise<MeteredCharge> {
      const startedAt = new Date();
      const payer: Payer = (await options.payerFor?.(request.caller)) ?? {
        ownerType: 'user',
        ownerId: request.caller.userId,
      };
      const [{ wallet, plan }, book] = await Promise.all([walletOf(payer), options.prices.get()]);
      // No candidate runs on the platform's keys (the caller brought their own for each): the request counts
      // against the quotas, and nothing is held or charged.
      const free = request.candidates.length === 0;
      const quote = free
        ? { credits: 0 }
        : book.quoteHold({
            model: request.candidates.map((candidate) => candidate.model),
            maxPromptTokens: request.maxPromptTokens,
            maxOutputTokens: request.maxOutputTokens,
            plan,
          });
      const extra = (await options.limitsFor?.(request.caller, plan)) ?? {};
      const subjects: QuotaSubject[] = [
        { scope: 'wallet', id: wallet.id, limits: planWalletLimits(plan) },
        // A person's own budget tightens the plan's limits, never loosens them.
        { scope: 'user', id: request.caller.userId, limits: tighterLimits(plan.limits, extra.user) },
      ];
      if (request.caller.keyId)
        subjects.push({ scope: 'key', id: request.caller.keyId, limits: extra.key ?? {} });
      if (payer.memberUserId) {
        subjects.push({
          scope: 'member',
          id: `${wallet.id}:${payer.memberUserId}`,
          limits: payer.memberLimits ?? {},
        });
      }
      const reservation: QuotaReservation = await consumeQuota(options.counters, {
        subjects,
        credits: quote.credits,
        timeZone: options.timeZone,
        now: startedAt,
      });
      if (free) return { held: 0, settle: async () => ({ charged: 0 }), release: async () => {} };
      const leases = options.leases;
      let hold: { holdId: string } | undefined;
      let leased: LeaseReservation | undefined;
      try {
        if (leases && quote.credits > 0) leased = await leases.reserve(wallet.id, quote.credits);
        if (!leased) {
          const single = {
            walletId: wallet.id,
            amount: quote.credits,
            requestId: request.requestId,
            ttlSeconds: options.holdTtlSeconds,
            ...(payer.memberUserId ? { memberUserId: payer.memberUserId } : {}),
          };
          hold = await ledger.holdCredits(single).catch(async (error: unknown) => {
            // Credits this process leased but no request uses may be what is missing: give them back, try again.
            const refused = error instanceof AppError && error.code === 'insufficient_credits';
            if (refused && (await leases?.surrender(wallet.id))) return ledger.holdCredits(single);
            throw error;
          });
        }
      } catch (error) {
        await releaseQuota(options.counters, reservation);
        throw error;
      }
      const chargeId = `${chargeIdPrefix}${++chargeCount}`;
      let finished: Promise<{ charged: number; balance?: number }> | undefined;
      return {
        held: quote.credits,
        settle({ usage, model }) {
          if (finished) return finished;
          const attempt = (async () => {
            const priced = book.priceUsage({ model, usage, plan });
            const details = {
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              cachedInputTokens: usage.cachedInputTokens,
            };
            if (leased) {
              const settled = leases!.settle(leased, priced.credits, {
                requestId: request.requestId,
                idempotencyKey: `usage:lease:${chargeId}`,
                model,
                keyId: request.caller.keyId ?? undefined,
                memberUserId: payer.memberUserId,
                priceVersion: priced.priceVersion,
                details,
              });
              await settleQuota(options.counters, reservation, { credits: settled.charged });
              return { charged: settled.charged, balance: settled.balance };
            }
            const settled = await ledger.settleHold({
              holdId: hold!.holdId,
              amount: priced.credits,
              references: {
                requestId: request.requestId,
                model,
                keyId: request.caller.keyId ?? undefined,
                priceVersion: priced.priceVersion,
              },
              details,
              // The hold id, not the request id: a client may send the same x-request-id twice.
              idempotencyKey: `usage:${hold!.holdId}`,
            });
            await settleQuota(options.counters, reservation, { credits: settled.charged });
            return { charged: settled.charged, balance: settled.balance };
          })();
          // A failed settle (database unreachable) may be retried; the idempotency key keeps it exactly-once.
          finished = attempt;
          attempt.catch(() => {
            if (finished === attempt) finished = undefined;
          });
          return attempt;
        },
        async release() {
          if (finished) return;
          finished = Promise.resolve({ charged: 0 });
          if (leased) leases!.release(leased);
          else await releaseHold(options.db, { holdId: hold!.holdId });
          await settleQuota(options.counters, reservation, { credits: 0 });
        },
      };
    },
  };
}
