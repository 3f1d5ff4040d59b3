import { AppError } from '../../errors.js';
import type { CounterStore } from '../../stores/index.js';
import { type Period, type PeriodUnit, periodOf } from './periods.js';

/** Limits of one subject; an absent limit is unlimited. Credits are integers. */
export interface QuotaLimits {
  dailyRequests?: number | undefined;
  dailyCredits?: number | undefined;
  monthlyCredits?: number | undefined;
}

export const quotaScopes = ['key', 'user', 'member', 'wallet'] as const;
export type QuotaScope = (typeof quotaScopes)[number];

/** Who is limited: a virtual key, a user, an organisation member (`walletId:userId`) or a whole wallet. */
export interface QuotaSubject {
  scope: QuotaScope;
  id: string;
  limits: QuotaLimits;
}

type Metric = 'requests' | 'credits';

interface Rule {
  metric: Metric;
  unit: PeriodUnit;
  limit: number;
}

function rulesOf(limits: QuotaLimits): Rule[] {
  const rules: Rule[] = [];
  if (limits.dailyRequests !== undefined)
    rules.push({ metric: 'requests', unit: 'day', limit: limits.dailyRequests });
  if (limits.dailyCredits !== undefined)
    rules.push({ metric: 'credits', unit: 'day', limit: limits.dailyCredits });
  if (limits.monthlyCredits !== undefined)
    rules.push({ metric: 'credits', unit: 'month', limit: limits.monthlyCredits });
  return rules;
}

function counterKey(subject: QuotaSubject, metric: Metric, period: Period): string {
  return `billing:quota:${subject.scope}:${subject.id}:${metric}:${period.key}`;
}

/** One counter a consumption touched; settleQuota corrects the credit counters in these same periods. */
interface ReservedCounter {
  key: string;
  metric: Metric;
  amount: number;
  expiresAt: string;
}

/**
 * What consumeQuota took. The periods are fixed when the request starts, so a request that straddles midnight
 * counts against the day it started in, and its settle never touches the new day's counters.
 */
export interface QuotaReservation {
  counters: ReservedCounter[];
  credits: number;
}

export interface QuotaOptions {
  subjects: QuotaSubject[];
  /** IANA zone whose midnights reset the counters (BILLING_TIME_ZONE, default Africa/Algiers). */
  timeZone: string;
  /** Clock for tests (default now). */
  now?: Date;
}

export interface QuotaStatus {
  scope: QuotaScope;
  id: string;
  metric: Metric;
  unit: PeriodUnit;
  limit: number;
  used: number;
  remaining: number;
  resetsAt: Date;
}

/** Reads where every limit of every subject stands, without consuming anything. */
export async function checkQuota(counters: CounterStore, options: QuotaOptions): Promise<QuotaStatus[]> {
  const now = options.now ?? new Date();
  const statuses: QuotaStatus[] = [];
  for (const subject of options.subjects) {
    for (const rule of rulesOf(subject.limits)) {
      const period = periodOf(now, rule.unit, options.timeZone);
      const used = Math.max(0, await counters.get(counterKey(subject, rule.metric, period)));
      statuses.push({
        scope: subject.scope,
        id: subject.id,
        metric: rule.metric,
        unit: rule.unit,
        limit: rule.limit,
        used,
        remaining: Math.max(0, rule.limit - used),
        resetsAt: period.end,
      });
    }
  }
  return statuses;
}

/**
 * Counts one request and reserves `credits` (the hold's worst case) against every limit of every subject, atomically
 * per counter: each counter is incremented first and rolled back when it went over, so concurrent requests in any
 * number of processes (Redis) can never exceed a limit together. A refusal rolls back everything taken so far and
 * throws 429 `quota_exceeded` (requests) or `budget_exceeded` (credits) with Retry-After at the reset.
 * Near a limit, a request that is rolled back can make a concurrent one fail too: limits err on the safe side.
 */
export async function consumeQuota(
  counters: CounterStore,
  options: QuotaOptions & { credits: number; requests?: number },
): Promise<QuotaReservation> {
  const now = options.now ?? new Date();
  const requests = options.requests ?? 1;
  const planned: Array<{ subject: QuotaSubject; rule: Rule; period: Period; counter: ReservedCounter }> = [];
  for (const subject of options.subjects) {
    for (const rule of rulesOf(subject.limits)) {
      const period = periodOf(now, rule.unit, options.timeZone);
      planned.push({
        subject,
        rule,
        period,
        counter: {
          key: counterKey(subject, rule.metric, period),
          metric: rule.metric,
          amount: rule.metric === 'requests' ? requests : options.credits,
          expiresAt: period.end.toISOString(),
        },
      });
    }
  }
  // Most calls have no limit to count against (a plan without daily caps, a key without budgets).
  if (planned.length === 0) return { counters: [], credits: options.credits };
  // All counters are incremented at once (one pipelined round trip on Redis), then checked together.
  const results = await Promise.allSettled(
    planned.map((entry) => counters.increment(entry.counter.key, entry.counter.amount, entry.period.end)),
  );
  const taken = planned
    .filter((_, index) => results[index]!.status === 'fulfilled')
    .map((entry) => entry.counter);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) {
    await rollBack(counters, taken);
    throw failure.reason;
  }
  const exceeded = planned.findIndex(
    (entry, index) => (results[index] as PromiseFulfilledResult<number>).value > entry.rule.limit,
  );
  if (exceeded >= 0) {
    await rollBack(counters, taken);
    const { subject, rule, period, counter } = planned[exceeded]!;
    const total = (results[exceeded] as PromiseFulfilledResult<number>).value;
    const kind = rule.unit === 'day' ? 'daily' : 'monthly';
    throw new AppError(
      rule.metric === 'requests' ? 'quota_exceeded' : 'budget_exceeded',
      rule.metric === 'requests'
        ? `The ${kind} request quota of this ${subject.scope} is used up.`
        : `The ${kind} credit budget of this ${subject.scope} is used up.`,
      {
        retryAfterSeconds: Math.ceil((period.end.getTime() - now.getTime()) / 1000),
        details: {
          scope: subject.scope,
          metric: rule.metric,
          period: rule.unit,
          limit: rule.limit,
          used: total - counter.amount,
          needed: counter.amount,
          resetsAt: period.end.toISOString(),
        },
      },
    );
  }
  return { counters: taken, credits: options.credits };
}

async function rollBack(counters: CounterStore, taken: ReservedCounter[]) {
  await Promise.all(
    taken.map((counter) => counters.increment(counter.key, -counter.amount, new Date(counter.expiresAt))),
  );
}

/**
 * Replaces the reserved credits with what was really charged, in the periods the request started in.
 * Call it after settleHold (with `charged`) or releaseHold (with 0). Counters of a period already over are left
 * to expire: they no longer limit anything.
 */
export async function settleQuota(
  counters: CounterStore,
  reservation: QuotaReservation,
  options: { credits: number; now?: Date },
): Promise<void> {
  const delta = options.credits - reservation.credits;
  if (delta === 0 || reservation.counters.length === 0) return;
  const now = (options.now ?? new Date()).getTime();
  await Promise.all(
    reservation.counters
      .filter((counter) => counter.metric === 'credits' && new Date(counter.expiresAt).getTime() > now)
      .map((counter) => counters.increment(counter.key, delta, new Date(counter.expiresAt))),
  );
}

/** Gives back a whole reservation (the request was refused before reaching the provider). */
export async function releaseQuota(counters: CounterStore, reservation: QuotaReservation): Promise<void> {
  await rollBack(counters, reservation.counters);
}
