import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { paypalEventSchema, refundOfResource, transmissionOf } from './providers/paypal.js';
import {
  eventSeen,
  findIntentByProviderPaymentId,
  findIntentByProviderRef,
  getIntent,
  type PaymentIntent,
  type ProviderEventRef,
  paidStatuses,
  recordIgnoredEvent,
} from './service.js';
import { syncIntent } from './sync.js';
import {
  applyWebhookRefund,
  keepRawBody,
  parseJson,
  rawBodyOf,
  type WebhookAnswer,
  webhookRouteSchema,
} from './webhooks.js';

const uuid = z.uuid();

/**
 * PayPal webhooks. Nothing in a delivery is believed before PayPal itself says it is genuine (POST
 * /v1/notifications/verify-webhook-signature with the PAYPAL-* headers, our webhook id and the event). Even then the
 * event only says *which* order to look at: the order is fetched (and captured when approved) and what PayPal answers
 * is what gets settled, so CHECKOUT.ORDER.APPROVED and PAYMENT.CAPTURE.COMPLETED both lead to one capture, once.
 * Refunds arrive as PAYMENT.CAPTURE.REFUNDED and reversals (PayPal took the money back: a chargeback or a reversal of
 * its own) as PAYMENT.CAPTURE.REVERSED, both carrying the capture's cumulative total taken back, safe to repeat or
 * reorder. A refund or reversal that arrives before the payment was recorded here (its capture's events lost or late,
 * the buyer not back) settles the payment from PayPal first, as Stripe's refunds do, and then takes back what it says.
 */
