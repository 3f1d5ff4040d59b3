import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { MemoryCounterStore } from '../../stores/counter-store.js';
import type { Stores } from '../../stores/index.js';
import { storeBackends } from '../../testing/backends.js';
import { periodOf } from './periods.js';
import { checkQuota, consumeQuota, type QuotaSubject, settleQuota } from './quotas.js';

describe('billing periods in a time zone', () => {
  it('starts Algiers days at 23:00 UTC (UTC+1, no daylight saving)', () => {
    const day = periodOf(new Date('2025-03-14T22:59:59Z'), 'day', 'Africa/Algiers');
    expect(day).toEqual({
      key: '2025-03-14',
      start: new Date('2025-03-13T23:00:00Z'),
      end: new Date('2025-03-14T23:00:00Z'),
    });
    expect(periodOf(new Date('2025-03-14T23:00:00Z'), 'day', 'Africa/Algiers').key).toBe('2025-03-15');
  });

  it('handles months, year ends and daylight-saving days', () => {
    expect(periodOf(new Date('2025-12-31T23:30:00Z'), 'month', 'Africa/Algiers')).toEqual({
      key: '2026-01',
      start: new Date('2025-12-31T23:00:00Z'),
      end: new Date('2026-01-31T23:00:00Z'),
    });
    // Paris springs forward on 2025-03-30: that local day lasts 23 hours.
    const short = periodOf(new Date('2025-03-30T12:00:00Z'), 'day', 'Europe/Paris');
    expect(short.start).toEqual(new Date('2025-03-29T23:00:00Z'));
    expect(short.end).toEqual(new Date('2025-03-30T22:00:00Z'));
    expect(periodOf(new Date('2025-06-01T00:00:00Z'), 'day', 'UTC').key).toBe('2025-06-01');
  });

  it('starts a day where midnight is skipped at its first instant, west of UTC as east of it', () => {
    // Santiago springs forward at midnight on 2024-09-08 (00:00 -04 is 01:00 -03): that day starts at 04:00 UTC,
    // and 03:30 UTC is still 23:30 on the 7th. Beirut does the same on 2024-03-31 at 22:00 UTC the day before.
    const lateOnSeventh = new Date('2024-09-08T03:30:00Z');
    const seventh = periodOf(lateOnSeventh, 'day', 'America/Santiago');
    expect(seventh).toEqual({
      key: '2024-09-07',
      start: new Date('2024-09-07T04:00:00Z'),
      end: new Date('2024-09-08T04:00:00Z'),
    });
    expect(periodOf(new Date('2024-09-08T12:00:00Z'), 'day', 'America/Santiago').start).toEqual(
      new Date('2024-09-08T04:00:00Z'),
    );
    expect(periodOf(new Date('2024-09-15T12:00:00Z'), 'month', 'America/Santiago').end).toEqual(
      new Date('2024-10-01T03:00:00Z'),
    );
    expect(periodOf(new Date('2024-03-31T12:00:00Z'), 'day', 'Asia/Beirut').start).toEqual(
      new Date('2024-03-30T22:00:00Z'),
    );
    // Santiago falls back at midnight on 2024-04-07 (00:00 -03 is 23:00 -04 on the 6th): the 7th starts at 04:00 UTC.
    expect(periodOf(new Date('2024-04-07T12:00:00Z'), 'day', 'America/Santiago').start).toEqual(
      new Date('2024-04-07T04:00:00Z'),
    );
    // Every instant lies inside its own period, so counters never get an expiry in the past.
    for (
      let at = Date.parse('2024-09-07T20:00:00Z');
      at < Date.parse('2024-09-08T08:00:00Z');
      at += 900_000
    ) {
      const period = periodOf(new Date(at), 'day', 'America/Santiago');
      expect(period.start.getTime()).toBeLessThanOrEqual(at);
      expect(period.end.getTime()).toBeGreaterThan(at);
    }
  });

  it('keeps counting requests in the last hour of a day before a midnight that is skipped', async () => {
    const now = new Date('2024-09-08T03:30:00Z');
    const counters = new MemoryCounterStore(() => now.getTime());
    const options = {
      subjects: [{ scope: 'user' as const, id: 'santiago', limits: { dailyRequests: 1 } }],
      timeZone: 'America/Santiago',
      credits: 0,
      now,
    };
    await consumeQuota(counters, options);
    const refused = await consumeQuota(counters, options).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).options.retryAfterSeconds).toBe(1_800);
  });

  it('answers from the period it last computed only within that period (calls in any order)', () => {
    const instants = [
      '2025-03-14T22:59:59.999Z',
      '2025-03-14T23:00:00Z',
      '2025-03-14T12:00:00Z',
      '2025-03-15T22:59Z',
    ];
    const keys = instants.map((at) => periodOf(new Date(at), 'day', 'Africa/Algiers').key);
    expect(keys).toEqual(['2025-03-14', '2025-03-15', '2025-03-14', '2025-03-15']);
    const months = ['2025-01-31T22:59Z', '2025-01-31T23:00Z', '2025-01-01T00:00Z'].map(
      (at) => periodOf(new Date(at), 'month', 'Africa/Algiers').key,
    );
    expect(months).toEqual(['2025-01', '2025-02', '2025-01']);
    // Each zone keeps its own: the same instant is another day in Tokyo.
    expect(periodOf(new Date('2025-03-14T16:00:00Z'), 'day', 'Asia/Tokyo').key).toBe('2025-03-15');
    expect(periodOf(new Date('2025-03-14T16:00:00Z'), 'day', 'Africa/Algiers').key).toBe('2025-03-14');
  });
});

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const timeZone = 'Africa/Algiers';

