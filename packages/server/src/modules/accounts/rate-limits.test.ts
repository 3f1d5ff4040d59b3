import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { startGatewayHarness } from '../../testing/gateway-harness.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { ensureWallet, getBalance } from '../billing/ledger.js';
import { getIntent } from '../payments/service.js';
import { createPaymentsTestApp, paidBankTransfer } from '../payments/testing/harness.js';
import { rateTiers } from './rate-limits.js';
import { createSignedInAccount, randomIp, uniqueEmail } from './testing.js';

/** Sends `count` requests one after the other (limits count in order) and returns the answers. */
async function burst(harness: Pick<TestApp, 'app'>, count: number, request: () => InjectOptions) {
  const answers: LightMyRequestResponse[] = [];
  for (let index = 0; index < count; index += 1) answers.push(await harness.app.inject(request()));
  return answers;
}

function expectLimitedAt(answers: LightMyRequestResponse[], limit: number) {
  const statuses = answers.map((answer) => answer.statusCode);
  expect(statuses.slice(0, limit).filter((status) => status === 429)).toEqual([]);
  const refused = answers[limit]!;
  expect(refused.statusCode).toBe(429);
  expect(refused.json().error.code).toBe('rate_limited');
  const retryAfter = Number(refused.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(refused.headers['x-ratelimit-limit']).toBe(String(limit));
  expect(refused.headers['x-ratelimit-remaining']).toBe('0');
}

for (const pair of backendPairs()) {
  describe(`rate limits in tiers, 429 with Retry-After, on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());

    it(`relaxed for reads: ${rateTiers.reads} a minute per account, others unaffected`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.reads + 1, () => ({
        url: '/api/account/sessions',
        headers: person.headers,
        remoteAddress: randomIp(),
      }));
      expectLimitedAt(answers, rateTiers.reads);
      const other = await createSignedInAccount(harness.app);
      expect(
        (await harness.app.inject({ url: '/api/account/sessions', headers: other.headers })).statusCode,
      ).toBe(200);
    });

    it(`moderate for changes: ${rateTiers.writes} a minute per account, whatever the address`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.writes + 1, () => ({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: person.headers,
        remoteAddress: randomIp(),
        payload: { theme: 'dark' },
      }));
      expectLimitedAt(answers, rateTiers.writes);
    });

    it(`strict for authentication: ${rateTiers.auth} a minute per address named, from any number of IPs`, async () => {
      const email = uniqueEmail('target');
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email },
      }));
      expectLimitedAt(answers, rateTiers.auth);
      // The same address written another way is the same budget.
      const shouted = await harness.app.inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: email.toUpperCase() },
      });
      expect(shouted.statusCode).toBe(429);
    });

    it(`strict for authentication: ${rateTiers.auth} a minute per IP, whatever the addresses`, async () => {
      const ip = randomIp();
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: ip,
        payload: { email: uniqueEmail('spray'), password: 'a sturdy passphrase 42' },
      }));
      expectLimitedAt(answers, rateTiers.auth);
    });

    it(`strict for sensitive account changes: ${rateTiers.auth} a minute per account`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/account/password',
        headers: person.headers,
        remoteAddress: randomIp(),
        payload: { currentPassword: 'a guess at the password', newPassword: 'a sturdy passphrase 42' },
      }));
      expectLimitedAt(answers, rateTiers.auth);
    });
  });
}

for (const pair of backendPairs()) {
  describe(`one budget per limit name and account, whichever module answers, on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());

    it(`counts a person's reads in the account, profile, organisations and studio together: ${rateTiers.reads} a minute`, async () => {
      const person = await createSignedInAccount(harness.app);
      const reads = [
        '/api/account/sessions', // accounts: account routes
        '/api/account/provider-keys', // accounts: profile routes
        '/api/organizations', // organizations
        '/api/studio/conversations', // studio
      ];
      let round = 0;
      const answers = await burst(harness, rateTiers.reads, () => ({
        url: reads[round++ % reads.length]!,
        headers: person.headers,
        remoteAddress: randomIp(),
      }));
      expect(answers.filter((answer) => answer.statusCode !== 200).map((answer) => answer.body)).toEqual([]);
      for (const url of reads) {
        const refused = await harness.app.inject({ url, headers: person.headers, remoteAddress: randomIp() });
        expect(refused.statusCode, `${url}: ${refused.body}`).toBe(429);
        expect(refused.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(refused.headers['x-ratelimit-limit']).toBe(String(rateTiers.reads));
      }
      // The budget is the person's: someone else reads meanwhile.
      const other = await createSignedInAccount(harness.app);
      expect((await harness.app.inject({ url: reads[2]!, headers: other.headers })).statusCode).toBe(200);
    });

    it(`counts sensitive account changes and the data export together: ${rateTiers.auth} a minute per account`, async () => {
      // Password guesses on one route cannot be topped up with the budget of another module's sensitive route.
      const person = await createSignedInAccount(harness.app);
      const passwordChange = () => ({
        method: 'POST' as const,
        url: '/api/account/password',
        headers: person.headers,
        remoteAddress: randomIp(),
        payload: { currentPassword: 'a guess at the password', newPassword: 'a sturdy passphrase 42' },
      });
      const dataExport = () => ({
        url: '/api/account/export',
        headers: person.headers,
        remoteAddress: randomIp(),
      });
      let round = 0;
      const answers = await burst(harness, rateTiers.auth, () =>
        round++ % 2 ? dataExport() : passwordChange(),
      );
      expect(answers.filter((answer) => answer.statusCode === 429)).toEqual([]);
      for (const refused of [
        await harness.app.inject(passwordChange()),
        await harness.app.inject(dataExport()),
      ]) {
        expect(refused.statusCode, refused.body).toBe(429);
        expect(refused.json().error.code).toBe('rate_limited');
        expect(refused.headers['x-ratelimit-limit']).toBe(String(rateTiers.auth));
      }
    });
  });
}

