import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { EXPIRE_INTENTS_JOB } from './plugin.js';
import { getIntent, listIntentEvents } from './service.js';
import { paymentIntents } from './tables.js';
import { type FakeChargily, startFakeChargily } from './testing/fake-chargily.js';
import { type FakeStripe, startFakeStripe } from './testing/fake-stripe.js';
import { balanceOf, createPaymentsTestApp, madeUpKey, providerTestEnv } from './testing/harness.js';

/** A deployment the providers' webhooks cannot reach: the buyer's return to the success page completes the payment. */
for (const pair of backendPairs()) {
  describe(`Return sync on ${pair.name}`, () => {
    const chargilyKey = madeUpKey('test_sk_');
    const stripeKey = madeUpKey('sk_test_');
    const stripeWebhookSecret = madeUpKey('whsec_');
    let chargily: FakeChargily;
    let stripe: FakeStripe;
    let harness: TestApp;
    const app = () => harness.app;

    beforeAll(async () => {
      chargily = await startFakeChargily({ secretKey: chargilyKey });
      stripe = await startFakeStripe({ secretKey: stripeKey, webhookSecret: stripeWebhookSecret });
      harness = await createPaymentsTestApp(pair, {
        CHARGILY_SECRET_KEY: chargilyKey,
        CHARGILY_API_URL: chargily.apiUrl,
        STRIPE_SECRET_KEY: stripeKey,
        STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
        STRIPE_API_URL: stripe.apiUrl,
        ...providerTestEnv,
      });
    });
    afterAll(async () => {
      await harness?.close();
      await chargily?.close();
      await stripe?.close();
    });

    async function start(client: SignedInClient, provider: 'chargily' | 'stripe' | 'bank_transfer') {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId: 'starter', currency: provider === 'stripe' ? 'EUR' : 'DZD', provider },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json();
    }
    const sync = (client: SignedInClient, intentId: string) =>
      app().inject({
        method: 'POST',
        url: `/api/payments/intents/${intentId}/sync`,
        headers: client.headers,
      });

    it('Chargily: pending until paid, then paid once; the late webhook finds it paid', async () => {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'chargily');
      const checkoutId = [...chargily.checkouts.values()].find((checkout) =>
        intent.checkoutUrl.includes(checkout.id),
      )!.id;
      expect((await sync(buyer, intent.id)).json()).toMatchObject({ outcome: 'pending', status: 'pending' });
      chargily.setStatus(checkoutId, 'paid');
      const [first, second] = await Promise.all([sync(buyer, intent.id), sync(buyer, intent.id)]);
      expect([first.json().outcome, second.json().outcome].sort()).toEqual(['already_paid', 'paid']);
      const webhook = chargily.webhook(checkoutId, 'checkout.paid');
      const late = await app().inject({
        method: 'POST',
        url: '/api/payments/webhooks/chargily',
        headers: webhook.headers,
        payload: webhook.payload,
      });
      expect(late.json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
    });

    it('Chargily: a failed checkout closes the intent as failed', async () => {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'chargily');
      const checkoutId = [...chargily.checkouts.values()].find((checkout) =>
        intent.checkoutUrl.includes(checkout.id),
      )!.id;
      chargily.setStatus(checkoutId, 'failed');
      expect((await sync(buyer, intent.id)).json()).toMatchObject({ outcome: 'failed', status: 'failed' });
      expect(await balanceOf(app(), buyer.userId)).toBe(0);
    });

    it('Stripe: the session is retrieved and settles once with the webhook', async () => {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'stripe');
      const session = [...stripe.sessions.values()].find(
        (candidate) => (candidate.metadata as { intent_id: string }).intent_id === intent.id,
      )!;
      expect((await sync(buyer, intent.id)).json().outcome).toBe('pending');
      stripe.complete(String(session.id));
      expect((await sync(buyer, intent.id)).json()).toMatchObject({
        outcome: 'paid',
        status: 'paid',
        receiptNumber: expect.stringMatching(/^WBX-/),
      });
      const event = stripe.event('checkout.session.completed', session);
      const late = await app().inject({
        method: 'POST',
        url: '/api/payments/webhooks/stripe',
        headers: event.headers,
        payload: event.payload,
      });
      expect(late.json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
    });

    it('answers the bank transfer as it stands and hides other people’s payments', async () => {
      const buyer = await signUpAndSignIn(app());
      const intent = await start(buyer, 'bank_transfer');
      expect((await sync(buyer, intent.id)).json()).toMatchObject({ outcome: 'pending', status: 'pending' });
      const stranger = await signUpAndSignIn(app());
      expect((await sync(stranger, intent.id)).statusCode).toBe(404);
    });

    it('runs the intent-expiry job: unpaid intents past their deadline expire once, others stay, a late payment still settles', async () => {
      const buyer = await signUpAndSignIn(app());
      const transfer = await start(buyer, 'bank_transfer');
      const card = await start(buyer, 'chargily');
      const fresh = await start(buyer, 'bank_transfer');
      const past = new Date(Date.now() - 60_000);
      await app()
        .db.update(paymentIntents)
        .set({ expiresAt: past })
        .where(inArray(paymentIntents.id, [transfer.id, card.id]));
      const runJob = async () => {
        await app().stores.jobs.enqueue(EXPIRE_INTENTS_JOB, {}, { jobId: `test-${randomUUID()}` });
      };
      await runJob();
      const deadline = Date.now() + 10_000;
      while ((await getIntent(app().db, card.id))?.status !== 'expired' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect((await getIntent(app().db, transfer.id))?.status).toBe('expired');
      expect((await getIntent(app().db, card.id))?.status).toBe('expired');
      expect((await getIntent(app().db, fresh.id))?.status).toBe('pending');
      await runJob();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const events = await listIntentEvents(app().db, transfer.id);
      expect(events.filter((event) => event.toStatus === 'expired')).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({ fromStatus: 'pending', toStatus: 'expired', cause: 'system' });
      // The buyer paid at the last minute: Chargily says paid, so the credits are owed despite the expiry.
      const checkoutId = [...chargily.checkouts.values()].find((checkout) =>
        card.checkoutUrl.includes(checkout.id),
      )!.id;
      chargily.setStatus(checkoutId, 'paid');
      expect((await sync(buyer, card.id)).json()).toMatchObject({ outcome: 'paid', status: 'paid' });
      expect(await balanceOf(app(), buyer.userId)).toBe(100_000);
      const [row] = await app().db.select().from(paymentIntents).where(eq(paymentIntents.id, card.id));
      expect(row?.paidAt).toBeInstanceOf(Date);
    });
  });
}
