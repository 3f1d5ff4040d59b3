import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type Stripe from 'stripe';
import { AppError } from '../../errors.js';
import {
  closeUnpaidIntent,
  eventSeen,
  findIntentByProviderPaymentId,
  findIntentByProviderRef,
  getIntent,
  type PaymentIntent,
  type ProviderEventRef,
  paidStatuses,
  recordIgnoredEvent,
  recordProviderEvent,
  settlePaidIntent,
} from './service.js';
import {
  afterSettle,
  applyWebhookRefund,
  keepRawBody,
  rawBodyOf,
  type WebhookAnswer,
  webhookRouteSchema,
} from './webhooks.js';

/**
 * Stripe: events are verified from `Stripe-Signature` (HMAC of `timestamp.body`, 5-minute tolerance, so an old
 * event replayed later is refused). Sessions settle on checkout.session.completed / async_payment_succeeded; refunds
 * arrive as charge.refunded with the cumulative amount refunded, which makes them safe to repeat or reorder. A dispute
 * is noted when created and takes the credits back only when closed as lost (the money is then definitively gone).
 */
export async function stripeWebhookRoutes(app: FastifyInstance): Promise<void> {
  keepRawBody(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/payments/webhooks/stripe',
    {
      schema: { ...webhookRouteSchema, summary: 'Stripe webhook' },
      config: { public: 'called by Stripe; proven by its signature before anything is read' },
    },
    async (request): Promise<WebhookAnswer> => {
      const client = app.payments.providers.stripe;
      if (!client) throw new AppError('not_found', 'Stripe is not configured.');
      const header = request.headers['stripe-signature'];
      const event = client.constructEvent(
        rawBodyOf(request),
        typeof header === 'string' ? header : undefined,
      );
      if (!event) {
        request.log.warn({ provider: 'stripe' }, 'webhook with a bad or stale signature refused');
        throw new AppError('validation_failed', 'Invalid signature.');
      }
      const ref: ProviderEventRef = { provider: 'stripe', eventId: event.id, type: event.type };
      if (await eventSeen(app.db, ref)) {
        request.log.info({ provider: 'stripe', eventId: event.id }, 'duplicate webhook ignored');
        return { received: true, outcome: 'duplicate_event' };
      }

      async function ignore(reason: string, intentId?: string): Promise<WebhookAnswer> {
        await recordIgnoredEvent(app.db, { event: ref, intentId: intentId ?? null, reason });
        request.log.info({ provider: 'stripe', eventId: ref.eventId, reason }, 'webhook ignored');
        return { received: true, outcome: reason === 'unknown_intent' ? 'unknown_intent' : 'ignored' };
      }

      switch (event.type) {
        case 'checkout.session.completed':
        case 'checkout.session.async_payment_succeeded': {
          const session = event.data.object;
          const intent = await findIntentByProviderRef(app.db, 'stripe', session.id);
          if (!intent) return ignore('unknown_intent');
          if (session.payment_status !== 'paid')
            return ignore(`session ${session.payment_status}`, intent.id);
          const outcome = await settlePaidIntent(app.db, {
            intentId: intent.id,
            amount: session.amount_total ?? -1,
            currency: session.currency ?? '',
            providerPaymentId: paymentIntentId(session.payment_intent),
            cause: 'webhook',
            event: ref,
            details: { sessionId: session.id },
            timeZone: app.env.BILLING_TIME_ZONE,
          });
          return { received: true, outcome: await afterSettle(app, request.log, outcome, ref) };
        }
        case 'checkout.session.async_payment_failed':
        case 'checkout.session.expired': {
          const session = event.data.object;
          const intent = await findIntentByProviderRef(app.db, 'stripe', session.id);
          if (!intent) return ignore('unknown_intent');
          const outcome = await closeUnpaidIntent(app.db, {
            intentId: intent.id,
            to: event.type === 'checkout.session.expired' ? 'expired' : 'failed',
            cause: 'webhook',
            event: ref,
            reason: event.type,
          });
          return { received: true, outcome: outcome.kind };
        }
        case 'charge.refunded': {
          const charge = event.data.object;
          const paymentIntent = paymentIntentId(charge.payment_intent);
          if (!paymentIntent) return ignore('charge without payment intent');
          const intent = await intentOfPayment(paymentIntent);
          if (!intent) return ignore('unknown_intent');
          const outcome = await applyWebhookRefund(app, request.log, {
            intentId: intent.id,
            refundedTotal: charge.amount_refunded,
            event: ref,
          });
          return { received: true, outcome: outcome.kind };
        }
        case 'charge.dispute.created': {
          // Only noted: the dispute may still be won, so no credit moves until it is closed.
          const dispute = event.data.object;
          const paymentIntent = paymentIntentId(dispute.payment_intent);
          const intent = paymentIntent
            ? await findIntentByProviderPaymentId(app.db, 'stripe', paymentIntent)
            : undefined;
          if (!intent) return ignore('unknown_intent');
          await recordProviderEvent(app.db, {
            event: ref,
            intentId: intent.id,
            details: { disputeId: dispute.id, amount: dispute.amount, reason: dispute.reason },
          });
          request.log.warn(
            { provider: 'stripe', eventId: ref.eventId, intentId: intent.id, disputeId: dispute.id },
            'payment disputed',
          );
          return { received: true, outcome: 'dispute_opened' };
        }
        case 'charge.dispute.closed': {
          const dispute = event.data.object;
          const paymentIntent = paymentIntentId(dispute.payment_intent);
          if (!paymentIntent) return ignore('dispute without payment intent');
          if (dispute.status !== 'lost') {
            const known = await findIntentByProviderPaymentId(app.db, 'stripe', paymentIntent);
            return ignore(`dispute ${dispute.status}`, known?.id);
          }
          const intent = await intentOfPayment(paymentIntent);
          if (!intent) return ignore('unknown_intent');
          if (dispute.currency.toUpperCase() !== intent.currency || !(dispute.amount > 0)) {
            return ignore('dispute in another currency or without an amount', intent.id);
          }
          const outcome = await applyWebhookRefund(app, request.log, {
            intentId: intent.id,
            chargedBack: dispute.amount,
            event: ref,
            refundId: dispute.id,
            reason: `dispute lost (${dispute.reason})`,
          });
          return { received: true, outcome: outcome.kind };
        }
        default:
          return ignore(`type ${event.type} not used`);
      }

      /**
       * The intent a Stripe PaymentIntent paid for. A refund can arrive before the session's completion event: the
       * PaymentIntent is then fetched, and when Stripe says it succeeded for the right amount the intent is settled
       * first, so the refund that follows reverses credits that were really granted.
       */
      async function intentOfPayment(paymentIntent: string): Promise<PaymentIntent | undefined> {
        const known = await findIntentByProviderPaymentId(app.db, 'stripe', paymentIntent);
        if (known && paidStatuses.includes(known.status)) return known;
        const remote = await client!.retrievePaymentIntent(paymentIntent).catch((error: unknown) => {
          throw new AppError('upstream_error', 'Stripe could not be asked about this payment.', {
            cause: error,
          });
        });
        const intentId = remote.metadata?.intent_id;
        const intent =
          known ?? (intentId ? await getIntent(app.db, intentId).catch(() => undefined) : undefined);
        if (intent?.provider !== 'stripe') return undefined;
        if (!paidStatuses.includes(intent.status) && remote.status === 'succeeded') {
          const outcome = await settlePaidIntent(app.db, {
            intentId: intent.id,
            amount: remote.amount_received,
            currency: remote.currency,
            providerPaymentId: remote.id,
            cause: 'webhook',
            details: { eventId: ref.eventId, via: 'payment_intent lookup' },
            timeZone: app.env.BILLING_TIME_ZONE,
          });
          await afterSettle(app, request.log, outcome, ref);
        }
        return intent;
      }
    },
  );
}

function paymentIntentId(value: string | Stripe.PaymentIntent | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}