for (const pair of backendPairs()) {
  describe(`the generation tier on /v1 on ${pair.name}`, () => {
    let harness: Awaited<ReturnType<typeof startGatewayHarness>>;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());

    it(`allows a signed-in person ${rateTiers.generation} calls a minute; API keys have their own limits`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers: LightMyRequestResponse[] = [];
      for (let index = 0; index <= rateTiers.generation; index += 1) {
        answers.push(
          await harness.app.inject({ url: '/v1/models', headers: person.headers, remoteAddress: randomIp() }),
        );
      }
      expect(answers.slice(0, rateTiers.generation).every((answer) => answer.statusCode === 200)).toBe(true);
      const refused = answers[rateTiers.generation]!;
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.json().error.code).toBe('rate_limited');
    });
  });
}

for (const pair of backendPairs()) {
  describe(`money moved by an admin, per admin, on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createPaymentsTestApp(pair);
    });
    afterAll(() => harness.close());

    /** A buyer's paid bank transfer of 9000 DZD for as many credits (refundable by hand). */
    async function paidTransfer() {
      const buyer = await createSignedInAccount(harness.app);
      const intent = await paidBankTransfer(harness.app, buyer.userId);
      const wallet = await ensureWallet(harness.app.db, { ownerType: 'user', ownerId: buyer.userId });
      return { intent, wallet };
    }

    it(`lets one admin move money ${rateTiers.money} times a minute, over grants, refunds and transfer confirmations together`, async () => {
      // A stolen admin session, or a script gone wrong, cannot mint or reverse credits at request speed.
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const { wallet } = await paidTransfer();
      const grant = () => ({
        method: 'POST' as const,
        url: `/api/admin/billing/wallets/${wallet.id}/entries`,
        headers: admin.headers,
        remoteAddress: randomIp(),
        payload: { kind: 'grant', amount: 1, reason: 'goodwill', idempotencyKey: randomUUID() },
      });
      const answers = await burst(harness, rateTiers.money, grant);
      expect(answers.map((answer) => answer.statusCode)).toEqual(answers.map(() => 200));
      expect((await getBalance(harness.app.db, wallet.id)).balance).toBe(9000 + rateTiers.money);

      const { intent } = await paidTransfer();
      const refund = await harness.app.inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/refund`,
        headers: admin.headers,
        payload: { reason: 'asked by the buyer', idempotencyKey: randomUUID() },
      });
      const confirm = await harness.app.inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
        headers: admin.headers,
        payload: { amount: 9000, currency: 'DZD' },
      });
      for (const refused of [refund, confirm, await harness.app.inject(grant())]) {
        expect(refused.statusCode, refused.body).toBe(429);
        expect(refused.json().error.code).toBe('rate_limited');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(refused.headers['x-ratelimit-limit']).toBe(String(rateTiers.money));
      }
      // Nothing of the refused ones moved.
      expect((await getBalance(harness.app.db, wallet.id)).balance).toBe(9000 + rateTiers.money);
      expect(await getIntent(harness.app.db, intent.id)).toMatchObject({ status: 'paid', refundedAmount: 0 });

      // The budget is the admin's: another admin refunds meanwhile.
      const other = await createSignedInAccount(harness.app, { role: 'admin' });
      const otherRefund = await harness.app.inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/refund`,
        headers: other.headers,
        payload: { reason: 'asked by the buyer', idempotencyKey: randomUUID() },
      });
      expect(otherRefund.statusCode, otherRefund.body).toBe(200);
    });
  });
}

for (const pair of backendPairs()) {
  describe(`the back-office's other budgets, per admin, on ${pair.name}`, () => {
    // The gateway's harness: every module's admin routes, the gateway's provider health included.
    let harness: Awaited<ReturnType<typeof startGatewayHarness>>;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());

    /** The one error shape of /api, a wait to honour, and the budget named. */
    function expectRefused(refused: LightMyRequestResponse, limit: number) {
      expect(refused.statusCode, refused.body).toBe(429);
      expect(refused.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers['x-ratelimit-limit']).toBe(String(limit));
      expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    }

    it('gives every back-office route a budget, named in its OpenAPI description with its 429', async () => {
      const document = (await harness.app.inject({ url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>;
      };
      const adminOperations = Object.entries(document.paths)
        .filter(([path]) => path.startsWith('/api/admin/'))
        .flatMap(([path, operations]) =>
          Object.entries(operations).map(([method, operation]) => ({ name: `${method} ${path}`, operation })),
        );
      expect(adminOperations.length).toBeGreaterThan(20);
      const undocumented = adminOperations
        .filter(
          ({ operation }) =>
            !/Rate limit: \d+ a minute per (admin|staff account)/.test(operation.description ?? '') ||
            !operation.responses['429'],
        )
        .map(({ name }) => name);
      expect(undocumented).toEqual([]);
    });

    it(`lets one admin check the whole ledger ${rateTiers.ledgerScan} times a minute; another admin is not held back`, async () => {
      // Each check reads every ledger entry: a script or a stolen session looping on it would load the database.
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const verify = (who: { headers: Record<string, string> }) => ({
        url: '/api/admin/billing/verify',
        headers: who.headers,
        remoteAddress: randomIp(),
      });
      const answers = await burst(harness, rateTiers.ledgerScan + 1, () => verify(admin));
      expect(answers.slice(0, rateTiers.ledgerScan).map((answer) => answer.json())).toEqual(
        answers.slice(0, rateTiers.ledgerScan).map(() => ({ ok: true, mismatches: [] })),
      );
      expectRefused(answers[rateTiers.ledgerScan]!, rateTiers.ledgerScan);

      const other = await createSignedInAccount(harness.app, { role: 'admin' });
      const otherCheck = await harness.app.inject(verify(other));
      expect(otherCheck.statusCode, otherCheck.body).toBe(200);
      expect(otherCheck.json()).toEqual({ ok: true, mismatches: [] });
      // The same admin's other budgets are their own: reading the price book still answers.
      const read = await harness.app.inject({ url: '/api/admin/billing/prices', headers: admin.headers });
      expect(read.statusCode, read.body).toBe(200);
    });

    it(`lets one admin change prices, plans and credit packs ${rateTiers.pricing} times a minute together, then changes nothing`, async () => {
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const customer = await createSignedInAccount(harness.app);
      const wallet = await ensureWallet(harness.app.db, { ownerType: 'user', ownerId: customer.userId });
      const itemKey = `model:rate-probe-${randomUUID()}`;
      const price = (who: { headers: Record<string, string> }, inputPerMillion: number) => ({
        method: 'PUT' as const,
        url: '/api/admin/billing/prices',
        headers: who.headers,
        remoteAddress: randomIp(),
        payload: { itemKey, kind: 'tokens', rates: { inputPerMillion, outputPerMillion: 2_000_000 } },
      });
      const plan = (planId: string) => ({
        method: 'PUT' as const,
        url: `/api/admin/billing/wallets/${wallet.id}/plan`,
        headers: admin.headers,
        remoteAddress: randomIp(),
        payload: { plan: planId },
      });
      const pack = (credits: number) => ({
        method: 'PUT' as const,
        url: '/api/admin/payments/packs/rate-probe',
        headers: admin.headers,
        remoteAddress: randomIp(),
        payload: { name: 'Rate probe', credits, prices: { DZD: 1000 } },
      });
      // One budget over the three modules' routes: prices (billing), plans (billing), packs (payments).
      let round = 0;
      const answers = await burst(harness, rateTiers.pricing, () => {
        round += 1;
        if (round % 3 === 0) return plan(round % 2 ? 'pro' : 'business');
        if (round % 3 === 1) return price(admin, 1_000_000 + round);
        return pack(1_000 + round);
      });
      expect(
        answers.map((answer) => `${answer.statusCode} ${answer.statusCode === 200 ? '' : answer.body}`),
      ).toEqual(answers.map(() => '200 '));
      const before = await harness.app.inject({
        url: `/api/admin/billing/prices?itemKey=${encodeURIComponent(itemKey)}`,
        headers: admin.headers,
      });

      // Past it, each of the three is refused, and none of them changed anything.
      expectRefused(await harness.app.inject(price(admin, 1)), rateTiers.pricing);
      expectRefused(await harness.app.inject(plan('free')), rateTiers.pricing);
      expectRefused(await harness.app.inject(pack(1)), rateTiers.pricing);
      const after = await harness.app.inject({
        url: `/api/admin/billing/prices?itemKey=${encodeURIComponent(itemKey)}`,
        headers: admin.headers,
      });
      expect(after.json()).toEqual(before.json());
      const walletView = await harness.app.inject({
        url: `/api/admin/billing/wallets/${wallet.id}`,
        headers: admin.headers,
      });
      expect(walletView.json().plan).not.toBe('free');
      const packs = await harness.app.inject({ url: '/api/admin/payments/packs', headers: admin.headers });
      expect(packs.json().packs.find((item: { id: string }) => item.id === 'rate-probe').credits).not.toBe(1);

      // Another admin changes a price meanwhile; this admin can still move money (a budget of its own).
      const other = await createSignedInAccount(harness.app, { role: 'admin' });
      const otherPrice = await harness.app.inject(price(other, 3_000_000));
      expect(otherPrice.statusCode, otherPrice.body).toBe(200);
      expect(otherPrice.json().price.rates).toMatchObject({ inputPerMillion: 3_000_000 });
      const grant = await harness.app.inject({
        method: 'POST',
        url: `/api/admin/billing/wallets/${wallet.id}/entries`,
        headers: admin.headers,
        payload: { kind: 'grant', amount: 1, reason: 'goodwill', idempotencyKey: randomUUID() },
      });
      expect(grant.statusCode, grant.body).toBe(200);
    });

    it(`counts every back-office read together, whichever module answers: ${rateTiers.reads} a minute per staff account`, async () => {
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const reads = [
        '/api/admin/security-policy', // admin
        '/api/admin/billing/prices?itemKey=model:none', // billing
        '/api/admin/payments/packs', // payments
        '/api/admin/gateway/health', // gateway
      ];
      let round = 0;
      const answers = await burst(harness, rateTiers.reads, () => ({
        url: reads[round++ % reads.length]!,
        headers: admin.headers,
        remoteAddress: randomIp(),
      }));
      expect(answers.filter((answer) => answer.statusCode !== 200).map((answer) => answer.body)).toEqual([]);
      for (const url of [...reads, '/api/admin/payments/intents', '/api/admin/users']) {
        expectRefused(await harness.app.inject({ url, headers: admin.headers }), rateTiers.reads);
      }
      // Support staff have their own.
      const support = await createSignedInAccount(harness.app, { role: 'support' });
      expect(
        (await harness.app.inject({ url: '/api/admin/users', headers: support.headers })).statusCode,
      ).toBe(200);
    });
  });
}