for (const backend of storeBackends()) {
  describe(`quotas and budgets on ${backend.name} counters`, () => {
    let stores: Stores;
    let run = 0;
    beforeAll(async () => {
      stores = await backend.open();
    });
    afterAll(() => stores.close());
    const subject = (limits: QuotaSubject['limits'], scope: QuotaSubject['scope'] = 'key'): QuotaSubject => ({
      scope,
      id: `s${++run}-${Math.random().toString(36).slice(2)}`,
      limits,
    });

    it('counts daily requests and refuses past the quota with Retry-After until local midnight', async () => {
      const key = subject({ dailyRequests: 3 });
      // Real time: Redis expires counters at absolute instants, so a past clock would expire them at once.
      const now = new Date();
      const midnight = periodOf(now, 'day', timeZone).end;
      for (let index = 0; index < 3; index++) {
        await consumeQuota(stores.counters, { subjects: [key], credits: 0, timeZone, now });
      }
      const refused = await refusal(
        consumeQuota(stores.counters, { subjects: [key], credits: 0, timeZone, now }),
      );
      expect(refused.status).toBe(429);
      expect(refused.code).toBe('quota_exceeded');
      expect(refused.options.retryAfterSeconds).toBe(Math.ceil((midnight.getTime() - now.getTime()) / 1000));
      expect(refused.options.details).toMatchObject({ limit: 3, used: 3, resetsAt: midnight.toISOString() });
      const [status] = await checkQuota(stores.counters, { subjects: [key], timeZone, now });
      expect(status).toMatchObject({ used: 3, remaining: 0, limit: 3 });
    });

    it('never lets concurrent requests exceed a limit together', async () => {
      const user = subject({ dailyRequests: 50, dailyCredits: 1_000 }, 'user');
      const now = new Date();
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, () =>
          consumeQuota(stores.counters, { subjects: [user], credits: 15, timeZone, now }),
        ),
      );
      const accepted = results.filter((result) => result.status === 'fulfilled').length;
      expect(accepted).toBeLessThanOrEqual(50);
      expect(accepted * 15).toBeLessThanOrEqual(1_000);
      expect(accepted).toBeGreaterThan(0);
      const statuses = await checkQuota(stores.counters, { subjects: [user], timeZone, now });
      expect(statuses.find((status) => status.metric === 'requests')?.used).toBe(accepted);
      expect(statuses.find((status) => status.metric === 'credits')?.used).toBe(accepted * 15);
    });

    it('reserves the worst case, then keeps what was charged; a refusal takes nothing', async () => {
      const key = subject({ dailyCredits: 100 });
      const now = new Date();
      const reservation = await consumeQuota(stores.counters, {
        subjects: [key],
        credits: 80,
        timeZone,
        now,
      });
      await settleQuota(stores.counters, reservation, { credits: 30, now });
      const second = await consumeQuota(stores.counters, { subjects: [key], credits: 70, timeZone, now });
      await settleQuota(stores.counters, second, { credits: 70, now });
      const over = await refusal(
        consumeQuota(stores.counters, { subjects: [key], credits: 1, timeZone, now }),
      );
      expect(over.code).toBe('budget_exceeded');
      expect(over.options.details).toMatchObject({ period: 'day', limit: 100, used: 100, needed: 1 });
      const [status] = await checkQuota(stores.counters, { subjects: [key], timeZone, now });
      expect(status).toMatchObject({ used: 100, remaining: 0 });
    });

    it("checks every subject: a key within its limits is refused by its user's monthly budget", async () => {
      const key = subject({ dailyCredits: 1_000 });
      const user = subject({ monthlyCredits: 150 }, 'user');
      const now = new Date();
      await consumeQuota(stores.counters, { subjects: [key, user], credits: 100, timeZone, now });
      const refused = await refusal(
        consumeQuota(stores.counters, { subjects: [key, user], credits: 60, timeZone, now }),
      );
      expect(refused.options.details).toMatchObject({
        scope: 'user',
        period: 'month',
        limit: 150,
        used: 100,
      });
      // The refused request gave back what it had taken from the key.
      const [keyStatus] = await checkQuota(stores.counters, { subjects: [key], timeZone, now });
      expect(keyStatus?.used).toBe(100);
    });
  });
}

