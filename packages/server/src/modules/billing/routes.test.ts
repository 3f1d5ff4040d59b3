import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { users } from '../accounts/tables.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import {
  ensureWallet,
  getBalance,
  holdCredits,
  MAX_CREDITS_PER_ENTRY,
  postEntry,
  systemWalletId,
  verifyLedger,
} from './ledger.js';
import { plans, renewPlans, setWalletPlan } from './plans.js';
import { EXPIRE_HOLDS_JOB } from './plugin.js';
import { transferCredits } from './transfers.js';

for (const pair of backendPairs()) {
  describe(`billing HTTP API and /v1 metering on ${pair.name}`, () => {
    let harness: TestApp;
    let person: SignedInClient;
    let administrator: SignedInClient;
    const model = `model-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      harness = await createTestApp(pair);
      person = await signUpAndSignIn(harness.app);
      administrator = await signUpAndSignIn(harness.app);
      await harness.app.db.update(users).set({ role: 'admin' }).where(eq(users.id, administrator.userId));
    });
    afterAll(() => harness?.close());

    const inject = (options: InjectOptions) => harness.app.inject(options);

    it('refuses anonymous callers and non-admins on admin routes', async () => {
      expect((await inject({ url: '/api/billing/balance' })).statusCode).toBe(401);
      const forbidden = await inject({ url: '/api/admin/billing/prices', headers: person.headers });
      expect(forbidden.statusCode).toBe(403);
    });

    it('shows a new wallet on the free plan, with its balance in each currency', async () => {
      const response = await inject({ url: '/api/billing/balance', headers: person.headers });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        balance: 0,
        held: 0,
        available: 0,
        plan: { id: 'free' },
        display: [
          { currency: 'DZD', formatted: '0.00' },
          { currency: 'EUR', formatted: '0.00' },
          { currency: 'USD', formatted: '0.00' },
        ],
      });
    });

    it('lets an admin price a model, grant credits and move a wallet to a plan', async () => {
      const priced = await inject({
        method: 'PUT',
        url: '/api/admin/billing/prices',
        headers: administrator.headers,
        payload: {
          itemKey: `model:${model}`,
          kind: 'tokens',
          rates: { inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 },
        },
      });
      expect(priced.statusCode).toBe(200);
      expect(priced.json().price).toMatchObject({
        version: 1,
        source: 'admin',
        createdBy: administrator.userId,
      });
      const invalid = await inject({
        method: 'PUT',
        url: '/api/admin/billing/prices',
        headers: administrator.headers,
        payload: { itemKey: `model:${model}`, kind: 'tokens', rates: { inputPerMillion: 1 } },
      });
      expect(invalid.statusCode).toBe(400);
      // Priced as another kind than its key names, the model's calls would cost nothing: refused.
      const wrongKind = await inject({
        method: 'PUT',
        url: '/api/admin/billing/prices',
        headers: administrator.headers,
        payload: { itemKey: `model:${model}`, kind: 'image', rates: { perImage: 5 } },
      });
      expect(wrongKind.statusCode).toBe(400);
      expect(wrongKind.json().error).toMatchObject({ code: 'validation_failed' });

      const { walletId } = (await inject({ url: '/api/billing/balance', headers: person.headers })).json();
      const grant = {
        method: 'POST' as const,
        url: `/api/admin/billing/wallets/${walletId}/entries`,
        headers: administrator.headers,
        payload: {
          kind: 'grant',
          amount: 1_000,
          reason: 'welcome credits',
          idempotencyKey: `grant-${walletId}`,
        },
      };
      const granted = await inject(grant);
      expect(granted.statusCode).toBe(200);
      expect(granted.json()).toMatchObject({ balance: 1_000, duplicate: false });
      expect((await inject(grant)).json()).toMatchObject({ balance: 1_000, duplicate: true });

      const planned = await inject({
        method: 'PUT',
        url: `/api/admin/billing/wallets/${walletId}/plan`,
        headers: administrator.headers,
        payload: { plan: 'pro' },
      });
      expect(planned.json()).toEqual({ plan: 'pro' });
      const wallet = await inject({
        url: `/api/admin/billing/wallets/${walletId}`,
        headers: administrator.headers,
      });
      expect(wallet.json()).toMatchObject({ balance: 1_000, plan: 'pro', ownerType: 'user' });
    });

    it('refuses a grant or transfer that would take a wallet past 2^53 - 1 credits, leaving it readable', async () => {
      const owner = await signUpAndSignIn(harness.app);
      const { walletId } = (await inject({ url: '/api/billing/balance', headers: owner.headers })).json();
      const grant = (amount: number, wallet = walletId) =>
        inject({
          method: 'POST',
          url: `/api/admin/billing/wallets/${wallet}/entries`,
          headers: administrator.headers,
          payload: { kind: 'grant', amount, reason: 'typo in the amount', idempotencyKey: randomUUID() },
        });
      // One figure past the most an entry may name is refused where it is typed, and changes nothing.
      const typo = await grant(MAX_CREDITS_PER_ENTRY + 1);
      expect(typo.statusCode, typo.body).toBe(400);
      expect(typo.json().error.code).toBe('validation_failed');
      expect((await inject({ url: '/api/billing/balance', headers: owner.headers })).json().balance).toBe(0);
      // A wallet filled entry by entry (here by the ledger service, as thousands of the largest grants would).
      await postEntry(harness.app.db, {
        walletId,
        kind: 'grant',
        amount: Number.MAX_SAFE_INTEGER - 10,
        idempotencyKey: `fill-${walletId}`,
      });
      // Two more grants: each fits the schema, together they would pass what a balance can be read back as.
      const refused = await grant(11);
      expect(refused.statusCode, refused.body).toBe(422);
      expect(refused.json().error).toMatchObject({ code: 'unprocessable' });
      expect((await grant(10)).json()).toMatchObject({ balance: Number.MAX_SAFE_INTEGER });
      // The wallet still answers, to its owner and to the admin.
      const balance = await inject({ url: '/api/billing/balance', headers: owner.headers });
      expect(balance.statusCode, balance.body).toBe(200);
      expect(balance.json().balance).toBe(Number.MAX_SAFE_INTEGER);
      const read = await inject({
        url: `/api/admin/billing/wallets/${walletId}`,
        headers: administrator.headers,
      });
      expect(read.statusCode, read.body).toBe(200);

      // A transfer into the full wallet is refused as a whole: the source keeps its credits.
      const sender = await ensureWallet(harness.app.db, { ownerType: 'user', ownerId: person.userId });
      const before = await getBalance(harness.app.db, sender.id);
      const error = await transferCredits(harness.app.db, {
        fromWalletId: sender.id,
        toWalletId: walletId,
        amount: 1,
        idempotencyKey: `full-${randomUUID()}`,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'unprocessable' });
      expect(await getBalance(harness.app.db, sender.id)).toEqual(before);

      // A system wallet (the ledger's counter-account) is not a wallet an admin grants to.
      const system = await systemWalletId(harness.app.db, 'grants');
      const toSystem = await grant(5, system);
      expect(toSystem.statusCode, toSystem.body).toBe(404);
      expect(await verifyLedger(harness.app.db)).toEqual([]);
    });

    it('meters /v1 calls: holds the worst case, settles once, releases failures, refuses with 402', async () => {
      const { metering } = harness.app.billing;
      await harness.app.billing.pricesChanged();
      const caller = { userId: person.userId, keyId: 'key-a' };
      const { walletId } = (await inject({ url: '/api/billing/balance', headers: person.headers })).json();

      // 10 prompt + 100 output tokens at 1 and 2 credits a token: 210 held.
      const charge = await metering.begin({
        caller,
        requestId: 'req-1',
        candidates: [{ model }],
        maxPromptTokens: 10,
        maxOutputTokens: 100,
      });
      expect(charge.held).toBe(210);
      expect(await getBalance(harness.app.db, walletId)).toEqual({
        balance: 1_000,
        held: 210,
        available: 790,
      });
      const usage = { inputTokens: 10, outputTokens: 20, cachedInputTokens: 0 };
      const [first, again] = await Promise.all([
        charge.settle({ usage, model }),
        charge.settle({ usage, model }),
      ]);
      expect(first).toEqual({ charged: 50, balance: 950 });
      expect(again).toEqual(first);
      expect(await charge.settle({ usage, model })).toEqual(first);

      const failed = await metering.begin({
        caller: { userId: person.userId, keyId: 'key-b' },
        requestId: 'req-2',
        candidates: [{ model }],
        maxPromptTokens: 10,
        maxOutputTokens: 100,
      });
      await failed.release();
      expect(await getBalance(harness.app.db, walletId)).toEqual({ balance: 950, held: 0, available: 950 });

      const third = await metering.begin({
        caller: { userId: person.userId, keyId: null },
        requestId: 'req-3',
        candidates: [{ model }],
        maxPromptTokens: 0,
        maxOutputTokens: 10,
      });
      await third.settle({ usage: { inputTokens: 0, outputTokens: 10, cachedInputTokens: 0 }, model });

      const refused = await metering
        .begin({
          caller,
          requestId: 'req-4',
          candidates: [{ model }],
          maxPromptTokens: 10,
          maxOutputTokens: 1_000,
        })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).status).toBe(402);
      expect((refused as AppError).options.details).toEqual({ balance: 930, available: 930, needed: 2_010 });
      expect(await verifyLedger(harness.app.db)).toEqual([]);
    });

    it('pages the ledger with a cursor and exports it as CSV', async () => {
      const first = await inject({ url: '/api/billing/ledger?limit=2', headers: person.headers });
      expect(first.statusCode).toBe(200);
      const page = first.json();
      expect(
        page.entries.map((entry: { kind: string; amount: number }) => [entry.kind, entry.amount]),
      ).toEqual([
        ['usage', -20],
        ['usage', -50],
      ]);
      expect(page.entries[1]).toMatchObject({ model, keyId: 'key-a', balanceAfter: 950, requestId: 'req-1' });
      expect(page.entries[1].priceVersion).toEqual(expect.any(Number));
      const second = await inject({
        url: `/api/billing/ledger?limit=2&cursor=${page.nextCursor}`,
        headers: person.headers,
      });
      expect(second.json().entries.map((entry: { kind: string }) => entry.kind)).toEqual(['grant']);
      expect(second.json().nextCursor).toBeNull();

      const csv = await inject({ url: '/api/billing/ledger?format=csv', headers: person.headers });
      expect(csv.headers['content-type']).toContain('text/csv');
      const lines = csv.body.trim().split('\r\n');
      expect(lines[0]).toBe(
        'id,created_at,kind,amount,balance_after,request_id,model,key_id,price_version,payment_id,order_id,reason,requests',
      );
      expect(lines).toHaveLength(4);
      expect(lines[1]).toContain(',grant,1000,1000,');
      expect(lines[1]).toContain('welcome credits');
      expect(lines[3]).toMatch(/,usage,-20,.*,1$/); // a call held on its own: one request
    });

    it('reports usage by day, model and key', async () => {
      const byModel = (
        await inject({ url: '/api/billing/usage?groupBy=model', headers: person.headers })
      ).json();
      expect(byModel.rows).toEqual([{ group: model, requests: 2, credits: 70 }]);
      expect(byModel.total).toEqual({ requests: 2, credits: 70 });
      expect(byModel.timeZone).toBe('Africa/Algiers');
      const byKey = (await inject({ url: '/api/billing/usage?groupBy=key', headers: person.headers })).json();
      expect(byKey.rows).toEqual([
        { group: '', requests: 1, credits: 20 },
        { group: 'key-a', requests: 1, credits: 50 },
      ]);
      const byDay = (await inject({ url: '/api/billing/usage', headers: person.headers })).json();
      expect(byDay.rows).toEqual([
        { group: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), requests: 2, credits: 70 },
      ]);
      const empty = await inject({
        url: '/api/billing/usage?from=2020-01-01&to=2020-01-31',
        headers: person.headers,
      });
      expect(empty.json().rows).toEqual([]);
      expect(empty.json().from).toBe('2019-12-31T23:00:00.000Z');
      const backwards = await inject({
        url: '/api/billing/usage?from=2020-02-01&to=2020-01-01',
        headers: person.headers,
      });
      expect(backwards.statusCode).toBe(400);
      // Dates the calendar does not have are the caller's mistake (400), not a server error.
      for (const query of ['from=2024-02-31', 'to=2024-13-01', 'from=2023-02-29&to=2023-03-01']) {
        const impossible = await inject({ url: `/api/billing/usage?${query}`, headers: person.headers });
        expect(impossible.statusCode).toBe(400);
        expect(impossible.json().error).toMatchObject({ code: 'validation_failed' });
      }
      const leapDay = await inject({
        url: '/api/billing/usage?from=2024-02-29&to=2024-03-01',
        headers: person.headers,
      });
      expect(leapDay.statusCode).toBe(200);
    });

    it('runs the hold-expiry job: a hold whose process died stops locking credits after its TTL', async () => {
      const { walletId } = (await inject({ url: '/api/billing/balance', headers: person.headers })).json();
      const before = await getBalance(harness.app.db, walletId);
      await holdCredits(harness.app.db, {
        walletId,
        amount: 100,
        requestId: 'crashed-process',
        ttlSeconds: 30,
        now: new Date(Date.now() - 60_000),
      });
      expect((await getBalance(harness.app.db, walletId)).held).toBe(before.held + 100);
      await harness.app.stores.jobs.enqueue(EXPIRE_HOLDS_JOB, {}, { jobId: `test-${randomUUID()}` });
      const deadline = Date.now() + 10_000;
      while ((await getBalance(harness.app.db, walletId)).held !== before.held && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await getBalance(harness.app.db, walletId)).toEqual(before);
    });

    it('publishes plans and prices, and shows a user where their quotas stand', async () => {
      const planList = (await inject({ url: '/api/billing/plans' })).json();
      expect(planList.plans.map((plan: { id: string }) => plan.id)).toEqual([
        'free',
        'pro',
        'business',
        'education',
        'government',
      ]);
      expect(planList.plans[1]).toMatchObject({ monthlyCredits: 200_000, overage: true, allowedModels: '*' });
      const priceList = (await inject({ url: '/api/billing/prices' })).json();
      expect(priceList.prices).toContainEqual({
        itemKey: `model:${model}`,
        kind: 'tokens',
        version: 1,
        rates: { inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 },
      });
      const quotas = await inject({ url: '/api/billing/quotas', headers: person.headers });
      expect(quotas.statusCode).toBe(200);
      expect(quotas.json().quotas).toEqual([
        expect.objectContaining({ scope: 'user', metric: 'requests', period: 'day', limit: 10_000, used: 3 }),
      ]);
    });

    it('applies budgets that another module sets on a key through the metering hooks', async () => {
      harness.app.billing.useMeteringHooks({
        limitsFor: async (caller) => (caller.keyId === 'key-limited' ? { key: { dailyRequests: 1 } } : {}),
      });
      const begin = () =>
        harness.app.billing.metering.begin({
          caller: { userId: person.userId, keyId: 'key-limited' },
          requestId: randomUUID(),
          candidates: [{ model }],
          maxPromptTokens: 1,
          maxOutputTokens: 1,
        });
      await (await begin()).release();
      const refused = await begin().catch((error: unknown) => error);
      expect((refused as AppError).code).toBe('quota_exceeded');
      expect((refused as AppError).options.retryAfterSeconds).toBeGreaterThan(0);
    });

    it('lets an admin verify the books', async () => {
      const response = await inject({ url: '/api/admin/billing/verify', headers: administrator.headers });
      expect(response.json()).toEqual({ ok: true, mismatches: [] });
    });

    // Last: the plan run credits every subscribed wallet of this app, the ones earlier tests use included.
    it('keeps system wallets out of the admin wallet routes, and no wallet stops the monthly plan run', async () => {
      const system = await systemWalletId(harness.app.db, 'plan_credits');
      for (const [method, url, payload] of [
        ['GET', `/api/admin/billing/wallets/${system}`, undefined],
        ['PUT', `/api/admin/billing/wallets/${system}/plan`, { plan: 'pro' }],
      ] as const) {
        const response = await inject({ method, url, headers: administrator.headers, payload });
        expect(response.statusCode, `${method} ${url} ${response.body}`).toBe(404);
        expect(response.json().error.code).toBe('not_found');
      }

      // Wallets the run cannot credit: a system wallet put on a plan (as this route allowed), a full wallet.
      const db = harness.app.db;
      await setWalletPlan(db, { walletId: system, plan: 'pro' });
      const full = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
      await postEntry(db, {
        walletId: full.id,
        kind: 'grant',
        amount: Number.MAX_SAFE_INTEGER - 1,
        idempotencyKey: `full-${full.id}`,
      });
      await setWalletPlan(db, { walletId: full.id, plan: 'pro' });
      const ordinary = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
      await setWalletPlan(db, { walletId: ordinary.id, plan: 'pro' });
      await renewPlans(db, { timeZone: harness.app.billing.timeZone });
      expect((await getBalance(db, ordinary.id)).balance).toBe(plans.pro!.monthlyCredits);
      expect((await getBalance(db, full.id)).balance).toBe(Number.MAX_SAFE_INTEGER - 1);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
