import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import {
  fakeCompletion,
  type GatewayHarness,
  startGatewayHarness,
  tenTokenRequest,
} from '../../testing/gateway-harness.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { renewPlans, setWalletPlan } from '../billing/index.js';

/** A completion whose usage equals what the hold assumes, so each call costs exactly its hold. */

const request = tenTokenRequest;

for (const pair of backendPairs()) {
  describe(`/v1 budgets and quotas per key and per user on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let costOfOne: number;

    const as = (client: SignedInClient, options: InjectOptions) =>
      harness.app.inject({ ...options, headers: { ...client.headers, ...options.headers } });

    const call = (key: string) =>
      fetch(`${harness.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(request),
      }).then(async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        charged: Number(response.headers.get('x-webox-credits-charged') ?? 0),
        body: (await response.json()) as { error?: { code?: string; type?: string } },
      }));

    /** A signed-up person on Pro (the test models are not on Free) with the month's plan credits. */
    async function person() {
      const client = await signUpAndSignIn(harness.app);
      const wallet = await harness.app.billing.userWallet(client.userId);
      await setWalletPlan(harness.app.db, { walletId: wallet.id, plan: 'pro' });
      await renewPlans(harness.app.db, { timeZone: harness.app.billing.timeZone });
      return client;
    }

    async function createKey(client: SignedInClient, budget: Record<string, unknown> = {}) {
      const response = await as(client, {
        method: 'POST',
        url: '/api/keys',
        payload: { name: 'budgeted', ...budget },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json() as { key: string; summary: { id: string } & Record<string, unknown> };
    }

    const errorCode = (body: { error?: { code?: string; type?: string } }) =>
      body.error?.code ?? body.error?.type;

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, { metering: 'ledger' });
      const book = await harness.app.billing.prices.get();
      costOfOne = book.priceUsage({
        model: 'gpt-test',
        usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
        plan: { priceMultiplierPermille: 1000 },
      }).credits;
      expect(costOfOne).toBeGreaterThan(0);
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.setHandler(() => fakeCompletion());
    });

    it('stops a key at its daily request quota with 429 and Retry-After at the next midnight', async () => {
      const client = await person();
      const { key, summary } = await createKey(client, { dailyRequestQuota: 3 });
      expect(summary).toMatchObject({
        dailyRequestQuota: 3,
        dailyCreditBudget: null,
        monthlyCreditBudget: null,
      });
      const before = harness.primary.requests.length;
      const statuses: number[] = [];
      for (let index = 0; index < 3; index++) statuses.push((await call(key)).status);
      expect(statuses).toEqual([200, 200, 200]);
      const refused = await call(key);
      expect(refused.status).toBe(429);
      expect(errorCode(refused.body)).toBe('quota_exceeded');
      const retryAfter = Number(refused.retryAfter);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(25 * 3600);
      expect(harness.primary.requests.length - before).toBe(3);
    });

    it('counts an answer from the response cache against the daily request quota, and refuses it past', async () => {
      const client = await person();
      const { key } = await createKey(client, { dailyRequestQuota: 2 });
      const before = harness.primary.requests.length;
      const cachedCall = () =>
        fetch(`${harness.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'x-webox-cache': 'true',
          },
          body: JSON.stringify({ ...request, messages: [{ role: 'user', content: `Hi ${key}` }] }),
        });
      const first = await cachedCall();
      expect([first.status, first.headers.get('x-webox-cache')]).toEqual([200, 'miss']);
      const hit = await cachedCall();
      expect([hit.status, hit.headers.get('x-webox-cache')]).toEqual([200, 'hit']);
      expect(Number(hit.headers.get('x-webox-credits-charged') ?? 0)).toBe(0);
      const refused = await cachedCall();
      expect(refused.status).toBe(429);
      expect(errorCode((await refused.json()) as { error?: { code?: string } })).toBe('quota_exceeded');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(harness.primary.requests.length - before).toBe(1);
    });

    it('never lets 30 concurrent calls spend more than a key’s daily credit budget', async () => {
      const client = await person();
      const budget = costOfOne * 7;
      const { key } = await createKey(client, { dailyCreditBudget: budget });
      const before = harness.primary.requests.length;
      const results = await Promise.all(Array.from({ length: 30 }, () => call(key)));
      const ok = results.filter((result) => result.status === 200);
      const refused = results.filter((result) => result.status === 429);
      expect(ok.length + refused.length).toBe(30);
      expect(refused.every((result) => errorCode(result.body) === 'budget_exceeded')).toBe(true);
      expect(ok.every((result) => result.charged === costOfOne)).toBe(true);
      const spent = ok.reduce((sum, result) => sum + result.charged, 0);
      expect(spent).toBeLessThanOrEqual(budget);
      // Every call costs the same as its hold: exactly seven fit.
      expect(ok.length).toBe(7);
      expect(harness.primary.requests.length - before).toBe(7);
    });

    it('applies a person’s monthly budget across all their keys, and reports where it stands', async () => {
      const client = await person();
      const set = await as(client, {
        method: 'PUT',
        url: '/api/billing/budgets',
        payload: { monthlyCredits: costOfOne * 3 },
      });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.json().budget).toEqual({
        dailyCredits: null,
        monthlyCredits: costOfOne * 3,
        dailyRequests: null,
      });
      const first = (await createKey(client)).key;
      const second = (await createKey(client)).key;
      expect((await call(first)).status).toBe(200);
      expect((await call(second)).status).toBe(200);
      expect((await call(first)).status).toBe(200);
      const refused = await call(second);
      expect(refused.status).toBe(429);
      expect(errorCode(refused.body)).toBe('budget_exceeded');
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);

      const read = await as(client, { url: '/api/billing/budgets' });
      expect(read.statusCode).toBe(200);
      expect(read.json().status).toEqual([
        expect.objectContaining({
          metric: 'credits',
          period: 'month',
          limit: costOfOne * 3,
          used: costOfOne * 3,
          remaining: 0,
        }),
      ]);

      // Lifting it applies at once (the cached budget is evicted).
      const lifted = await as(client, { method: 'PUT', url: '/api/billing/budgets', payload: {} });
      expect(lifted.json().budget).toEqual({ dailyCredits: null, monthlyCredits: null, dailyRequests: null });
      expect((await call(second)).status).toBe(200);
    });

    it('applies a changed key budget to the very next call', async () => {
      const client = await person();
      const { key, summary } = await createKey(client);
      expect((await call(key)).status).toBe(200);
      const tightened = await as(client, {
        method: 'PATCH',
        url: `/api/keys/${summary.id}`,
        payload: { dailyRequestQuota: 1 },
      });
      expect(tightened.statusCode, tightened.body).toBe(200);
      expect(tightened.json().key).toMatchObject({ dailyRequestQuota: 1 });
      // The key's first call counted against no quota (it had none): the counter starts now.
      expect((await call(key)).status).toBe(200);
      const refused = await call(key);
      expect(refused.status).toBe(429);
      expect(errorCode(refused.body)).toBe('quota_exceeded');

      const loosened = await as(client, {
        method: 'PATCH',
        url: `/api/keys/${summary.id}`,
        payload: { dailyRequestQuota: null, monthlyCreditBudget: costOfOne * 100 },
      });
      expect(loosened.json().key).toMatchObject({
        dailyRequestQuota: null,
        monthlyCreditBudget: costOfOne * 100,
      });
      expect((await call(key)).status).toBe(200);
      const listed = await as(client, { url: '/api/keys' });
      expect(listed.json().keys[0]).toMatchObject({ id: summary.id, monthlyCreditBudget: costOfOne * 100 });
    });

    it('answers 404 for another person’s key and 400 for bad limits', async () => {
      const [owner, other] = await Promise.all([person(), signUpAndSignIn(harness.app)]);
      const { summary } = await createKey(owner);
      const foreign = await as(other, {
        method: 'PATCH',
        url: `/api/keys/${summary.id}`,
        payload: { dailyRequestQuota: 1 },
      });
      expect(foreign.statusCode).toBe(404);

      const bad: Array<Record<string, unknown>> = [
        { dailyRequestQuota: -1 },
        { dailyRequestQuota: 0 },
        { dailyCreditBudget: 1.5 },
        { monthlyCreditBudget: 10 ** 12 },
        { dailyCreditBudget: '100' },
      ];
      for (const payload of bad) {
        const created = await as(owner, {
          method: 'POST',
          url: '/api/keys',
          payload: { name: 'x', ...payload },
        });
        expect(created.statusCode, JSON.stringify(payload)).toBe(400);
        const patched = await as(owner, { method: 'PATCH', url: `/api/keys/${summary.id}`, payload });
        expect(patched.statusCode, JSON.stringify(payload)).toBe(400);
      }
      const unknownField = await as(owner, {
        method: 'PATCH',
        url: `/api/keys/${summary.id}`,
        payload: { rpmLimit: 5 },
      });
      expect(unknownField.statusCode).toBe(400);

      for (const payload of [
        { dailyCredits: -5 },
        { monthlyCredits: 2.5 },
        { dailyRequests: 10 ** 12 },
        { weeklyCredits: 10 },
      ]) {
        const response = await as(owner, { method: 'PUT', url: '/api/billing/budgets', payload });
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      }
      const anonymous = await harness.app.inject({ url: '/api/billing/budgets' });
      expect(anonymous.statusCode).toBe(401);
    });
  });
}
