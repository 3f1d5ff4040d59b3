import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { CheckoutProvider } from './providers/types.js';
import { applyRefund, getIntent, paidStatuses, type RefundOutcome } from './service.js';
import type { PaymentProvider } from './tables.js';

/** Providers without a refund API: the admin returns the money by hand and records it here. */
const recordedByHand: readonly PaymentProvider[] = ['chargily', 'bank_transfer'];

/**
 * An admin refunds `amount` minor units (default: all that is left). Stripe and PayPal are refunded through their
 * API, then the refund is applied at once (the provider's later refund event finds it done). Chargily has no refund
 * API and bank transfers are returned by hand: for them the admin records a refund already made. A Stripe or PayPal
 * payment is refused with `provider_not_configured` (409) when that provider's client is not configured.
 */
export async function refundPayment(
  app: FastifyInstance,
  options: { intentId: string; adminId: string; amount?: number | undefined; reason: string },
): Promise<RefundOutcome> {
  const intent = await getIntent(app.db, options.intentId);
  if (!intent) throw new AppError('not_found', 'No such payment.');
  if (!paidStatuses.includes(intent.status) || intent.status === 'refunded') {
    throw new AppError('conflict', `A ${intent.status} payment cannot be refunded.`);
  }
  const left = intent.amount - intent.refundedAmount;
  const amount = options.amount ?? left;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > left) {
    throw new AppError('validation_failed', `The refund must be between 1 and ${left} (minor units).`);
  }
  const total = intent.refundedAmount + amount;
  let refundId: string | undefined;
  if (!recordedByHand.includes(intent.provider)) {
    // Money paid through Stripe or PayPal goes back only through them: without their client, recording the refund
    // would take the buyer's credits back while the buyer never sees the money.
    const provider = (app.payments.providers as Record<string, CheckoutProvider | undefined>)[
      intent.provider
    ];
    if (!provider?.refund) {
      throw new AppError(
        'provider_not_configured',
        `${intent.provider} is not configured on this server, so the payment cannot be refunded through it.`,
      );
    }
    if (!intent.providerPaymentId) throw new AppError('conflict', 'The provider payment id is unknown.');
    const refund = await provider
      .refund({
        providerPaymentId: intent.providerPaymentId,
        amount,
        currency: intent.currency,
        idempotencyKey: `refund-${intent.id}-${total}`,
      })
      .catch((error: unknown) => {
        throw new AppError('upstream_error', `${intent.provider} refused or did not answer the refund.`, {
          cause: error,
        });
      });
    refundId = refund.refundId;
  }
  return applyRefund(app.db, {
    intentId: intent.id,
    refundedTotal: total,
    cause: 'admin',
    actorId: options.adminId,
    refundId,
    reason: options.reason,
  });
}
