import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { listAuditEvents } from '../accounts/audit.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { verifyLedger } from '../billing/ledger.js';
import { listIntentEvents } from './service.js';
import { type FakePaypal, startFakePaypal } from './testing/fake-paypal.js';
import { type FakeStripe, startFakeStripe } from './testing/fake-stripe.js';
import {
  balanceOf,
  createPaymentsTestApp,
  madeUpKey,
  makeAdmin,
  providerTestEnv,
} from './testing/harness.js';

/**
 * Refunds and chargebacks the provider reports for a payment that is not settled here, and that the provider cannot
 * confirm as paid yet either: a Stripe SEPA Direct Debit still `processing` (Stripe takes a refund of it and carries it
 * out once the debit succeeds), a PayPal capture still PENDING (review, eCheck). The event is recorded on the intent
 * and applied when the payment settles, by whichever path settles it and in whatever order, never lost.
 */
for (const pair of backendPairs()) {
  describe(`refunds and chargebacks before the payment settles on ${pair.name}`, () => {
    const stripeKey = madeUpKey('sk_test_');
    const stripeWebhookSecret = madeUpKey('whsec_');
    const paypalId = madeUpKey('AZfake');
    const paypalSecret = madeUpKey('EKfake');
    const paypalWebhookId = madeUpKey('WH').toUpperCase();
    let stripe: FakeStripe;
    let paypal: FakePaypal;
    let harness: TestApp;
    let admin: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      stripe = await startFakeStripe({ secretKey: stripeKey, webhookSecret: stripeWebhookSecret });
      paypal = await startFakePaypal({
        clientId: paypalId,
        clientSecret: paypalSecret,
        webhookId: paypalWebhookId,
      });
      harness = await createPaymentsTestApp(pair, {
        STRIPE_SECRET_KEY: stripeKey,
        STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
        STRIPE_API_URL: stripe.apiUrl,
        PAYPAL_CLIENT_ID: paypalId,
        PAYPAL_CLIENT_SECRET: paypalSecret,
        PAYPAL_WEBHOOK_ID: paypalWebhookId,
        PAYPAL_API_URL: paypal.apiUrl,
        ...providerTestEnv,
      });
      admin = await makeAdmin(harness.app);
    });
    afterAll(async () => {
      await harness?.close();
      await stripe?.close();
      await paypal?.close();
    });

    async function start(client: SignedInClient, provider: 'stripe' | 'paypal', packId: string) {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId, currency: 'EUR', provider },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json() as { id: string };
    }
    const deliverTo =
      (provider: 'stripe' | 'paypal') => (event: { payload: string; headers: Record<string, string> }) =>
        app().inject({
          method: 'POST',
          url: `/api/payments/webhooks/${provider}`,
          headers: event.headers,
          payload: event.payload,
        });
    const toStripe = deliverTo('stripe');
    const toPaypal = deliverTo('paypal');
    const sync = (client: SignedInClient, intentId: string) =>
      app().inject({
        method: 'POST',
        url: `/api/payments/intents/${intentId}/sync`,
        headers: client.headers,
      });
    const adminView = async (intentId: string) =>
      (await app().inject({ url: `/api/admin/payments/intents/${intentId}`, headers: admin.headers })).json()
        .intent;
    const outcomeOf = async (response: Promise<{ statusCode: number; body: string; json(): unknown }>) => {
      const answered = await response;
      expect(answered.statusCode, answered.body).toBe(200);
      return (answered.json() as { outcome: string }).outcome;
    };

    /** A buyer whose SEPA debit Stripe is still processing: the session is complete but unpaid. */
    async function processingStripe(packId = 'starter') {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'stripe', packId);
      const session = [...stripe.sessions.values()].find(
        (candidate) => (candidate.metadata as { intent_id: string }).intent_id === intent.id,
      )!;
      const { chargeId } = stripe.complete(String(session.id), { processing: true });
      expect(await outcomeOf(toStripe(stripe.event('checkout.session.completed', session)))).toBe('ignored');
      const refunded = (total: number) => {
        stripe.charges.get(chargeId)!.amount_refunded = total;
        return stripe.event('charge.refunded', stripe.charges.get(chargeId));
      };
      const succeeded = () =>
        stripe.event('checkout.session.async_payment_succeeded', stripe.succeed(String(session.id)));
      return { buyer, intent, session, chargeId, refunded, succeeded };
    }

    /** A buyer whose PayPal capture is PENDING (held for review): the order is completed, the money not yet the seller's. */
    async function pendingPaypal() {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'paypal', 'starter');
      const order = paypal.orderOf(intent.id)!;
      paypal.approve(order.id);
      paypal.behaviour.capturePendingReason = 'PENDING_REVIEW';
      try {
        expect((await sync(buyer, intent.id)).json()).toMatchObject({
          outcome: 'pending',
          status: 'pending',
        });
      } finally {
        paypal.behaviour.capturePendingReason = undefined;
      }
      const captureId = String(paypal.orders.get(order.id)!.purchase_units[0]!.payments!.captures[0]!.id);
      return { buyer, intent, orderId: order.id, captureId };
    }

    it('Stripe: a refund of a processing SEPA debit is kept, and taken back when the debit succeeds', async () => {
      const { buyer, intent, refunded, succeeded } = await processingStripe();
      const refund = refunded(700);
      expect(await outcomeOf(toStripe(refund))).toBe('deferred');
      expect(await outcomeOf(toStripe(refund))).toBe('duplicate_event');
      expect(await adminView(intent.id)).toMatchObject({ status: 'pending', refundedAmount: 0 });
      // No refund of an unsettled payment by an admin meanwhile: nothing was paid here yet.
      const byAdmin = await app().inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/refund`,
        headers: admin.headers,
        payload: { reason: 'asked by the buyer', idempotencyKey: randomUUID() },
      });
      expect(byAdmin.statusCode).toBe(409);

      expect(await outcomeOf(toStripe(succeeded()))).toBe('paid');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 700,
        chargedBackAmount: 0,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      // Late and repeated events change nothing more.
      expect(await outcomeOf(toStripe(refunded(700)))).toBe('already_applied');
      expect(await outcomeOf(toStripe(succeeded()))).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      const events = await listIntentEvents(app().db, intent.id);
      expect(
        events.filter((event) => event.type === 'status_changed').map((event) => event.toStatus),
      ).toEqual(['created', 'pending', 'paid', 'refunded']);
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.map((event) => event.type).sort()).toEqual([
        'payment.paid',
        'payment.refunded',
        'payment.started',
      ]);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('Stripe: a partial refund and a lost dispute before the debit succeeds are both applied when the buyer’s return settles it', async () => {
      const { buyer, intent, chargeId, refunded, succeeded } = await processingStripe('pro');
      expect(await outcomeOf(toStripe(refunded(1500)))).toBe('deferred');
      const dispute = stripe.dispute(chargeId, { amount: 2000, status: 'lost' });
      expect(await outcomeOf(toStripe(stripe.event('charge.dispute.closed', dispute)))).toBe('deferred');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);

      // The debit succeeds; the webhook does not reach us, the buyer's return does.
      const session = succeeded();
      const returned = await sync(buyer, intent.id);
      expect(returned.json()).toMatchObject({ outcome: 'paid', status: 'partially_refunded' });
      expect(await adminView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 1500,
        chargedBackAmount: 2000,
      });
      // 3500 of 6000 taken back: 583,333 of the 1,000,000 credits.
      expect(await balanceOf(app(), buyer.userId)).toBe(416_667);
      const chargebacks = (await listIntentEvents(app().db, intent.id)).filter(
        (event) => event.type === 'chargeback',
      );
      expect(chargebacks.map((event) => event.details)).toMatchObject([
        { chargedBack: 2000, refundId: dispute.id, chargedBackTotal: 2000 },
      ]);
      expect(await outcomeOf(toStripe(session))).toBe('already_paid');
      expect(await outcomeOf(toStripe(refunded(1500)))).toBe('already_applied');
      expect(await balanceOf(app(), buyer.userId)).toBe(416_667);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('Stripe: the refund event races the late async_payment_succeeded; every buyer ends with nothing', async () => {
      const buyers = [];
      for (let i = 0; i < 4; i += 1) buyers.push(await processingStripe());
      for (const { refunded, succeeded, intent, buyer } of buyers) {
        const looked = new Promise<void>((resolve) => {
          stripe.behaviour.afterPaymentIntentRead = () => resolve();
        });
        const refund = outcomeOf(toStripe(refunded(700)));
        await looked;
        // Stripe answered the refund's lookup `processing`; the debit succeeds right after and its event races on.
        const outcomes = await Promise.all([refund, outcomeOf(toStripe(succeeded()))]);
        expect(outcomes[1]).toBe('paid');
        expect(['deferred', 'refunded']).toContain(outcomes[0]);
        expect(await adminView(intent.id)).toMatchObject({ status: 'refunded', refundedAmount: 700 });
        expect(await balanceOf(app(), buyer.userId)).toBe(0);
      }
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('Stripe and PayPal: when the provider confirms the payment, a refund event racing its late paid event settles it first, once', async () => {
      for (let round = 0; round < 3; round += 1) {
        const stripeBuyer = await signUpAndSignIn(app());
        const stripeIntent = await start(stripeBuyer, 'stripe', 'starter');
        const session = [...stripe.sessions.values()].find(
          (candidate) => (candidate.metadata as { intent_id: string }).intent_id === stripeIntent.id,
        )!;
        const { chargeId } = stripe.complete(String(session.id));
        stripe.charges.get(chargeId)!.amount_refunded = 350;
        const stripeOutcomes = await Promise.all([
          outcomeOf(toStripe(stripe.event('charge.refunded', stripe.charges.get(chargeId)))),
          outcomeOf(toStripe(stripe.event('checkout.session.completed', session))),
        ]);

        const paypalBuyer = await signUpAndSignIn(app());
        const paypalIntent = await start(paypalBuyer, 'paypal', 'starter');
        const order = paypal.orderOf(paypalIntent.id)!;
        paypal.approve(order.id);
        paypal.capture(order.id);
        const captureId = String(order.purchase_units[0]!.payments!.captures[0]!.id);
        const refund = paypal.captureRefunded(captureId, 350, 350);
        const paypalOutcomes = await Promise.all([
          outcomeOf(toPaypal(refund)),
          outcomeOf(toPaypal(paypal.captureCompleted(order.id))),
        ]);

        for (const [outcomes, intent, buyer] of [
          [stripeOutcomes, stripeIntent, stripeBuyer],
          [paypalOutcomes, paypalIntent, paypalBuyer],
        ] as const) {
          expect(outcomes[0]).toBe('refunded');
          expect(['paid', 'already_paid']).toContain(outcomes[1]);
          expect(await adminView(intent.id)).toMatchObject({
            status: 'partially_refunded',
            refundedAmount: 350,
          });
          expect(await balanceOf(app(), buyer.userId)).toBe(50_000);
          const paid = (await listIntentEvents(app().db, intent.id)).filter(
            (event) => event.toStatus === 'paid',
          );
          expect(paid).toHaveLength(1);
        }
      }
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('PayPal: a reversal of a capture still pending is kept, and taken back when the capture completes', async () => {
      const { buyer, intent, orderId, captureId } = await pendingPaypal();
      const reversal = paypal.captureReversed(captureId, 700);
      expect(await outcomeOf(toPaypal(reversal))).toBe('deferred');
      expect(await outcomeOf(toPaypal(reversal))).toBe('duplicate_event');
      expect(await adminView(intent.id)).toMatchObject({ status: 'pending', chargedBackAmount: 0 });

      paypal.completeCapture(orderId);
      expect(await outcomeOf(toPaypal(paypal.captureCompleted(orderId)))).toBe('paid');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 0,
        chargedBackAmount: 700,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await outcomeOf(toPaypal(paypal.captureReversed(captureId, 700, { total: 700 })))).toBe(
        'already_applied',
      );
      expect((await sync(buyer, intent.id)).json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.map((event) => event.type).sort()).toEqual([
        'payment.charged_back',
        'payment.paid',
        'payment.started',
      ]);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('PayPal: a partial refund of a pending capture is applied when the buyer’s return settles it', async () => {
      const { buyer, intent, orderId, captureId } = await pendingPaypal();
      expect(await outcomeOf(toPaypal(paypal.captureRefunded(captureId, 175, 175)))).toBe('deferred');
      paypal.completeCapture(orderId);
      expect((await sync(buyer, intent.id)).json()).toMatchObject({
        outcome: 'paid',
        status: 'partially_refunded',
      });
      expect(await adminView(intent.id)).toMatchObject({ refundedAmount: 175, chargedBackAmount: 0 });
      // 175 of 700 taken back: a quarter of the 100,000 credits.
      expect(await balanceOf(app(), buyer.userId)).toBe(75_000);
      expect(await outcomeOf(toPaypal(paypal.captureCompleted(orderId)))).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(75_000);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('PayPal: the reversal races the late PAYMENT.CAPTURE.COMPLETED; every buyer ends with nothing', async () => {
      const buyers = [];
      for (let i = 0; i < 4; i += 1) buyers.push(await pendingPaypal());
      for (const { buyer, intent, orderId, captureId } of buyers) {
        // PayPal shows the capture pending to the reversal's lookup and completes it right after: its event races.
        const looked = new Promise<void>((resolve) => {
          paypal.behaviour.afterOrderRead = () => {
            paypal.completeCapture(orderId);
            resolve();
          };
        });
        const reversal = outcomeOf(toPaypal(paypal.captureReversed(captureId, 700)));
        await looked;
        const completed = outcomeOf(toPaypal(paypal.captureCompleted(orderId)));
        const outcomes = await Promise.all([reversal, completed]);
        expect(outcomes[1]).toBe('paid');
        expect(['deferred', 'refunded']).toContain(outcomes[0]);
        expect(await adminView(intent.id)).toMatchObject({ status: 'refunded', chargedBackAmount: 700 });
        expect(await balanceOf(app(), buyer.userId)).toBe(0);
      }
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });
  });
}
