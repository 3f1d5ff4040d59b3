import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { auditPayment } from './audit.js';
import { chargilyEventSchema } from './providers/chargily.js';
import { sendReceiptEmail } from './receipt-mail.js';
import {
  type AppliedRefund,
  applyRefund,
  closeUnpaidIntent,
  eventSeen,
  findIntentByProviderRef,
  isChargeback,
  type ProviderEventRef,
  type ProviderRefundSize,
  type RefundOutcome,
  recordIgnoredEvent,
  type SettleOutcome,
  settlePaidIntent,
} from './service.js';

/** What a webhook answers when it handled or deliberately ignored an event (providers only look at the 2xx). */
export const webhookAnswerSchema = z.object({
  received: z.literal(true),
  outcome: z
    .string()
    .describe(
      'What was done: paid, refunded, deferred (a refund kept until its payment settles), duplicate_event, unknown_intent, mismatch, ignored, …',
    ),
});
export type WebhookAnswer = z.output<typeof webhookAnswerSchema>;

export const webhookRouteSchema = {
  hide: false,
  tags: ['payments'],
  body: z.unknown().describe('The provider event, verified from its raw bytes.'),
  response: { 200: webhookAnswerSchema, ...errorResponses(400, 404, 500, 502) },
} as const;

/** Raw bytes of the body: webhooks are verified against exactly what the provider signed. */
export function keepRawBody(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

export function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('invalid_json', 'The event is not JSON.');
  }
}

/**
 * A provider's refund event (Stripe `charge.refunded`: the refunded total; PayPal `PAYMENT.CAPTURE.REFUNDED`: the total
 * taken back, reversals included) or chargeback (Stripe `charge.dispute.closed` lost: the amount taken back, added to
 * what chargebacks took; PayPal `PAYMENT.CAPTURE.REVERSED`: the same total as its refunds): applies it once per event
 * under the refund policy, logs the outcome and audits one that took effect, as a refund or as a chargeback. For a
 * payment not settled here the event is kept on the intent (`deferred`, a 2xx: the provider need not send it again)
 * and applied, and audited, when the payment settles (see `afterSettle`).
 */
export async function applyWebhookRefund(
  app: FastifyInstance,
  log: FastifyBaseLogger,
  options: {
    intentId: string;
    event: ProviderEventRef;
    /** The refund's, dispute's or reversal's id at the provider. */
    refundId?: string | undefined;
    reason?: string | undefined;
  } & ProviderRefundSize,
): Promise<RefundOutcome> {
  const { event } = options;
  const chargeback = isChargeback(options);
  const outcome = await applyRefund(app.db, { ...options, cause: 'webhook' });
  const context = { provider: event.provider, eventId: event.eventId, outcome: outcome.kind };
  if (outcome.kind === 'deferred') {
    log.info(
      { ...context, intentId: options.intentId },
      `${chargeback ? 'chargeback' : 'refund'} of a payment not settled yet kept until it settles`,
    );
    return outcome;
  }
  log.info(context, chargeback ? 'chargeback event' : 'refund event');
  if (outcome.kind !== 'refunded') return outcome;
  await auditWebhookRefund(app, log, { ...outcome, size: options, eventId: event.eventId });
  return outcome;
}

/** Audits a refund or chargeback a provider event made, as `payment.refunded` or `payment.charged_back`. */
async function auditWebhookRefund(
  app: FastifyInstance,
  log: FastifyBaseLogger,
  applied: AppliedRefund,
): Promise<void> {
  const { size, intent } = applied;
  const chargeback = isChargeback(size);
  await auditPayment(app, {
    type: chargeback ? 'payment.charged_back' : 'payment.refunded',
    intent,
    log,
    details: chargeback
      ? {
          ...('chargedBack' in size ? { chargedBack: size.chargedBack } : {}),
          ...('takenBackTotal' in size ? { takenBackTotal: size.takenBackTotal } : {}),
          chargedBackTotal: intent.chargedBackAmount,
          refundedTotal: intent.refundedAmount,
          creditsReversed: applied.creditsReversed,
          creditsUncollected: applied.creditsUncollected,
          eventId: applied.eventId,
        }
      : { refundedTotal: intent.refundedAmount, via: 'webhook', eventId: applied.eventId },
  });
}