export async function paypalWebhookRoutes(app: FastifyInstance): Promise<void> {
  keepRawBody(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/payments/webhooks/paypal',
    {
      schema: { ...webhookRouteSchema, summary: 'PayPal webhook' },
      config: { public: 'called by PayPal; proven by its signature before anything is read' },
    },
    async (request): Promise<WebhookAnswer> => {
      const client = app.payments.providers.paypal;
      if (!client) throw new AppError('not_found', 'PayPal is not configured.');
      const raw = rawBodyOf(request);
      const transmission = transmissionOf(request.headers);
      if (!transmission) {
        request.log.warn({ provider: 'paypal' }, 'webhook without its PAYPAL-* headers refused');
        throw new AppError('validation_failed', 'Missing PayPal transmission headers.');
      }
      parseJson(raw);
      // A verification PayPal cannot answer now is a 502: PayPal retries the delivery later.
      const genuine = await client.verifyWebhook(transmission, raw).catch((error: unknown) => {
        throw new AppError('upstream_error', 'PayPal could not verify this event.', { cause: error });
      });
      if (!genuine) {
        request.log.warn(
          { provider: 'paypal', transmissionId: transmission.transmissionId },
          'webhook that PayPal did not verify refused',
        );
        throw new AppError('validation_failed', 'Invalid signature.');
      }
      const parsed = paypalEventSchema.safeParse(parseJson(raw));
      if (!parsed.success) throw new AppError('validation_failed', 'Not a PayPal event.');
      const event = parsed.data;
      const ref: ProviderEventRef = { provider: 'paypal', eventId: event.id, type: event.event_type };
      if (await eventSeen(app.db, ref)) {
        request.log.info({ provider: 'paypal', eventId: event.id }, 'duplicate webhook ignored');
        return { received: true, outcome: 'duplicate_event' };
      }

      async function ignore(reason: string, intentId?: string): Promise<WebhookAnswer> {
        await recordIgnoredEvent(app.db, { event: ref, intentId: intentId ?? null, reason });
        request.log.info({ provider: 'paypal', eventId: ref.eventId, reason }, 'webhook ignored');
        return { received: true, outcome: reason === 'unknown_intent' ? 'unknown_intent' : 'ignored' };
      }

      const resource = event.resource;
      switch (event.event_type) {
        case 'CHECKOUT.ORDER.APPROVED':
        case 'CHECKOUT.ORDER.COMPLETED':
        case 'PAYMENT.CAPTURE.COMPLETED':
        case 'PAYMENT.CAPTURE.DENIED':
        case 'PAYMENT.CAPTURE.DECLINED': {
          const intent = await intentOfResource(
            event.event_type.startsWith('CHECKOUT.ORDER.') ? 'order' : 'capture',
            resource,
          );
          if (!intent) return ignore('unknown_intent');
          const result = await syncIntent(app, request.log, intent, { cause: 'webhook', event: ref });
          request.log.info(
            { provider: 'paypal', eventId: ref.eventId, intentId: intent.id, outcome: result.outcome },
            'paypal event applied',
          );
          return { received: true, outcome: result.outcome };
        }
        case 'PAYMENT.CAPTURE.REFUNDED':
        case 'PAYMENT.CAPTURE.REVERSED': {
          // Both resources are refund objects, and both carry the capture's total taken back so far: a reversal (a
          // chargeback, or a reversal PayPal made itself) is a refund of the capture too and counts in it, so a refund
          // after a reversal reports both. What the total adds is a refund, or a chargeback for a reversal.
          const reversal = event.event_type === 'PAYMENT.CAPTURE.REVERSED';
          const kind = reversal ? 'reversal' : 'refund';
          const refund = refundOfResource(resource);
          if (!refund) return ignore(`${kind} without capture or total`);
          const intent = await intentOfCapture(refund.captureId, ref, request.log);
          if (!intent) return ignore('unknown_intent');
          if (refund.takenBackTotal === undefined || refund.currency !== intent.currency) {
            return ignore(`${kind} in another currency or not a decimal`, intent.id);
          }
          const outcome = await applyWebhookRefund(app, request.log, {
            intentId: intent.id,
            event: ref,
            refundId: refund.refundId,
            takenBackTotal: refund.takenBackTotal,
            chargeback: reversal,
            ...(reversal ? { reason: 'capture reversed by PayPal' } : {}),
          });
          return { received: true, outcome: outcome.kind };
        }
        default:
          return ignore(`type ${event.event_type} not used`);
      }
    },
  );

  /**
   * The intent a refunded or reversed capture paid for. The capture id is known here once the payment is recorded;
   * when it is not (the refund came first), PayPal is asked for the capture, whose order and custom_id name the intent,
   * and the intent is settled from its order first (the same exactly-once path as every PayPal event, the refund's
   * event id left for the refund to claim), so the refund that follows takes back credits that were really granted.
   * PayPal not answering is a 502, so PayPal delivers the event again.
   */
  async function intentOfCapture(
    captureId: string,
    ref: ProviderEventRef,
    log: FastifyBaseLogger,
  ): Promise<PaymentIntent | undefined> {
    const known = await findIntentByProviderPaymentId(app.db, 'paypal', captureId);
    if (known && paidStatuses.includes(known.status)) return known;
    const capture = await app.payments.providers.paypal!.getCapture(captureId).catch((error: unknown) => {
      throw new AppError('upstream_error', 'PayPal could not be asked about this capture.', { cause: error });
    });
    const intent = known ?? (capture ? await intentOfResource('capture', capture) : undefined);
    if (!intent || paidStatuses.includes(intent.status)) return intent;
    const settled = await syncIntent(app, log, intent, { cause: 'webhook' });
    log.info(
      { provider: 'paypal', eventId: ref.eventId, intentId: intent.id, outcome: settled.outcome },
      'payment settled before its refund event',
    );
    return settled.intent;
  }

  /** The intent an order or capture is about: by order id, else by the custom_id we set to the intent id. */
  async function intentOfResource(
    kind: 'order' | 'capture',
    resource: Record<string, unknown>,
  ): Promise<PaymentIntent | undefined> {
    const isOrder = kind === 'order';
    const supplementary = resource.supplementary_data as { related_ids?: { order_id?: unknown } } | undefined;
    const orderId = isOrder ? resource.id : supplementary?.related_ids?.order_id;
    if (typeof orderId === 'string' && orderId) {
      const intent = await findIntentByProviderRef(app.db, 'paypal', orderId);
      if (intent) return intent;
    }
    const units = resource.purchase_units as Array<{ custom_id?: unknown }> | undefined;
    const customId = isOrder ? units?.[0]?.custom_id : resource.custom_id;
    if (!uuid.safeParse(customId).success) return undefined;
    const intent = await getIntent(app.db, customId as string);
    return intent?.provider === 'paypal' && intent.providerRef ? intent : undefined;
  }
}
