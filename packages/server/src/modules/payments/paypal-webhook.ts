import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { fromDecimalString } from './money.js';
import { paypalEventSchema, transmissionOf } from './providers/paypal.js';
import {
  eventSeen,
  findIntentByProviderPaymentId,
  findIntentByProviderRef,
  getIntent,
  type PaymentIntent,
  type ProviderEventRef,
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
 * Refunds arrive as PAYMENT.CAPTURE.REFUNDED carrying the cumulative refunded total, safe to repeat or reorder.
 * PAYMENT.CAPTURE.REVERSED (PayPal took the money back: a chargeback or a reversal) takes back what its amount bought.
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
          const intent = await intentOfResource(event.event_type, resource);
          if (!intent) return ignore('unknown_intent');
          const result = await syncIntent(app, request.log, intent, { cause: 'webhook', event: ref });
          request.log.info(
            { provider: 'paypal', eventId: ref.eventId, intentId: intent.id, outcome: result.outcome },
            'paypal event applied',
          );
          return { received: true, outcome: result.outcome };
        }
        case 'PAYMENT.CAPTURE.REFUNDED': {
          const captureId = captureIdOfRefund(resource);
          const total = resource.seller_payable_breakdown as
            | { total_refunded_amount?: { value?: string; currency_code?: string } }
            | undefined;
          const refunded = total?.total_refunded_amount;
          if (!captureId || !refunded?.value || !refunded.currency_code) {
            return ignore('refund without capture or total');
          }
          const intent = await findIntentByProviderPaymentId(app.db, 'paypal', captureId);
          if (!intent) return ignore('unknown_intent');
          const amount = fromDecimalString(refunded.value, refunded.currency_code);
          if (amount === undefined || refunded.currency_code.toUpperCase() !== intent.currency) {
            return ignore('refund in another currency or not a decimal', intent.id);
          }
          const outcome = await applyWebhookRefund(app, request.log, {
            intentId: intent.id,
            refundedTotal: amount,
            event: ref,
            refundId: typeof resource.id === 'string' ? resource.id : undefined,
          });
          return { received: true, outcome: outcome.kind };
        }
        case 'PAYMENT.CAPTURE.REVERSED': {
          // The resource is a refund object PayPal made itself (a chargeback or a reversal): `amount` is what it took.
          const captureId = captureIdOfRefund(resource);
          const reversed = resource.amount as { value?: unknown; currency_code?: unknown } | undefined;
          if (
            !captureId ||
            typeof reversed?.value !== 'string' ||
            typeof reversed.currency_code !== 'string'
          ) {
            return ignore('reversal without capture or amount');
          }
          const intent = await findIntentByProviderPaymentId(app.db, 'paypal', captureId);
          if (!intent) return ignore('unknown_intent');
          const amount = fromDecimalString(reversed.value, reversed.currency_code);
          if (amount === undefined || reversed.currency_code.toUpperCase() !== intent.currency) {
            return ignore('reversal in another currency or not a decimal', intent.id);
          }
          const outcome = await applyWebhookRefund(app, request.log, {
            intentId: intent.id,
            chargedBack: amount,
            event: ref,
            refundId: typeof resource.id === 'string' ? resource.id : undefined,
            reason: 'capture reversed by PayPal',
          });
          return { received: true, outcome: outcome.kind };
        }
        default:
          return ignore(`type ${event.event_type} not used`);
      }
    },
  );

  /** The intent an order or capture event is about: by order id, else by the custom_id we set to the intent id. */
  async function intentOfResource(
    type: string,
    resource: Record<string, unknown>,
  ): Promise<PaymentIntent | undefined> {
    const isOrder = type.startsWith('CHECKOUT.ORDER.');
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

/** A refund names its capture in its `up` link (…/v2/payments/captures/{id}). */
function captureIdOfRefund(resource: Record<string, unknown>): string | undefined {
  const links = resource.links as Array<{ rel?: unknown; href?: unknown }> | undefined;
  const up = links?.find((link) => link.rel === 'up' && typeof link.href === 'string');
  const match = up ? /\/captures\/([^/?#]+)/.exec(String(up.href)) : null;
  return match ? decodeURIComponent(match[1]!) : undefined;
}
