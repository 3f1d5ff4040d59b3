import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { type SignedInClient, signUpAndSignIn, waitForEmail } from '../accounts/testing.js';
import { verifyLedger } from '../billing/ledger.js';
import { listIntentEvents } from './service.js';
import { type FakeChargily, startFakeChargily } from './testing/fake-chargily.js';
import { balanceOf, createPaymentsTestApp, madeUpKey, providerTestEnv } from './testing/harness.js';

for (const pair of backendPairs()) {
  describe(`Chargily Pay on ${pair.name}`, () => {
    const secretKey = madeUpKey('test_sk_');
    let chargily: FakeChargily;
    let harness: TestApp;
    let buyer: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      chargily = await startFakeChargily({ secretKey });
      harness = await createPaymentsTestApp(pair, {
        CHARGILY_SECRET_KEY: secretKey,
        CHARGILY_API_URL: chargily.apiUrl,
        ...providerTestEnv,
      });
      buyer = await signUpAndSignIn(harness.app);
    });
    afterAll(async () => {
      await harness?.close();
      await chargily?.close();
    });

    async function startCheckout(client = buyer) {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId: 'starter', currency: 'DZD', provider: 'chargily', locale: 'fr' },
      });
      expect(response.statusCode, response.body).toBe(201);
      const intent = response.json();
      const checkout = [...chargily.checkouts.values()].find((candidate) =>
        intent.checkoutUrl.includes(candidate.id),
      )!;
      return { intent, checkout };
    }

    function deliver(webhook: { payload: string; headers: Record<string, string> }) {
      return app().inject({
        method: 'POST',
        url: '/api/payments/webhooks/chargily',
        headers: webhook.headers,
        payload: webhook.payload,
      });
    }

    it('offers Chargily in DZD and the bank transfer, with the packs', async () => {
      const response = await app().inject({ url: '/api/payments/options', headers: buyer.headers });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.methods).toEqual(
        expect.arrayContaining([
          { provider: 'chargily', currencies: ['DZD'] },
          { provider: 'bank_transfer', currencies: ['DZD', 'EUR'] },
        ]),
      );
      expect(body.methods.map((method: { provider: string }) => method.provider)).not.toContain('stripe');
      expect(body.packs[0]).toMatchObject({ id: 'starter', credits: 100_000, prices: { DZD: 1000 } });
    });

    it('creates a checkout with integer dinars, return URLs, webhook endpoint, locale and metadata', async () => {
      const { intent, checkout } = await startCheckout();
      expect(intent).toMatchObject({ status: 'pending', amount: 1000, currency: 'DZD', credits: 100_000 });
      const sent = JSON.parse(chargily.requests.findLast((request) => request.method === 'POST')!.body);
      expect(sent).toMatchObject({
        amount: 1000,
        currency: 'dzd',
        locale: 'fr',
        success_url: `https://webox.test/payments/${intent.id}/success`,
        failure_url: `https://webox.test/payments/${intent.id}/failure`,
        webhook_endpoint: 'https://webox.test/api/payments/webhooks/chargily',
        metadata: { intent_id: intent.id },
      });
      expect(checkout.amount).toBe(1000);
    });

    it('pays once: a signed checkout.paid tops up after re-fetching the checkout, duplicates do nothing', async () => {
      const client = await signUpAndSignIn(app());
      const { intent, checkout } = await startCheckout(client);
      chargily.setStatus(checkout.id, 'paid');
      const webhook = chargily.webhook(checkout.id, 'checkout.paid');
      const first = await deliver(webhook);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({ received: true, outcome: 'paid' });
      expect(
        chargily.requests.some((request) => request.method === 'GET' && request.path.endsWith(checkout.id)),
      ).toBe(true);
      expect(await balanceOf(app(), client.userId)).toBe(100_000);

      // The same event again (Chargily retries), and a new event for the same paid checkout.
      expect((await deliver(webhook)).json().outcome).toBe('duplicate_event');
      expect((await deliver(chargily.webhook(checkout.id, 'checkout.paid'))).json().outcome).toBe(
        'already_paid',
      );
      // Concurrent deliveries of fresh events never add a second top-up.
      const burst = await Promise.all(
        Array.from({ length: 5 }, () => deliver(chargily.webhook(checkout.id, 'checkout.paid'))),
      );
      expect(burst.map((response) => `${response.statusCode} ${response.body}`)).toEqual(
        Array(5).fill(expect.stringMatching(/^200 /)),
      );
      expect(await balanceOf(app(), client.userId)).toBe(100_000);

      const view = await app().inject({ url: `/api/payments/intents/${intent.id}`, headers: client.headers });
      expect(view.json()).toMatchObject({
        status: 'paid',
        receiptNumber: expect.stringMatching(/^WBX-\d{4}-\d{6}$/),
      });
      expect(view.json().events.map((event: { toStatus: string }) => event.toStatus)).toEqual([
        'created',
        'pending',
        'paid',
      ]);
      const mail = await waitForEmail(app(), { to: client.email, template: 'payment_receipt' });
      expect(mail.text).toContain(`/api/payments/intents/${intent.id}/receipt.pdf`);
      expect(mail.text).toContain('1000 DZD');
      const pdf = await app().inject({
        url: `/api/payments/intents/${intent.id}/receipt.pdf`,
        headers: client.headers,
      });
      expect(pdf.statusCode).toBe(200);
      expect(pdf.headers['content-type']).toBe('application/pdf');
      expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
      // Someone else's receipt is not found.
      const other = await app().inject({
        url: `/api/payments/intents/${intent.id}/receipt.pdf`,
        headers: buyer.headers,
      });
      expect(other.statusCode).toBe(404);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('refuses forged webhooks with 400 and adds nothing', async () => {
      const client = await signUpAndSignIn(app());
      const { intent, checkout } = await startCheckout(client);
      chargily.setStatus(checkout.id, 'paid');
      const wrongKey = chargily.webhook(checkout.id, 'checkout.paid', { key: madeUpKey('test_sk_') });
      expect((await deliver(wrongKey)).statusCode).toBe(400);
      const genuine = chargily.webhook(checkout.id, 'checkout.paid');
      const tampered = { ...genuine, payload: genuine.payload.replace('"amount":1000', '"amount":10') };
      expect((await deliver(tampered)).statusCode).toBe(400);
      const unsigned = { payload: genuine.payload, headers: { 'content-type': 'application/json' } };
      expect((await deliver(unsigned)).statusCode).toBe(400);
      const response = await deliver({ ...genuine, headers: { ...genuine.headers, signature: 'zz' } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).not.toContain(secretKey);
      expect(await balanceOf(app(), client.userId)).toBe(0);
      const events = await listIntentEvents(harness.database.db, intent.id);
      expect(events.some((event) => event.toStatus === 'paid')).toBe(false);
    });

    it('grants nothing for a signed event whose checkout is not paid (replayed from another checkout or forged data)', async () => {
      const client = await signUpAndSignIn(app());
      const { checkout } = await startCheckout(client);
      // The event claims "paid" but Chargily says the checkout is still pending.
      const lying = chargily.webhook(checkout.id, 'checkout.paid', { data: { ...checkout, status: 'paid' } });
      expect((await deliver(lying)).json().outcome).toBe('ignored');
      expect(await balanceOf(app(), client.userId)).toBe(0);
    });

    it('answers 200 without credit for unknown checkouts', async () => {
      const response = await deliver(
        chargily.webhook('01hdoesnotexist', 'checkout.paid', { data: { id: '01hdoesnotexist' } }),
      );
      expect(response.statusCode).toBe(200);
      expect(response.json().outcome).toBe('unknown_intent');
    });

    it('refuses an amount or currency that does not match the intent', async () => {
      const client = await signUpAndSignIn(app());
      const { intent, checkout } = await startCheckout(client);
      checkout.amount = 100;
      chargily.setStatus(checkout.id, 'paid');
      const response = await deliver(chargily.webhook(checkout.id, 'checkout.paid'));
      expect(response.statusCode).toBe(200);
      expect(response.json().outcome).toBe('mismatch');
      checkout.amount = 1000;
      checkout.currency = 'eur';
      expect((await deliver(chargily.webhook(checkout.id, 'checkout.paid'))).json().outcome).toBe('mismatch');
      expect(await balanceOf(app(), client.userId)).toBe(0);
      const events = await listIntentEvents(harness.database.db, intent.id);
      expect(events.filter((event) => event.type === 'amount_mismatch')).toHaveLength(2);
    });

    it('handles out-of-order events: a late failure never undoes a payment; a late payment after failure still credits once', async () => {
      const client = await signUpAndSignIn(app());
      const { intent, checkout } = await startCheckout(client);
      chargily.setStatus(checkout.id, 'paid');
      const paidEvent = chargily.webhook(checkout.id, 'checkout.paid');
      chargily.setStatus(checkout.id, 'failed');
      const failedEvent = chargily.webhook(checkout.id, 'checkout.failed');
      // The failure arrives first while the checkout is failed: the intent fails.
      expect((await deliver(failedEvent)).json().outcome).toBe('closed');
      // Chargily then reports the checkout paid (its final state): the money was taken, the credits are owed.
      chargily.setStatus(checkout.id, 'paid');
      expect((await deliver(paidEvent)).json().outcome).toBe('paid');
      expect((await deliver(chargily.webhook(checkout.id, 'checkout.failed'))).json().outcome).toBe(
        'already_paid',
      );
      expect(await balanceOf(app(), client.userId)).toBe(100_000);
      const view = await app().inject({ url: `/api/payments/intents/${intent.id}`, headers: client.headers });
      expect(view.json().status).toBe('paid');
    });

    it('closes the intent and answers 504 when Chargily times out during checkout creation', async () => {
      chargily.behaviour.createDelayMs = 2_500;
      try {
        const response = await app().inject({
          method: 'POST',
          url: '/api/payments/intents',
          headers: buyer.headers,
          payload: { packId: 'starter', currency: 'DZD', provider: 'chargily' },
        });
        expect(response.statusCode).toBe(504);
        expect(response.json().error.code).toBe('upstream_timeout');
      } finally {
        chargily.behaviour.createDelayMs = 0;
      }
      const list = await app().inject({ url: '/api/payments/intents', headers: buyer.headers });
      expect(list.json().intents[0]).toMatchObject({ status: 'failed', checkoutUrl: null });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    it('rejects an unknown pack, a currency the provider does not take and a provider not configured', async () => {
      const cases = [
        [{ packId: 'nope', currency: 'DZD', provider: 'chargily' }, 404],
        [{ packId: 'starter', currency: 'EUR', provider: 'chargily' }, 422],
        [{ packId: 'starter', currency: 'EUR', provider: 'stripe' }, 422],
        [{ packId: 'pro', currency: 'USD', provider: 'bank_transfer' }, 422],
      ] as const;
      for (const [payload, status] of cases) {
        const response = await app().inject({
          method: 'POST',
          url: '/api/payments/intents',
          headers: buyer.headers,
          payload,
        });
        expect(response.statusCode, JSON.stringify(payload)).toBe(status);
      }
    });
  });
}
