import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import { captureOf, paidCaptureStatuses, paidOf } from './providers/paypal.js';
import {
  closeUnpaidIntent,
  getIntent,
  type PaymentCause,
  type PaymentIntent,
  type ProviderEventRef,
  paidStatuses,
  recordIgnoredEvent,
  settlePaidIntent,
} from './service.js';
import { afterSettle } from './webhooks.js';

/** What asking the provider led to: `paid`, `already_paid`, `mismatch`, `failed`, `pending`, … */
export interface SyncResult {
  outcome: string;
  intent: PaymentIntent;
}

/**
 * Asks the provider where a payment stands and applies it: the path that completes a payment when the provider's
 * webhook cannot reach this deployment (the buyer's return to the success page), and the path PayPal webhooks take.
 * It goes through the same exactly-once settlement as every webhook, so the two paths can race or repeat freely.
 */
export async function syncIntent(
  app: FastifyInstance,
  log: FastifyBaseLogger,
  intent: PaymentIntent,
  options: { cause: PaymentCause; event?: ProviderEventRef | undefined },
): Promise<SyncResult> {
  if (paidStatuses.includes(intent.status) && !options.event) return { outcome: 'already_paid', intent };
  if (intent.provider === 'bank_transfer' || !intent.providerRef) return { outcome: intent.status, intent };

  const upstream = (error: unknown): never => {
    throw new AppError('upstream_error', `${intent.provider} could not be asked about this payment.`, {
      cause: error,
    });
  };
  let report: ProviderReport;
  switch (intent.provider) {
    case 'chargily': {
      const client = app.payments.providers.chargily;
      if (!client) throw new AppError('unprocessable', 'Chargily is not configured.');
      const checkout = await client.getCheckout(intent.providerRef).catch(upstream);
      report =
        checkout.status === 'paid'
          ? { state: 'paid', amount: checkout.amount, currency: checkout.currency }
          : checkout.status === 'failed' || checkout.status === 'canceled' || checkout.status === 'expired'
            ? { state: 'closed', to: checkout.status }
            : { state: 'open', detail: `checkout ${checkout.status}` };
      break;
    }
    case 'stripe': {
      const client = app.payments.providers.stripe;
      if (!client) throw new AppError('unprocessable', 'Stripe is not configured.');
      const session = await client.retrieveSession(intent.providerRef).catch(upstream);
      const paymentIntent = session.payment_intent;
      report =
        session.payment_status === 'paid' || session.payment_status === 'no_payment_required'
          ? {
              state: 'paid',
              amount: session.amount_total ?? -1,
              currency: session.currency ?? '',
              providerPaymentId: typeof paymentIntent === 'string' ? paymentIntent : paymentIntent?.id,
            }
          : session.status === 'expired'
            ? { state: 'closed', to: 'expired' }
            : { state: 'open', detail: `session ${session.status}/${session.payment_status}` };
      break;
    }
    case 'paypal': {
      const client = app.payments.providers.paypal;
      if (!client) throw new AppError('unprocessable', 'PayPal is not configured.');
      let order = await client.getOrder(intent.providerRef).catch(upstream);
      // Approved by the buyer: capture it. The request id is the intent's, so the return and the webhook capture once.
      if (order.status === 'APPROVED') {
        order = await client.captureOrder(order.id, `capture-${intent.id}`).catch(upstream);
      }
      const capture = captureOf(order);
      const unit = order.purchase_units?.[0];
      if (unit?.custom_id !== undefined && unit.custom_id !== intent.id) {
        report = { state: 'open', detail: 'order belongs to another payment' };
      } else if (capture && paidCaptureStatuses.includes(capture.status)) {
        // Refunded since (a refund event can come first): it was paid all the same, and that event takes it back.
        const paid = paidOf(capture);
        report = {
          state: 'paid',
          amount: paid.amount ?? -1,
          currency: paid.currency,
          providerPaymentId: capture.id,
        };
      } else if (capture && (capture.status === 'DECLINED' || capture.status === 'FAILED')) {
        report = { state: 'closed', to: 'failed' };
      } else if (order.status === 'VOIDED') {
        report = { state: 'closed', to: 'canceled' };
      } else {
        report = {
          state: 'open',
          detail: `order ${order.status}${capture ? `, capture ${capture.status}` : ''}`,
        };
      }
      break;
    }
  }

  if (report.state === 'paid') {
    const outcome = await settlePaidIntent(app.db, {
      intentId: intent.id,
      amount: report.amount,
      currency: report.currency,
      providerPaymentId: report.providerPaymentId,
      cause: options.cause,
      event: options.event,
      details: { providerRef: intent.providerRef },
      timeZone: app.env.BILLING_TIME_ZONE,
    });
    const kind = await afterSettle(app, log, outcome, options.event);
    return { outcome: kind, intent: (await getIntent(app.db, intent.id)) ?? intent };
  }
  if (report.state === 'closed') {
    const outcome = await closeUnpaidIntent(app.db, {
      intentId: intent.id,
      to: report.to,
      cause: options.cause,
      event: options.event,
      reason: `${intent.provider} reports ${report.to}`,
    });
    return {
      outcome: outcome.kind === 'closed' ? report.to : outcome.kind,
      intent: (await getIntent(app.db, intent.id)) ?? intent,
    };
  }
  if (options.event) {
    await recordIgnoredEvent(app.db, { event: options.event, intentId: intent.id, reason: report.detail });
  }
  return { outcome: 'pending', intent };
}

type ProviderReport =
  | { state: 'paid'; amount: number; currency: string; providerPaymentId?: string | undefined }
  | { state: 'closed'; to: 'failed' | 'canceled' | 'expired' }
  | { state: 'open'; detail: string };
