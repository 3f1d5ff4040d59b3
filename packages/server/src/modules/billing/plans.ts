import { and, eq, isNull, ne, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { postEntry } from './ledger.js';
import { periodOf } from './periods.js';
import type { PricingPlan } from './prices.js';
import type { QuotaLimits } from './quotas.js';
import { subscriptions } from './tables.js';

export const planFeatures = [
  'api',
  'chat',
  'image',
  'speech',
  'music',
  'video',
  'ebooks',
  'team',
  'priority_support',
] as const;
export type PlanFeature = (typeof planFeatures)[number];

export interface Plan extends PricingPlan {
  id: string;
  name: string;
  /** Credits granted at the start of every monthly period (in the billing time zone). */
  monthlyCredits: number;
  /**
   * Overage on: once the month's plan credits are spent, usage continues from purchased credits.
   * Off: spending stops at `monthlyCredits` per month (a monthly credit budget on the wallet).
   */
  overage: boolean;
  /** Model ids (or aliases) the plan may call; '*' for all. */
  allowedModels: '*' | readonly string[];
  features: readonly PlanFeature[];
  /** Default limits of each virtual key and user on this plan. */
  limits: QuotaLimits;
}

/** The built-in plans; education and government show discounted pricing through the multiplier. */
export const plans: Record<string, Plan> = {
  free: {
    id: 'free',
    name: 'Free',
    monthlyCredits: 5_000,
    // Credits a person buys are theirs to spend: without overage a free wallet would stop at 5,000 a month.
    overage: true,
    allowedModels: ['gpt-4o-mini', 'claude-haiku', 'gemini-flash', 'llama-3.1-8b'],
    features: ['chat', 'api'],
    priceMultiplierPermille: 1000,
    limits: { dailyRequests: 200 },
  },
  pro: {
    id: 'pro',
    name: 'Pro',
    monthlyCredits: 200_000,
    overage: true,
    allowedModels: '*',
    features: ['api', 'chat', 'image', 'speech', 'ebooks'],
    priceMultiplierPermille: 1000,
    limits: { dailyRequests: 10_000 },
  },
  business: {
    id: 'business',
    name: 'Business',
    monthlyCredits: 1_000_000,
    overage: true,
    allowedModels: '*',
    features: ['api', 'chat', 'image', 'speech', 'music', 'video', 'ebooks', 'team', 'priority_support'],
    priceMultiplierPermille: 900,
    limits: {},
  },
  education: {
    id: 'education',
    name: 'Education',
    monthlyCredits: 300_000,
    overage: false,
    allowedModels: '*',
    features: ['api', 'chat', 'image', 'speech', 'ebooks', 'team'],
    priceMultiplierPermille: 500,
    limits: { dailyRequests: 5_000 },
  },
  government: {
    id: 'government',
    name: 'Government',
    monthlyCredits: 2_000_000,
    overage: true,
    allowedModels: '*',
    features: ['api', 'chat', 'image', 'speech', 'music', 'video', 'ebooks', 'team', 'priority_support'],
    priceMultiplierPermille: 800,
    limits: {},
  },
};

export const DEFAULT_PLAN = 'free';

export function getPlan(planId: string): Plan {
  const plan = plans[planId];
  if (!plan) throw new AppError('not_found', `No plan named ${planId}.`);
  return plan;
}

export function planAllowsModel(plan: Plan, model: string): boolean {
  return plan.allowedModels === '*' || plan.allowedModels.includes(model);
}

export function planHasFeature(plan: Plan, feature: PlanFeature): boolean {
  return plan.features.includes(feature);
}

/** The wallet-wide limits a plan implies: without overage, a monthly credit budget of its monthly credits. */
export function planWalletLimits(plan: Plan): QuotaLimits {
  return plan.overage ? {} : { monthlyCredits: plan.monthlyCredits };
}

/** The wallet's plan (the default plan when it never subscribed). */
export async function getWalletPlan(db: Database, walletId: string): Promise<Plan> {
  const [row] = await db.select().from(subscriptions).where(eq(subscriptions.walletId, walletId)).limit(1);
  return getPlan(row?.plan ?? DEFAULT_PLAN);
}

/** Puts a wallet on a plan; the next renewal run grants the plan's credits for the current period. */
export async function setWalletPlan(
  db: Database,
  options: { walletId: string; plan: string },
): Promise<Plan> {
  const plan = getPlan(options.plan);
  await db
    .insert(subscriptions)
    .values({ walletId: options.walletId, plan: plan.id })
    .onConflictDoUpdate({ target: subscriptions.walletId, set: { plan: plan.id, updatedAt: new Date() } });
  return plan;
}

/**
 * Grants each subscribed wallet its plan's monthly credits once per period (a month in `timeZone`). Idempotent:
 * the grant's idempotency key is `plan-credit:<wallet>:<period>`, so reruns, concurrent runs in several processes
 * and a crash between the grant and the bookkeeping never grant twice. Returns how many wallets were credited.
 */
export async function renewPlans(
  db: Database,
  options: { timeZone: string; now?: Date; batchSize?: number },
): Promise<number> {
  const period = periodOf(options.now ?? new Date(), 'month', options.timeZone);
  const batchSize = options.batchSize ?? 500;
  let granted = 0;
  for (;;) {
    const due = await db
      .select()
      .from(subscriptions)
      .where(or(isNull(subscriptions.renewedPeriod), ne(subscriptions.renewedPeriod, period.key)))
      .limit(batchSize);
    for (const subscription of due) {
      const plan = plans[subscription.plan];
      if (plan && plan.monthlyCredits > 0) {
        try {
          const posted = await postEntry(db, {
            walletId: subscription.walletId,
            kind: 'plan_credit',
            amount: plan.monthlyCredits,
            idempotencyKey: `plan-credit:${subscription.walletId}:${period.key}`,
            details: { plan: plan.id, period: period.key },
          });
          if (!posted.duplicate) granted++;
        } catch (error) {
          // The period's credits were already granted under the plan in force then (the wallet changed plan since,
          // perhaps while another run was granting), the wallet cannot hold them (422), or it is no customer wallet
          // (404, a system wallet put on a plan): once per period, and one wallet never stops the run.
          const skipped = ['conflict', 'unprocessable', 'not_found'];
          if (!(error instanceof AppError && skipped.includes(error.code))) throw error;
        }
      }
      await db
        .update(subscriptions)
        .set({ renewedPeriod: period.key, updatedAt: new Date() })
        .where(
          and(
            eq(subscriptions.walletId, subscription.walletId),
            sql`${subscriptions.renewedPeriod} is distinct from ${period.key}`,
          ),
        );
    }
    if (due.length < batchSize) return granted;
  }
}
