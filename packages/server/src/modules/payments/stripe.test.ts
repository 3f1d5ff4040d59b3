import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { listAuditEvents } from '../accounts/audit.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { verifyLedger } from '../billing/ledger.js';
import { listIntentEvents } from './service.js';
import { type FakeStripe, startFakeStripe } from './testing/fake-stripe.js';
import {
  balanceOf,
  createPaymentsTestApp,
  madeUpKey,
  makeAdmin,
  providerTestEnv,
} from './testing/harness.js';

for (const pair of backendPairs()) {
  describe(`Stripe Checkout on ${pair.name}`, () => {
    const secretKey = madeUpKey('sk_test_');
    const webhookSecret = madeUpKey('whsec_');
    let stripe: FakeStripe;
    let harness: TestApp;
    let admin: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      stripe = await startFakeStripe({ secretKey, webhookSecret });
      harness = await createPaymentsTestApp(pair, {
        STRIPE_SECRET_KEY: secretKey,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        STRIPE_API_URL: stripe.apiUrl,
        ...providerTestEnv,
      });
      admin = await makeAdmin(harness.app);
    });
    afterAll(async () => {
      await harness?.close();
      await stripe?.close();
    });

    async function checkout(client: SignedInClient, currency = 'EUR', packId = 'starter') {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId, currency, provider: 'stripe', locale: 'fr' },
      });
      expect(response.statusCode, response.body).toBe(201);
      const intent = response.json();
      const session = [...stripe.sessions.values()].find(
        (candidate) =>
          candidate.metadata && (candidate.metadata as { intent_id: string }).intent_id === intent.id,
      )!;
      return { intent, session };
    }

    const deliver = (event: { payload: string; headers: Record<string, string> }) =>
      app().inject({
        method: 'POST',
        url: '/api/payments/webhooks/stripe',
        headers: event.headers,
        payload: event.payload,
      });

    it('creates a Checkout Session in cents with return URLs and the intent as metadata, through the stripe SDK', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, session } = await checkout(buyer, 'USD');
      expect(intent).toMatchObject({
        status: 'pending',
        amount: 750,
        currency: 'USD',
        checkoutUrl: session.url,
      });
      expect(session).toMatchObject({
        amount_total: 750,
        currency: 'usd',
        mode: 'payment',
        client_reference_id: intent.id,
        success_url: `https://webox.test/payments/${intent.id}/success`,
        cancel_url: `https://webox.test/payments/${intent.id}/failure`,
        locale: 'fr',
      });
      expect(stripe.requests.at(-1)!.headers['idempotency-key']).toBe(`checkout-${intent.id}`);
    });

    it('pays once on checkout.session.completed; duplicates and replays add nothing', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, session } = await checkout(buyer);
      // Completed but not yet paid (a delayed method): nothing yet.
      expect((await deliver(stripe.event('checkout.session.completed', session))).json().outcome).toBe(
        'ignored',
      );
      stripe.complete(String(session.id));
      const completed = stripe.event('checkout.session.completed', session);
      expect((await deliver(completed)).json().outcome).toBe('paid');
      expect((await deliver(completed)).json().outcome).toBe('duplicate_event');
      expect(
        (await deliver(stripe.event('checkout.session.async_payment_succeeded', session))).json().outcome,
      ).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
      const view = await app().inject({ url: `/api/payments/intents/${intent.id}`, headers: buyer.headers });
      expect(view.json()).toMatchObject({ status: 'paid', receiptNumber: expect.stringMatching(/^WBX-/) });
    });

    it('refuses forged and stale signatures with 400', async () => {
      const buyer = await signUpAndSignIn(app());
      const { session } = await checkout(buyer);
      stripe.complete(String(session.id));
      const forged = stripe.event('checkout.session.completed', session, { secret: madeUpKey('whsec_') });
      expect((await deliver(forged)).statusCode).toBe(400);
      const stale = stripe.event('checkout.session.completed', session, {
        timestamp: Math.floor(Date.now() / 1000) - 3600,
      });
      expect((await deliver(stale)).statusCode).toBe(400);
      const genuine = stripe.event('checkout.session.completed', session);
      const tampered = {
        ...genuine,
        payload: genuine.payload.replace('"amount_total":700', '"amount_total":7'),
      };
      expect((await deliver(tampered)).statusCode).toBe(400);
      expect(
        (await deliver({ ...genuine, headers: { 'content-type': 'application/json' } })).statusCode,
      ).toBe(400);
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    it('answers 200 without credit for unknown sessions and amount or currency mismatches', async () => {
      const unknown = await deliver(
        stripe.event('checkout.session.completed', {
          id: 'cs_test_unknown',
          object: 'checkout.session',
          payment_status: 'paid',
          amount_total: 700,
          currency: 'eur',
        }),
      );
      expect(unknown.statusCode).toBe(200);
      expect(unknown.json().outcome).toBe('unknown_intent');
      const buyer = await signUpAndSignIn(app());
      const { session } = await checkout(buyer);
      stripe.complete(String(session.id));
      expect(
        (await deliver(stripe.event('checkout.session.completed', { ...session, amount_total: 1 }))).json()
          .outcome,
      ).toBe('mismatch');
      expect(
        (await deliver(stripe.event('checkout.session.completed', { ...session, currency: 'usd' }))).json()
          .outcome,
      ).toBe('mismatch');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    it('expires on checkout.session.expired, and a late expiry never undoes a payment', async () => {
      const buyer = await signUpAndSignIn(app());
      const first = await checkout(buyer);
      expect((await deliver(stripe.event('checkout.session.expired', first.session))).json().outcome).toBe(
        'closed',
      );
      const second = await checkout(buyer);
      stripe.complete(String(second.session.id));
      expect((await deliver(stripe.event('checkout.session.completed', second.session))).json().outcome).toBe(
        'paid',
      );
      expect((await deliver(stripe.event('checkout.session.expired', second.session))).json().outcome).toBe(
        'unchanged',
      );
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
    });

    it('refunds through the API by an admin, and the refund event that follows changes nothing more', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, session } = await checkout(buyer);
      const { chargeId } = stripe.complete(String(session.id));
      await deliver(stripe.event('checkout.session.completed', session));
      const refund = await app().inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/refund`,
        headers: admin.headers,
        payload: { amount: 350, reason: 'half of the pack unused', idempotencyKey: randomUUID() },
      });
      expect(refund.statusCode, refund.body).toBe(200);
      expect(refund.json()).toMatchObject({
        outcome: 'refunded',
        creditsReversed: 50_000,
        intent: { status: 'partially_refunded' },
      });
      expect(stripe.charges.get(chargeId)!.amount_refunded).toBe(350);
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('already_applied');
      expect(await balanceOf(app(), buyer.userId)).toBe(50_000);
      // A refund done in Stripe's dashboard arrives only as an event, with the cumulative total.
      stripe.charges.get(chargeId)!.amount_refunded = 700;
      const full = stripe.event('charge.refunded', stripe.charges.get(chargeId));
      expect((await deliver(full)).json().outcome).toBe('refunded');
      expect((await deliver(full)).json().outcome).toBe('duplicate_event');
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('refunds twice at Stripe, each with its own idempotency key, when two admins refund one payment at once', async () => {
      const buyer = await signUpAndSignIn(app());
      const otherAdmin = await makeAdmin(app());
      const { intent, session } = await checkout(buyer, 'EUR', 'pro');
      const { chargeId } = stripe.complete(String(session.id));
      expect((await deliver(stripe.event('checkout.session.completed', session))).json().outcome).toBe(
        'paid',
      );
      const refund = (client: SignedInClient, amount: number) =>
        app().inject({
          method: 'POST',
          url: `/api/admin/payments/intents/${intent.id}/refund`,
          headers: client.headers,
          payload: { amount, reason: `returned ${amount}`, idempotencyKey: randomUUID() },
        });
      const [first, second] = await Promise.all([refund(admin, 1000), refund(otherAdmin, 2000)]);
      expect(first.statusCode, first.body).toBe(200);
      expect(second.statusCode, second.body).toBe(200);
      expect([first.json().outcome, second.json().outcome]).toEqual(['refunded', 'refunded']);

      // Stripe saw two refunds, in either order: the second's key is built on the total the first left.
      const calls = stripe.requests
        .filter(
          (request) =>
            request.path === '/v1/refunds' && request.headers['idempotency-key']?.includes(intent.id),
        )
        .map((request) => ({
          amount: Number(new URLSearchParams(request.body).get('amount')),
          key: request.headers['idempotency-key'],
        }));
      expect(calls).toHaveLength(2);
      const firstAmount = calls[0]!.amount;
      expect([1000, 2000]).toContain(firstAmount);
      expect(calls).toEqual([
        { amount: firstAmount, key: `refund-${intent.id}-${firstAmount}` },
        { amount: 3000 - firstAmount, key: `refund-${intent.id}-3000` },
      ]);
      expect(stripe.charges.get(chargeId)!.amount_refunded).toBe(3000);

      const view = await app().inject({
        url: `/api/admin/payments/intents/${intent.id}`,
        headers: admin.headers,
      });
      expect(view.json().intent).toMatchObject({ status: 'partially_refunded', refundedAmount: 3000 });
      // Half of 6000 cents refunded: half of the pack's 1,000,000 credits come back.
      expect(await balanceOf(app(), buyer.userId)).toBe(500_000);
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('already_applied');
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('refunds once at Stripe when an admin double-submits one refund', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, session } = await checkout(buyer, 'EUR', 'pro');
      const { chargeId } = stripe.complete(String(session.id));
      expect((await deliver(stripe.event('checkout.session.completed', session))).json().outcome).toBe(
        'paid',
      );
      const payload = { amount: 1000, reason: 'returned 1000', idempotencyKey: randomUUID() };
      const submit = () =>
        app().inject({
          method: 'POST',
          url: `/api/admin/payments/intents/${intent.id}/refund`,
          headers: admin.headers,
          payload,
        });
      const responses = await Promise.all([submit(), submit()]);
      for (const response of responses) expect(response.statusCode, response.body).toBe(200);
      const calls = stripe.requests.filter(
        (request) =>
          request.path === '/v1/refunds' && request.headers['idempotency-key']?.includes(intent.id),
      );
      expect(calls).toHaveLength(1);
      expect(stripe.charges.get(chargeId)!.amount_refunded).toBe(1000);
      expect(responses.map((response) => response.json().duplicate).sort()).toEqual([false, true]);
      expect(await balanceOf(app(), buyer.userId)).toBe(1_000_000 - Math.floor(1_000_000 / 6));
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('handles a refund event that arrives before the completion event (out of order)', async () => {
      const buyer = await signUpAndSignIn(app());
      const { session } = await checkout(buyer);
      const { chargeId } = stripe.complete(String(session.id));
      stripe.charges.get(chargeId)!.amount_refunded = 700;
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('refunded');
      expect((await deliver(stripe.event('checkout.session.completed', session))).json().outcome).toBe(
        'already_paid',
      );
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    const adminView = async (intentId: string) =>
      (await app().inject({ url: `/api/admin/payments/intents/${intentId}`, headers: admin.headers })).json()
        .intent;
    const chargebacksOf = async (intentId: string) =>
      (await listIntentEvents(app().db, intentId)).filter((event) => event.type === 'chargeback');

    async function paid(buyer: SignedInClient, packId = 'starter') {
      const { intent, session } = await checkout(buyer, 'EUR', packId);
      const { chargeId } = stripe.complete(String(session.id));
      expect((await deliver(stripe.event('checkout.session.completed', session))).json().outcome).toBe(
        'paid',
      );
      return { intent, chargeId };
    }

    it('takes the credits back when a dispute is closed as lost, once however often the event comes', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer);
      const dispute = stripe.dispute(chargeId);
      // Opened: only noted on the intent, the dispute may still be won.
      expect((await deliver(stripe.event('charge.dispute.created', dispute))).json().outcome).toBe(
        'dispute_opened',
      );
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
      expect(await adminView(intent.id)).toMatchObject({ status: 'paid', refundedAmount: 0 });

      const lost = stripe.event('charge.dispute.closed', { ...dispute, status: 'lost' });
      expect((await deliver(lost)).json().outcome).toBe('refunded');
      expect((await deliver(lost)).json().outcome).toBe('duplicate_event');
      const eventId = JSON.parse(lost.payload).id as string;
      const redelivered = stripe.event('charge.dispute.closed', { ...dispute, status: 'lost' }, { eventId });
      expect((await deliver(redelivered)).json().outcome).toBe('duplicate_event');

      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await adminView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 0,
        chargedBackAmount: 700,
      });
      const chargebacks = await chargebacksOf(intent.id);
      expect(chargebacks).toHaveLength(1);
      expect(chargebacks[0]).toMatchObject({
        cause: 'webhook',
        details: {
          chargedBack: 700,
          refundedTotal: 0,
          chargedBackTotal: 700,
          refundId: dispute.id,
          creditsReversed: 100_000,
          creditsUncollected: 0,
        },
      });
      const events = await listIntentEvents(app().db, intent.id);
      expect(events.find((event) => event.toStatus === 'refunded')).toMatchObject({
        details: { chargeback: true },
      });
      const audit = await listAuditEvents(app().db, { userId: buyer.userId, types: ['payment.*'] });
      expect(audit.filter((event) => event.type === 'payment.charged_back')).toHaveLength(1);
      expect(audit.some((event) => event.type === 'payment.refunded')).toBe(false);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('changes nothing when a dispute is won or closed with a warning', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer);
      for (const status of ['won', 'warning_closed']) {
        const closed = stripe.event('charge.dispute.closed', stripe.dispute(chargeId, { status }));
        expect((await deliver(closed)).json().outcome).toBe('ignored');
      }
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
      expect(await adminView(intent.id)).toMatchObject({ status: 'paid', refundedAmount: 0 });
      expect(await chargebacksOf(intent.id)).toEqual([]);
    });

    it('adds a lost dispute to what was refunded before, capped at what was paid', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      const refund = await app().inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intent.id}/refund`,
        headers: admin.headers,
        payload: { amount: 1500, reason: 'a quarter unused', idempotencyKey: randomUUID() },
      });
      expect(refund.statusCode, refund.body).toBe(200);
      expect(await balanceOf(app(), buyer.userId)).toBe(750_000);
      // The buyer disputes the whole charge anyway: only the 4500 not yet refunded can still be taken.
      const dispute = stripe.dispute(chargeId, { amount: 6000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 1500,
        chargedBackAmount: 4500,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect((await chargebacksOf(intent.id)).map((event) => event.details)).toMatchObject([
        { chargedBack: 4500, refundedTotal: 1500, chargedBackTotal: 4500, creditsReversed: 750_000 },
      ]);
      // The refund's own event arriving late changes nothing more.
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('already_applied');
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('adds a partial dispute to a partial refund: 1000 refunded and 2000 disputed of 6000 take half back', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      stripe.charges.get(chargeId)!.amount_refunded = 1000;
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('refunded');
      const dispute = stripe.dispute(chargeId, { amount: 2000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 1000,
        chargedBackAmount: 2000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(500_000);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    const refunded = (chargeId: string, total: number) => {
      stripe.charges.get(chargeId)!.amount_refunded = total;
      return stripe.event('charge.refunded', stripe.charges.get(chargeId));
    };

    it('counts a refund reported after a lost dispute: 4000 disputed, then 1000 refunded of 6000 take 5000 back', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      const dispute = stripe.dispute(chargeId, { amount: 4000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      expect(await balanceOf(app(), buyer.userId)).toBe(333_334);
      // Stripe's refunded total (1000) counts refunds only: compared with the 4000 disputed it was dropped.
      const refund = refunded(chargeId, 1000);
      expect((await deliver(refund)).json().outcome).toBe('refunded');
      expect((await deliver(refund)).json().outcome).toBe('duplicate_event');
      expect((await deliver(refunded(chargeId, 1000))).json().outcome).toBe('already_applied');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 1000,
        chargedBackAmount: 4000,
      });
      // 5000 of 6000 taken back: 833,333 of the 1,000,000 credits.
      expect(await balanceOf(app(), buyer.userId)).toBe(166_667);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('keeps refunds and a dispute apart whatever the order: refunds 1000 then 2500 around a 2000 dispute', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      const early = refunded(chargeId, 1000);
      expect((await deliver(early)).json().outcome).toBe('refunded');
      const dispute = stripe.dispute(chargeId, { amount: 2000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      expect((await deliver(refunded(chargeId, 2500))).json().outcome).toBe('refunded');
      // The first refund's event again, and one reporting its older total late: nothing more.
      expect((await deliver(early)).json().outcome).toBe('duplicate_event');
      expect((await deliver(refunded(chargeId, 1000))).json().outcome).toBe('already_applied');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 2500,
        chargedBackAmount: 2000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(250_000);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('never takes back more than was paid: 4000 disputed and 3000 refunded of 6000 stop at 6000', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      const dispute = stripe.dispute(chargeId, { amount: 4000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      expect((await deliver(refunded(chargeId, 3000))).json().outcome).toBe('refunded');
      expect(await adminView(intent.id)).toMatchObject({
        status: 'refunded',
        refundedAmount: 2000,
        chargedBackAmount: 4000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect((await deliver(refunded(chargeId, 3500))).json().outcome).toBe('already_applied');
      const again = stripe.dispute(chargeId, { amount: 1000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', again))).json().outcome).toBe(
        'already_applied',
      );
      expect(await adminView(intent.id)).toMatchObject({ refundedAmount: 2000, chargedBackAmount: 4000 });
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('lets an admin refund only what a lost dispute left, through Stripe, with a key past the dispute', async () => {
      const buyer = await signUpAndSignIn(app());
      const { intent, chargeId } = await paid(buyer, 'pro');
      const dispute = stripe.dispute(chargeId, { amount: 2000, status: 'lost' });
      expect((await deliver(stripe.event('charge.dispute.closed', dispute))).json().outcome).toBe('refunded');
      const refund = (payload: Record<string, unknown>) =>
        app().inject({
          method: 'POST',
          url: `/api/admin/payments/intents/${intent.id}/refund`,
          headers: admin.headers,
          payload: { reason: 'the rest', idempotencyKey: randomUUID(), ...payload },
        });
      const refundCalls = () =>
        stripe.requests.filter(
          (request) =>
            request.path === '/v1/refunds' && request.headers['idempotency-key']?.includes(intent.id),
        );
      const tooMuch = await refund({ amount: 4001 });
      expect(tooMuch.statusCode).toBe(400);
      expect(tooMuch.json().error.message).toContain('between 1 and 4000');
      expect(refundCalls()).toEqual([]);

      const rest = await refund({});
      expect(rest.statusCode, rest.body).toBe(200);
      expect(rest.json()).toMatchObject({
        outcome: 'refunded',
        intent: { status: 'refunded', refundedAmount: 4000, chargedBackAmount: 2000 },
      });
      const [call] = refundCalls();
      expect(Number(new URLSearchParams(call!.body).get('amount'))).toBe(4000);
      expect(call!.headers['idempotency-key']).toBe(`refund-${intent.id}-6000`);
      expect(
        (await deliver(stripe.event('charge.refunded', stripe.charges.get(chargeId)))).json().outcome,
      ).toBe('already_applied');
      expect((await refund({})).statusCode).toBe(409);
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
      expect(await verifyLedger(harness.database.db)).toEqual([]);
    });

    it('fails the intent with 504 when Stripe times out creating the session', async () => {
      const buyer = await signUpAndSignIn(app());
      stripe.behaviour.createDelayMs = 2_500;
      try {
        const response = await app().inject({
          method: 'POST',
          url: '/api/payments/intents',
          headers: buyer.headers,
          payload: { packId: 'starter', currency: 'EUR', provider: 'stripe' },
        });
        expect(response.statusCode).toBe(504);
      } finally {
        stripe.behaviour.createDelayMs = 0;
      }
      const list = await app().inject({ url: '/api/payments/intents', headers: buyer.headers });
      expect(list.json().intents[0].status).toBe('failed');
    });
  });
}
