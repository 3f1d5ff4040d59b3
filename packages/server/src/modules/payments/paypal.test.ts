import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { listAuditEvents } from '../accounts/audit.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { ensureWallet, postEntry, verifyLedger } from '../billing/ledger.js';
import { listIntentEvents } from './service.js';
import { type FakePaypal, startFakePaypal } from './testing/fake-paypal.js';
import {
  balanceOf,
  createPaymentsTestApp,
  madeUpKey,
  makeAdmin,
  providerTestEnv,
} from './testing/harness.js';

for (const pair of backendPairs()) {
  describe(`PayPal Orders v2 on ${pair.name}`, () => {
    const clientId = madeUpKey('AZfake');
    const clientSecret = madeUpKey('EKfake');
    const webhookId = madeUpKey('WH').toUpperCase();
    let paypal: FakePaypal;
    let harness: TestApp;
    let admin: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      paypal = await startFakePaypal({ clientId, clientSecret, webhookId });
      harness = await createPaymentsTestApp(pair, {
        PAYPAL_CLIENT_ID: clientId,
        PAYPAL_CLIENT_SECRET: clientSecret,
        PAYPAL_WEBHOOK_ID: webhookId,
        PAYPAL_API_URL: paypal.apiUrl,
        ...providerTestEnv,
      });
      admin = await makeAdmin(harness.app);
    });
    afterAll(async () => {
      await harness?.close();
      await paypal?.close();
    });

    async function checkout(client: SignedInClient, currency = 'USD') {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId: 'starter', currency, provider: 'paypal', locale: 'fr' },
      });
      expect(response.statusCode, response.body).toBe(201);
      const intent = response.json();
      const order = paypal.orderOf(intent.id)!;
      return { intent, order };
    }

    const deliver = (event: { payload: string; headers: Record<string, string> }) =>
      app().inject({
        method: 'POST',
        url: '/api/payments/webhooks/paypal',
        headers: event.headers,
        payload: event.payload,
      });
    /** A buyer who paid through PayPal, with the intent and PayPal's capture id. */
    async function paidCapture() {
      const buyer = await signUpAndSignIn(app());
      const { intent, order } = await checkout(buyer);
      paypal.approve(order.id);
      expect((await deliver(paypal.orderApproved(order.id))).json().outcome).toBe('paid');
      const captureId = String(paypal.orders.get(order.id)!.purchase_units[0]!.payments!.captures[0]!.id);
      return { buyer, intent, captureId };
    }
    const intentView = async (intentId: string) =>
      (await app().inject({ url: `/api/admin/payments/intents/${intentId}`, headers: admin.headers })).json()
        .intent;
    const refundAsAdmin = (intentId: string, amount: number, reason: string) =>
      app().inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intentId}/refund`,
        headers: admin.headers,
        payload: { amount, reason, idempotencyKey: randomUUID() },
      });
    const sync = (client: SignedInClient, intentId: string) =>
      app().inject({
        method: 'POST',
        url: `/api/payments/intents/${intentId}/sync`,
        headers: client.headers,
      });

    it('is offered in EUR and USD', async () => {
      const buyer = await signUpAndSignIn(app());
      const options = await app().inject({ url: '/api/payments/options', headers: buyer.headers });
      expect(options.json().methods).toContainEqual({ provider: 'paypal', currencies: ['EUR', 'USD'] });
    });

    it('creates an order for CAPTURE with the amount as a decimal string, the intent as custom_id and PayPal-Request-Id; the token is cached', async () => {
      const buyer = await signUpAndSignIn(app());
      const tokensBefore = paypal.counts.tokens;
      const { intent, order } = await checkout(buyer, 'USD');
      await checkout(buyer, 'EUR');
      expect(paypal.counts.tokens - tokensBefore).toBeLessThanOrEqual(1);
      expect(intent).toMatchObject({ status: 'pending', amount: 750, currency: 'USD' });
      expect(intent.checkoutUrl).toBe(`${paypal.apiUrl}/checkoutnow?token=${order.id}`);
      expect(order.purchase_units[0]).toMatchObject({
        custom_id: intent.id,
        amount: { currency_code: 'USD', value: '7.50' },
      });
      expect(order.returnUrl).toBe(`https://webox.test/payments/${intent.id}/success`);
      expect(order.cancelUrl).toBe(`https://webox.test/payments/${intent.id}/failure`);
      const create = paypal.requests.find(
        (request) => request.path === '/v2/checkout/orders' && request.body.includes(intent.id),
      )!;
      expect(create.headers['paypal-request-id']).toBe(`checkout-${intent.id}`);
      expect(JSON.parse(create.body).intent).toBe('CAPTURE');
    });

    it('captures on the buyer’s return; PAYMENT.CAPTURE.COMPLETED afterwards adds nothing', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, order } = await checkout(buyer);
      // Not approved yet: the return page finds it pending and nothing is captured.
      expect((await sync(buyer, intent.id)).json()).toMatchObject({ outcome: 'pending', status: 'pending' });
      // The buyer approves on PayPal, which redirects to the success URL with the order as `token`.
      const approve = await fetch(intent.checkoutUrl, { redirect: 'manual' });
      expect(approve.status).toBe(302);
      expect(approve.headers.get('location')).toContain(`/payments/${intent.id}/success?token=${order.id}`);
      const capturesBefore = paypal.counts.captures;
      const returned = await sync(buyer, intent.id);
      expect(returned.statusCode, returned.body).toBe(200);
      expect(returned.json()).toMatchObject({
        outcome: 'paid',
        status: 'paid',
        receiptNumber: expect.stringMatching(/^WBX-/),
      });
      const capture = paypal.requests.find((request) => request.path.endsWith(`${order.id}/capture`))!;
      expect(capture.headers['paypal-request-id']).toBe(`capture-${intent.id}`);
      expect((await deliver(paypal.captureCompleted(order.id))).json().outcome).toBe('already_paid');
      expect((await sync(buyer, intent.id)).json().outcome).toBe('already_paid');
      expect(paypal.counts.captures - capturesBefore).toBe(1);
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
    });

    it('captures on CHECKOUT.ORDER.APPROVED; replays and the capture event add nothing', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, order } = await checkout(buyer);
      paypal.approve(order.id);
      const approved = paypal.orderApproved(order.id);
      const first = await deliver(approved);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json().outcome).toBe('paid');
      expect((await deliver(approved)).json().outcome).toBe('duplicate_event');
      const completed = paypal.captureCompleted(order.id);
      expect((await deliver(completed)).json().outcome).toBe('already_paid');
      expect((await deliver(completed)).json().outcome).toBe('duplicate_event');
      // A second delivery of the same event (new transmission, same event id) is a duplicate too.
      expect(
        (await deliver(paypal.captureCompleted(order.id, { eventId: completed.eventId }))).json().outcome,
      ).toBe('duplicate_event');
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
      const events = await listIntentEvents(app().db, intent.id);
      expect(events.filter((event) => event.toStatus === 'paid')).toHaveLength(1);
    });

    it('settles from PAYMENT.CAPTURE.COMPLETED alone when the order was captured without our answer, once', async () => {
      const buyer = await signUpAndSignIn(app());
      const { order } = await checkout(buyer);
      paypal.approve(order.id);
      paypal.capture(order.id);
      expect((await deliver(paypal.webhook('PAYMENT.CAPTURE.PENDING', {}))).json().outcome).toBe('ignored');
      expect((await deliver(paypal.captureCompleted(order.id))).json().outcome).toBe('paid');
      // CHECKOUT.ORDER.APPROVED arriving late (out of order) finds the order completed and paid.
      expect((await deliver(paypal.orderApproved(order.id))).json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
    });

    it('refuses a forged delivery (verify answers FAILURE) and one without PAYPAL-* headers, before any capture', async () => {
      const buyer = await signUpAndSignIn(app());
      const { order } = await checkout(buyer);
      paypal.approve(order.id);
      const capturesBefore = paypal.counts.captures;
      const forged = await deliver(paypal.orderApproved(order.id, { forged: true }));
      expect(forged.statusCode).toBe(400);
      expect(forged.json().error.message).toBe('Invalid signature.');
      const genuine = paypal.orderApproved(order.id);
      const tampered = { ...genuine, payload: genuine.payload.replace('"APPROVED"', '"COMPLETED"') };
      expect((await deliver(tampered)).statusCode).toBe(400);
      const bare = await deliver({ ...genuine, headers: { 'content-type': 'application/json' } });
      expect(bare.statusCode).toBe(400);
      expect(paypal.counts.captures).toBe(capturesBefore);
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      // The genuine one still works afterwards: a forgery claims no event id.
      expect((await deliver(genuine)).json().outcome).toBe('paid');
    });

    it('grants nothing when the captured amount or currency differs from the intent', async () => {
      const buyer = await signUpAndSignIn(app());
      const short = await checkout(buyer);
      paypal.approve(short.order.id);
      paypal.behaviour.captureValue = '0.75';
      try {
        expect((await deliver(paypal.orderApproved(short.order.id))).json().outcome).toBe('mismatch');
      } finally {
        paypal.behaviour.captureValue = undefined;
      }
      const other = await checkout(buyer);
      paypal.approve(other.order.id);
      paypal.behaviour.captureCurrency = 'EUR';
      try {
        expect((await sync(buyer, other.intent.id)).json().outcome).toBe('mismatch');
      } finally {
        paypal.behaviour.captureCurrency = undefined;
      }
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      const events = await listIntentEvents(app().db, short.intent.id);
      expect(events.map((event) => event.type)).toContain('amount_mismatch');
    });

    it('answers 200 without credit for an unknown order', async () => {
      const unknown = await deliver(
        paypal.webhook('CHECKOUT.ORDER.APPROVED', {
          id: 'NOTOURORDER12345',
          status: 'APPROVED',
          purchase_units: [{ custom_id: '00000000-0000-4000-8000-000000000000' }],
        }),
      );
      expect(unknown.statusCode).toBe(200);
      expect(unknown.json().outcome).toBe('unknown_intent');
      const capture = await deliver(
        paypal.webhook('PAYMENT.CAPTURE.COMPLETED', {
          id: 'CAPTURE0UNKNOWN',
          status: 'COMPLETED',
          amount: { currency_code: 'USD', value: '7.50' },
          custom_id: 'not-a-uuid',
          supplementary_data: { related_ids: { order_id: 'NOTOURORDER12345' } },
        }),
      );
      expect(capture.json().outcome).toBe('unknown_intent');
    });

    it('fails the intent with 504 when PayPal times out creating the order', async () => {
      const buyer = await signUpAndSignIn(app());
      paypal.behaviour.createDelayMs = 2_500;
      try {
        const response = await app().inject({
          method: 'POST',
          url: '/api/payments/intents',
          headers: buyer.headers,
          payload: { packId: 'starter', currency: 'USD', provider: 'paypal' },
        });
        expect(response.statusCode).toBe(504);
        expect(response.body).not.toContain(clientSecret);
      } finally {
        paypal.behaviour.createDelayMs = 0;
      }
      const list = await app().inject({ url: '/api/payments/intents', headers: buyer.headers });
      const [intent] = list.json().intents;
      expect(intent.status).toBe('failed');
      expect((await sync(buyer, intent.id)).json().outcome).toBe('failed');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    it('takes the credits back on PAYMENT.CAPTURE.REVERSED, once; credits already spent stay spent', async () => {
      const { buyer, intent, captureId } = await paidCapture();
      const wallet = await ensureWallet(app().db, { ownerType: 'user', ownerId: buyer.userId });
      await postEntry(app().db, {
        walletId: wallet.id,
        kind: 'usage',
        amount: -40_000,
        idempotencyKey: `test-spend-${intent.id}`,
      });

      const reversed = paypal.captureReversed(captureId, 750);
      const first = await deliver(reversed);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json().outcome).toBe('refunded');
      expect((await deliver(reversed)).json().outcome).toBe('duplicate_event');
      expect(
        (await deliver(paypal.captureReversed(captureId, 750, { eventId: reversed.eventId }))).json().outcome,
      ).toBe('duplicate_event');

      // 60,000 credits were left to take; the 40,000 spent stay spent and the wallet does not go below zero.
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await intentView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 0,
        chargedBackAmount: 750,
      });
      const chargebacks = (await listIntentEvents(app().db, intent.id)).filter(
        (event) => event.type === 'chargeback',
      );
      expect(chargebacks.map((event) => event.details)).toMatchObject([
        {
          chargedBack: 750,
          refundedTotal: 0,
          chargedBackTotal: 750,
          creditsReversed: 60_000,
          creditsUncollected: 40_000,
        },
      ]);
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.filter((event) => event.type === 'payment.charged_back')).toHaveLength(1);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('adds a reversal to a partial refund, capped at what was paid', async () => {
      const { buyer, intent, captureId } = await paidCapture();
      expect((await deliver(paypal.captureRefunded(captureId, 250, 250))).json().outcome).toBe('refunded');
      expect((await deliver(paypal.captureReversed(captureId, 750))).json().outcome).toBe('refunded');
      expect(await intentView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 250,
        chargedBackAmount: 500,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('reads PayPal’s refund totals as counting reversals: an admin refund after a reversal is applied once, in any order', async () => {
      const { buyer, intent, captureId } = await paidCapture();
      // PayPal reverses 2.50 of 7.50 (its documented sample: amount and total_refunded_amount both the reversal).
      const reversal = paypal.captureReversed(captureId, 250);
      expect(JSON.parse(reversal.payload).resource).toMatchObject({
        amount: { value: '2.50' },
        seller_payable_breakdown: { total_refunded_amount: { value: '2.50' } },
        note_to_payer: 'Payment reversed',
      });
      expect((await deliver(reversal)).json().outcome).toBe('refunded');

      // An admin refunds 1.00 of what is left, through PayPal.
      const refund = await refundAsAdmin(intent.id, 100, 'goodwill');
      expect(refund.statusCode, refund.body).toBe(200);
      expect(await intentView(intent.id)).toMatchObject({ refundedAmount: 100, chargedBackAmount: 250 });
      // Its PAYMENT.CAPTURE.REFUNDED says 1.00 refunded now, 3.50 in all: nothing more to take.
      const refunded = paypal.captureRefunded(captureId, 100, 350);
      expect(JSON.parse(refunded.payload).resource).toMatchObject({
        amount: { value: '1.00' },
        seller_payable_breakdown: { total_refunded_amount: { value: '3.50' } },
      });
      expect((await deliver(refunded)).json().outcome).toBe('already_applied');
      expect((await deliver(refunded)).json().outcome).toBe('duplicate_event');
      // The reversal delivered again, late (a new delivery id, its own older total), changes nothing either.
      expect((await deliver(paypal.captureReversed(captureId, 250, { total: 250 }))).json().outcome).toBe(
        'already_applied',
      );
      expect(await intentView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 100,
        chargedBackAmount: 250,
      });
      // 350 of 750 taken back: 46,666 of the 100,000 credits.
      expect(await balanceOf(app(), buyer.userId)).toBe(53_334);

      // A refund of the rest made on PayPal's site after the reversal: 4.00 more, 7.50 in all, applied as a refund.
      expect((await deliver(paypal.captureRefunded(captureId, 400, 750))).json().outcome).toBe('refunded');
      expect(await intentView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 500,
        chargedBackAmount: 250,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('settles a payment from PayPal first when its PAYMENT.CAPTURE.REFUNDED arrives before any event recorded it, then refunds it', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, order } = await checkout(buyer);
      // Paid on PayPal, but neither our capture answer, nor its events, nor the buyer's return reached us yet; the
      // seller then refunds 2.50 of 7.50 on PayPal's site.
      paypal.approve(order.id);
      paypal.capture(order.id);
      const captureId = String(paypal.orders.get(order.id)!.purchase_units[0]!.payments!.captures[0]!.id);
      const refunded = paypal.captureRefunded(captureId, 250, 250);
      const first = await deliver(refunded);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json().outcome).toBe('refunded');
      expect(await intentView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 250,
      });
      // 100,000 credits granted, then 250 of 750 taken back: 33,333 of them.
      expect(await balanceOf(app(), buyer.userId)).toBe(66_667);
      const receipt = await app().inject({
        url: `/api/payments/intents/${intent.id}`,
        headers: buyer.headers,
      });
      expect(receipt.json()).toMatchObject({
        status: 'partially_refunded',
        receiptNumber: expect.stringMatching(/^WBX-/),
      });

      // The events that should have come first, late: the payment is already recorded, nothing is granted twice.
      expect((await deliver(refunded)).json().outcome).toBe('duplicate_event');
      expect((await deliver(paypal.captureCompleted(order.id))).json().outcome).toBe('already_paid');
      expect((await deliver(paypal.orderApproved(order.id))).json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(66_667);
      const events = await listIntentEvents(app().db, intent.id);
      expect(events.filter((event) => event.toStatus === 'paid')).toHaveLength(1);
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.map((event) => event.type).sort()).toEqual([
        'payment.paid',
        'payment.refunded',
        'payment.started',
      ]);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('settles a payment first when a PAYMENT.CAPTURE.REVERSED of all of it arrives before it was recorded, then takes it all back', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, order } = await checkout(buyer);
      paypal.approve(order.id);
      paypal.capture(order.id);
      const captureId = String(paypal.orders.get(order.id)!.purchase_units[0]!.payments!.captures[0]!.id);
      const reversed = await deliver(paypal.captureReversed(captureId, 750));
      expect(reversed.statusCode, reversed.body).toBe(200);
      expect(reversed.json().outcome).toBe('refunded');
      expect(await intentView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 0,
        chargedBackAmount: 750,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect((await deliver(paypal.captureCompleted(order.id))).json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('answers 200 unknown_intent for a refund of a capture PayPal does not know', async () => {
      const stranger = await deliver(
        paypal.webhook(
          'PAYMENT.CAPTURE.REFUNDED',
          {
            id: 'REFUND0UNKNOWN1',
            status: 'COMPLETED',
            amount: { currency_code: 'USD', value: '1.00' },
            seller_payable_breakdown: { total_refunded_amount: { currency_code: 'USD', value: '1.00' } },
            links: [
              { href: `${paypal.apiUrl}/v2/payments/captures/CAPTURE0UNKNOWN`, rel: 'up', method: 'GET' },
            ],
          },
          { resourceType: 'refund' },
        ),
      );
      expect(stranger.statusCode, stranger.body).toBe(200);
      expect(stranger.json().outcome).toBe('unknown_intent');
    });

    it('refunds the capture through the API; the PAYMENT.CAPTURE.REFUNDED events apply the cumulative total once', async () => {
      const { buyer, intent, captureId } = await paidCapture();
      const refund = await refundAsAdmin(intent.id, 250, 'asked by the buyer');
      expect(refund.statusCode, refund.body).toBe(200);
      expect(refund.json()).toMatchObject({ outcome: 'refunded', intent: { status: 'partially_refunded' } });
      const call = paypal.requests.find(
        (request) => request.path === `/v2/payments/captures/${captureId}/refund`,
      )!;
      expect(JSON.parse(call.body)).toEqual({ amount: { value: '2.50', currency_code: 'USD' } });
      expect(call.headers['paypal-request-id']).toBe(`refund-${intent.id}-250`);
      expect((await deliver(paypal.captureRefunded(captureId, 250, 250))).json().outcome).toBe(
        'already_applied',
      );
      const rest = paypal.captureRefunded(captureId, 500, 750);
      expect((await deliver(rest)).json().outcome).toBe('refunded');
      expect((await deliver(rest)).json().outcome).toBe('duplicate_event');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
      // The audit log tells the story: started by the buyer, paid, refunded by an admin, then the rest via PayPal.
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.map((event) => event.type).sort()).toEqual([
        'payment.paid',
        'payment.refunded',
        'payment.refunded',
        'payment.started',
      ]);
      expect(audit.find((event) => event.actorId === admin.userId)).toMatchObject({
        type: 'payment.refunded',
        details: { paymentId: intent.id, refundedTotal: 250, reason: 'asked by the buyer' },
      });
    });
  });
}