describe('quota reset at the time-zone boundary', () => {
  it('resets at local midnight and counts a straddling request against the day it started', async () => {
    let clock = new Date('2025-05-10T22:59:58Z').getTime(); // 23:59:58 in Algiers.
    const counters = new MemoryCounterStore(() => clock);
    const key: QuotaSubject = {
      scope: 'key',
      id: 'k-boundary',
      limits: { dailyRequests: 2, dailyCredits: 100 },
    };
    const at = () => new Date(clock);

    await consumeQuota(counters, { subjects: [key], credits: 10, timeZone, now: at() });
    // The straddling request starts one second before midnight…
    const straddling = await consumeQuota(counters, { subjects: [key], credits: 60, timeZone, now: at() });
    expect(
      (await refusal(consumeQuota(counters, { subjects: [key], credits: 1, timeZone, now: at() }))).code,
    ).toBe('quota_exceeded');

    // …and settles two seconds after it: its cost stays with yesterday and the new day starts empty.
    clock = new Date('2025-05-10T23:00:01Z').getTime();
    await settleQuota(counters, straddling, { credits: 90, now: at() });
    const today = await checkQuota(counters, { subjects: [key], timeZone, now: at() });
    expect(today.map((status) => [status.metric, status.used])).toEqual([
      ['requests', 0],
      ['credits', 0],
    ]);
    await consumeQuota(counters, { subjects: [key], credits: 100, timeZone, now: at() });
    await consumeQuota(counters, { subjects: [key], credits: 0, timeZone, now: at() });
    expect(
      (await refusal(consumeQuota(counters, { subjects: [key], credits: 0, timeZone, now: at() }))).code,
    ).toBe('quota_exceeded');

    // At exactly midnight UTC nothing resets: the boundary is the zone's, not UTC's.
    clock = new Date('2025-05-11T00:00:00Z').getTime();
    expect(
      (await refusal(consumeQuota(counters, { subjects: [key], credits: 0, timeZone, now: at() }))).code,
    ).toBe('quota_exceeded');
    clock = new Date('2025-05-11T23:00:00Z').getTime();
    await consumeQuota(counters, { subjects: [key], credits: 0, timeZone, now: at() });
  });
});
