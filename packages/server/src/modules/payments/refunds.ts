import type { FastifyInstance } from 'fastify';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { CheckoutProvider } from './providers/types.js';
import {
  applyRefund,
  findAdminRefund,
  getIntent,
  nextRefundTotal,
  type PaymentIntent,
  type RefundOutcome,
  recordAdminRefund,
  withIntentLocked,
} from './service.js';
import type { PaymentProvider } from './tables.js';

/** Providers without a refund API: the admin returns the money by hand and records it here. */
const recordedByHand: readonly PaymentProvider[] = ['chargily', 'bank_transfer'];

/** What an admin refund did, and whether it is the answer to an earlier submission of the same key. */
export type AdminRefundOutcome = RefundOutcome & { duplicate: boolean };

/**
 * An admin refunds `amount` minor units (default: all that is left). Stripe and PayPal are refunded through their
 * API, then the refund is applied at once (the provider's later refund event finds it done). Chargily has no refund
 * API and bank transfers are returned by hand: for them the admin records a refund already made. A Stripe or PayPal
 * payment is refused with `provider_not_configured` (409) when that provider's client is not configured.
 *
 * Concurrent refunds of one payment add up: each amount is added to the total read under the intent's lock, and one
 * that would exceed what is left (after refunds and chargebacks) is refused. A provider refund keeps the payment
 * serialised through the provider call, so its idempotency key `refund-<intent>-<total taken back>` is built from a
 * total no other refund is building on.
 *
 * Each request carries the admin's `idempotencyKey`, recorded (a `refund_requested` event) with what it did, under
 * the same serialisation: a double submit or a retry after a lost answer finds it and refunds nothing more, answering
 * what the first did with `duplicate: true`; the same key with another amount is a 409 conflict.
 */
export async function refundPayment(
  app: FastifyInstance,
  options: {
    intentId: string;
    adminId: string;
    amount?: number | undefined;
    reason: string;
    idempotencyKey: string;
  },
): Promise<AdminRefundOutcome> {
  const intent = await getIntent(app.db, options.intentId);
  if (!intent) throw new AppError('not_found', 'No such payment.');
  const applied = {
    intentId: intent.id,
    cause: 'admin',
    actorId: options.adminId,
    reason: options.reason,
  } as const;
  const requestedAmount = options.amount ?? null;
  /** Runs `refund` unless this key was already used on the intent, then records the key with what it did. */
  const once =
    (refund: (db: Database, current: PaymentIntent) => Promise<RefundOutcome>) =>
    async (db: Database, current: PaymentIntent): Promise<AdminRefundOutcome> => {
      const earlier = await findAdminRefund(db, current.id, options.idempotencyKey);
      if (earlier) {
        if (earlier.details.requestedAmount !== requestedAmount) {
          throw new AppError('conflict', 'This idempotency key was already used for another refund.');
        }
        return {
          kind: 'refunded',
          intent: current,
          creditsReversed: Number(earlier.details.creditsReversed ?? 0),
          creditsUncollected: Number(earlier.details.creditsUncollected ?? 0),
          duplicate: true,
        };
      }
      const outcome = await refund(db, current);
      await recordAdminRefund(db, {
        intentId: current.id,
        actorId: options.adminId,
        idempotencyKey: options.idempotencyKey,
        details: {
          requestedAmount,
          outcome: outcome.kind,
          creditsReversed: outcome.kind === 'refunded' ? outcome.creditsReversed : 0,
          creditsUncollected: outcome.kind === 'refunded' ? outcome.creditsUncollected : 0,
        },
      });
      return { ...outcome, duplicate: false };
    };
  if (recordedByHand.includes(intent.provider)) {
    // The key's check, the refund and the key's record commit together, under the intent's row lock.
    return withIntentLocked(
      app.db,
      intent.id,
      once((db) => applyRefund(db, { ...applied, amount: options.amount })),
    );
  }
  // Money paid through Stripe or PayPal goes back only through them: without their client, recording the refund
  // would take the buyer's credits back while the buyer never sees the money.
  const provider = (app.payments.providers as Record<string, CheckoutProvider | undefined>)[intent.provider];
  if (!provider?.refund) {
    throw new AppError(
      'provider_not_configured',
      `${intent.provider} is not configured on this server, so the payment cannot be refunded through it.`,
    );
  }
  const refundAtProvider = provider.refund.bind(provider);
  return oneRefundAtATime(
    app,
    intent.id,
    once(async (db, current) => {
      const total = nextRefundTotal(current, options.amount);
      if (!current.providerPaymentId) throw new AppError('conflict', 'The provider payment id is unknown.');
      // The key names what will have been taken back in all, chargebacks included: that only grows, so no two
      // refunds share a key, and keys made before chargebacks had their own column (on that same sum) are not reused.
      const takenBack = total + current.chargedBackAmount;
      const refund = await refundAtProvider({
        providerPaymentId: current.providerPaymentId,
        amount: total - current.refundedAmount,
        currency: current.currency,
        idempotencyKey: `refund-${current.id}-${takenBack}`,
      }).catch((error: unknown) => {
        throw new AppError('upstream_error', `${current.provider} refused or did not answer the refund.`, {
          cause: error,
        });
      });
      // The cumulative total, not the amount: the provider's refund event may already have applied it.
      return applyRefund(db, { ...applied, refundedTotal: total, refundId: refund.refundId });
    }),
  );
}

/** Per app, the tail of each intent's queue of provider refunds (embedded database only). */
const refundQueues = new WeakMap<FastifyInstance, Map<string, Promise<unknown>>>();

/**
 * Runs `run` with the intent read fresh while no other admin refund of it runs, for the whole provider call.
 * On PostgreSQL, in a transaction holding the intent's row lock: another admin, in any process, waits for it, and so
 * does the provider's refund event. PGlite is one process (its folder is locked) and a transaction there makes every
 * other query wait, which would stall the server for the provider call: a queue per intent in this process instead.
 */
async function oneRefundAtATime<T>(
  app: FastifyInstance,
  intentId: string,
  run: (db: Database, intent: PaymentIntent) => Promise<T>,
): Promise<T> {
  if (app.database.kind === 'postgres') return withIntentLocked(app.db, intentId, run);
  let queues = refundQueues.get(app);
  if (!queues) {
    queues = new Map();
    refundQueues.set(app, queues);
  }
  const turn = (queues.get(intentId) ?? Promise.resolve()).then(async () => {
    const intent = await getIntent(app.db, intentId);
    if (!intent) throw new AppError('not_found', 'No such payment.');
    return run(app.db, intent);
  });
  const tail = turn.catch(() => {});
  queues.set(intentId, tail);
  try {
    return await turn;
  } finally {
    if (queues.get(intentId) === tail) queues.delete(intentId);
  }
}
