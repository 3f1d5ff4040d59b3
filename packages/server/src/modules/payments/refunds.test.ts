import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { auditEvents } from '../accounts/tables.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { ensureWallet, getBalance, holdCredits, verifyLedger } from '../billing/ledger.js';
import { createIntent, getIntent, listIntentEvents, settlePaidIntent } from './service.js';
import type { PaymentProvider } from './tables.js';
import { balanceOf, createPaymentsTestApp, makeAdmin } from './testing/harness.js';

for (const pair of backendPairs()) {
  describe(`admin refunds on ${pair.name}`, () => {
    // No provider is configured: only Chargily and bank transfers can be recorded as refunded by hand.
    let harness: TestApp;
    let admin: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      harness = await createPaymentsTestApp(pair);
      admin = await makeAdmin(harness.app);
    });
    afterAll(async () => harness?.close());

    /** A buyer and a paid intent of `amount` minor units buying as many credits. */
    async function paidIntent(provider: PaymentProvider, currency: string, amount: number) {
      const buyer = await signUpAndSignIn(app());
      const wallet = await ensureWallet(app().db, { ownerType: 'user', ownerId: buyer.userId });
      const intent = await createIntent(app().db, {
        userId: buyer.userId,
        walletId: wallet.id,
        purposeRef: 'pro',
        credits: amount,
        provider,
        currency,
        amount,
        locale: 'en',
        expiresAt: new Date(Date.now() + 60_000),
      });
      const settled = await settlePaidIntent(app().db, {
        intentId: intent.id,
        amount,
        currency,
        cause: 'admin',
        timeZone: 'Africa/Algiers',
        providerPaymentId:
          provider === 'stripe' ? 'pi_test_paid' : provider === 'paypal' ? 'CAPTURE1' : undefined,
      });
      expect(settled.kind).toBe('paid');
      return { buyer, intent };
    }

    const refund = (
      intentId: string,
      client: SignedInClient,
      payload: { amount?: number; reason: string; idempotencyKey?: string },
    ) =>
      app().inject({
        method: 'POST',
        url: `/api/admin/payments/intents/${intentId}/refund`,
        headers: client.headers,
        payload: { idempotencyKey: randomUUID(), ...payload },
      });

    for (const provider of ['stripe', 'paypal'] as const) {
      it(`refuses to refund a ${provider} payment with 409 provider_not_configured when ${provider} is not configured, changing nothing`, async () => {
        const { buyer, intent } = await paidIntent(provider, 'EUR', 700);
        const eventsBefore = (await listIntentEvents(app().db, intent.id)).length;
        const response = await refund(intent.id, admin, { reason: 'asked by the buyer' });
        expect(response.statusCode, response.body).toBe(409);
        expect(response.json()).toEqual({
          error: { code: 'provider_not_configured', message: expect.stringContaining(provider) },
        });
        const after = (await getIntent(app().db, intent.id))!;
        expect(after).toMatchObject({ status: 'paid', refundedAmount: 0, creditsReversed: 0 });
        expect(await listIntentEvents(app().db, intent.id)).toHaveLength(eventsBefore);
        expect(await balanceOf(app(), buyer.userId)).toBe(700);
      });
    }

    it('records a Chargily refund made by hand (Chargily has no refund API)', async () => {
      const { buyer, intent } = await paidIntent('chargily', 'DZD', 1000);
      const response = await refund(intent.id, admin, { amount: 400, reason: 'returned by hand' });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        outcome: 'refunded',
        intent: { status: 'partially_refunded' },
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(600);
      expect(await verifyLedger(app().db)).toEqual([]);
    });

    it('adds up two admins refunding one bank transfer at once', async () => {
      const { buyer, intent } = await paidIntent('bank_transfer', 'DZD', 9000);
      const otherAdmin = await makeAdmin(app());
      const [first, second] = await Promise.all([
        refund(intent.id, admin, { amount: 1000, reason: 'returned 1000' }),
        refund(intent.id, otherAdmin, { amount: 2000, reason: 'returned 2000' }),
      ]);
      expect(first.statusCode, first.body).toBe(200);
      expect(second.statusCode, second.body).toBe(200);
      expect([first.json().outcome, second.json().outcome]).toEqual(['refunded', 'refunded']);
      expect(await getIntent(app().db, intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 3000,
        creditsReversed: 3000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(6000);
      // Two refund events, in either order: the second total is built on the first.
      const totals = (await listIntentEvents(app().db, intent.id))
        .filter((event) => event.toStatus === 'partially_refunded')
        .map((event) => event.details.refundedTotal);
      expect(totals).toHaveLength(2);
      expect([1000, 2000]).toContain(totals[0]);
      expect(totals[1]).toBe(3000);
      expect(await verifyLedger(app().db)).toEqual([]);
    });

    it('refunds once when one admin submits the same refund twice at once, and audits it once, naming the admin', async () => {
      const { buyer, intent } = await paidIntent('bank_transfer', 'DZD', 9000);
      const once = { amount: 1000, reason: 'returned 1000 by hand', idempotencyKey: randomUUID() };
      const responses = await Promise.all([refund(intent.id, admin, once), refund(intent.id, admin, once)]);
      for (const response of responses) expect(response.statusCode, response.body).toBe(200);
      // One refund of 1000 was meant and made: the buyer loses 1000 credits, not 2000.
      expect(await getIntent(app().db, intent.id)).toMatchObject({
        refundedAmount: 1000,
        creditsReversed: 1000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(8000);
      expect(responses.map((response) => response.json().duplicate).sort()).toEqual([false, true]);
      for (const response of responses) {
        expect(response.json()).toMatchObject({
          outcome: 'refunded',
          creditsReversed: 1000,
          intent: { refundedAmount: 1000 },
        });
      }
      // A retry after a lost answer is the same submission; the key with another amount is refused.
      const retried = await refund(intent.id, admin, once);
      expect(retried.json()).toMatchObject({ duplicate: true, intent: { refundedAmount: 1000 } });
      const reused = await refund(intent.id, admin, { ...once, amount: 2000 });
      expect(reused.statusCode).toBe(409);
      expect(reused.json().error.code).toBe('conflict');

      expect(await getIntent(app().db, intent.id)).toMatchObject({
        refundedAmount: 1000,
        creditsReversed: 1000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(8000);
      const audited = await app()
        .db.select()
        .from(auditEvents)
        .where(and(eq(auditEvents.type, 'payment.refunded'), eq(auditEvents.userId, buyer.userId)));
      expect(audited).toEqual([expect.objectContaining({ actorId: admin.userId })]);
      expect(await verifyLedger(app().db)).toEqual([]);
    });

    it('refuses the second of two concurrent refunds that together exceed the payment, changing nothing for it', async () => {
      const { buyer, intent } = await paidIntent('bank_transfer', 'DZD', 9000);
      const otherAdmin = await makeAdmin(app());
      const responses = await Promise.all([
        refund(intent.id, admin, { amount: 5000, reason: 'returned 5000' }),
        refund(intent.id, otherAdmin, { amount: 5000, reason: 'returned 5000 too' }),
      ]);
      expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 400]);
      const refused = responses.find((response) => response.statusCode === 400)!;
      expect(refused.json()).toEqual({
        error: { code: 'validation_failed', message: 'The refund must be between 1 and 4000 (minor units).' },
      });
      expect(await getIntent(app().db, intent.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: 5000,
        creditsReversed: 5000,
      });
      expect(await balanceOf(app(), buyer.userId)).toBe(4000);
      expect(await verifyLedger(app().db)).toEqual([]);
    });

    it('refunds while credit holds land on the wallet: 200, taking back what the holds left, never a spurious 402', async () => {
      // The refund decides what it can take back under the wallet's lock, so a hold that lands during the refund
      // comes either before it (and its credits count as spent) or after it (and finds them gone): never between.
      for (let round = 0; round < 4; round += 1) {
        const { buyer, intent } = await paidIntent('bank_transfer', 'DZD', 9000);
        const wallet = await ensureWallet(app().db, { ownerType: 'user', ownerId: buyer.userId });
        let refunding = true;
        let heldCredits = 0;
        let refusedHolds = 0;
        const holdUntilRefunded = async (holder: number) => {
          for (let index = 0; refunding; index += 1) {
            try {
              await holdCredits(app().db, {
                walletId: wallet.id,
                amount: 7,
                requestId: `race-${intent.id}-${holder}-${index}`,
              });
              heldCredits += 7;
            } catch (error) {
              expect((error as { code?: string }).code).toBe('insufficient_credits');
              refusedHolds += 1;
            }
          }
        };
        const [response] = await Promise.all([
          refund(intent.id, admin, { reason: 'returned by hand' }).finally(() => {
            refunding = false;
          }),
          holdUntilRefunded(1),
          holdUntilRefunded(2),
          holdUntilRefunded(3),
        ]);
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).toMatchObject({ outcome: 'refunded', intent: { status: 'refunded' } });
        // Everything not held when the refund decided was taken back; what the holds reserve stays theirs.
        const balance = await getBalance(app().db, wallet.id);
        expect(balance).toEqual({ balance: heldCredits, held: heldCredits, available: 0 });
        expect(await getIntent(app().db, intent.id)).toMatchObject({
          refundedAmount: 9000,
          creditsReversed: 9000,
        });
        const refunded = (await listIntentEvents(app().db, intent.id)).find(
          (event) => event.toStatus === 'refunded',
        )!;
        expect(refunded.details).toMatchObject({
          creditsReversed: 9000 - heldCredits,
          creditsUncollected: heldCredits,
        });
        expect(refusedHolds + heldCredits).toBeGreaterThan(0);
      }
      expect(await verifyLedger(app().db)).toEqual([]);
    });
  });
}