/** After a payment settles: logs it and sends the receipt; a failed email never fails the webhook. */
export async function afterSettle(
  app: FastifyInstance,
  log: FastifyBaseLogger,
  outcome: SettleOutcome,
  event: ProviderEventRef | undefined,
): Promise<string> {
  const context = { provider: event?.provider, eventId: event?.eventId };
  switch (outcome.kind) {
    case 'paid':
      log.info({ ...context, intentId: outcome.intent.id, receipt: outcome.receiptNumber }, 'payment paid');
      await auditPayment(app, {
        type: 'payment.paid',
        intent: outcome.intent,
        log,
        details: { receiptNumber: outcome.receiptNumber, eventId: event?.eventId },
      });
      for (const refund of outcome.refunds) {
        log.info(
          { ...context, intentId: outcome.intent.id, refundEventId: refund.eventId },
          'refund reported before the payment applied as it settled',
        );
        await auditWebhookRefund(app, log, refund);
      }
      await sendReceiptEmail(app, outcome.intent.id).catch((error: unknown) =>
        log.error({ err: error, intentId: outcome.intent.id }, 'receipt email failed'),
      );
      break;
    case 'mismatch':
      log.warn(
        { ...context, intentId: outcome.intent.id, reason: outcome.reason },
        'payment amount mismatch',
      );
      break;
    case 'unknown_intent':
      log.warn(context, 'payment event for an unknown intent');
      break;
    default:
      log.info({ ...context, outcome: outcome.kind }, 'payment event ignored');
  }
  return outcome.kind;
}

/**
 * Chargily Pay v2: `signature` is the hex HMAC-SHA256 of the raw body under the secret key. The event's own data is
 * never trusted for money: the checkout is fetched again and its status, amount and currency are what count.
 */
export async function chargilyWebhookRoutes(app: FastifyInstance): Promise<void> {
  keepRawBody(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/payments/webhooks/chargily',
    {
      schema: { ...webhookRouteSchema, summary: 'Chargily Pay webhook' },
      config: { public: 'called by Chargily Pay; proven by its signature before anything is read' },
    },
    async (request): Promise<WebhookAnswer> => {
      const client = app.payments.providers.chargily;
      if (!client) throw new AppError('not_found', 'Chargily is not configured.');
      const raw = rawBodyOf(request);
      const signature = request.headers.signature;
      if (!client.verifySignature(raw, typeof signature === 'string' ? signature : undefined)) {
        request.log.warn({ provider: 'chargily' }, 'webhook with a bad signature refused');
        throw new AppError('validation_failed', 'Invalid signature.');
      }
      const parsed = chargilyEventSchema.safeParse(parseJson(raw));
      if (!parsed.success) throw new AppError('validation_failed', 'Not a Chargily event.');
      const event: ProviderEventRef = {
        provider: 'chargily',
        eventId: parsed.data.id,
        type: parsed.data.type,
      };
      if (await eventSeen(app.db, event)) {
        request.log.info({ provider: 'chargily', eventId: event.eventId }, 'duplicate webhook ignored');
        return { received: true, outcome: 'duplicate_event' };
      }
      const checkoutId = parsed.data.data.id;
      const intent = await findIntentByProviderRef(app.db, 'chargily', checkoutId);
      if (!intent) {
        await recordIgnoredEvent(app.db, { event, reason: 'unknown_intent', details: { checkoutId } });
        request.log.warn({ provider: 'chargily', eventId: event.eventId }, 'webhook for an unknown checkout');
        return { received: true, outcome: 'unknown_intent' };
      }
      // A failure here answers 5xx so Chargily retries later; nothing was claimed yet.
      const checkout = await client.getCheckout(checkoutId).catch((error: unknown) => {
        throw new AppError('upstream_error', 'Chargily could not be asked about this checkout.', {
          cause: error,
        });
      });
      if (checkout.status === 'paid') {
        const outcome = await settlePaidIntent(app.db, {
          intentId: intent.id,
          amount: checkout.amount,
          currency: checkout.currency,
          cause: 'webhook',
          event,
          details: { checkoutId },
          timeZone: app.env.BILLING_TIME_ZONE,
        });
        return { received: true, outcome: await afterSettle(app, request.log, outcome, event) };
      }
      if (checkout.status === 'failed' || checkout.status === 'canceled' || checkout.status === 'expired') {
        const outcome = await closeUnpaidIntent(app.db, {
          intentId: intent.id,
          to: checkout.status,
          cause: 'webhook',
          event,
          reason: `checkout ${checkout.status}`,
        });
        request.log.info(
          { provider: 'chargily', eventId: event.eventId, outcome: outcome.kind },
          'payment closed',
        );
        return { received: true, outcome: outcome.kind };
      }
      await recordIgnoredEvent(app.db, {
        event,
        intentId: intent.id,
        reason: `checkout still ${checkout.status}`,
      });
      return { received: true, outcome: 'ignored' };
    },
  );
}
