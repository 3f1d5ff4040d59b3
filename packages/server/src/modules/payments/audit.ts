import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { type AuditEventType, clientOf, recordAuditEvent } from '../accounts/audit.js';
import type { PaymentIntent } from './service.js';

/**
 * Records a payment action in the audit log (who, from where, which payment, how much). Never the provider's data
 * beyond ids. A failed audit write is logged, never turned into a failed payment: the payment events stay the record.
 */
export async function auditPayment(
  app: FastifyInstance,
  options: {
    type: AuditEventType;
    intent: Pick<PaymentIntent, 'id' | 'userId' | 'provider' | 'amount' | 'currency' | 'credits'>;
    request?: FastifyRequest;
    /** An admin acting on someone's payment. */
    actorId?: string | undefined;
    details?: Record<string, unknown>;
    log?: FastifyBaseLogger;
  },
): Promise<void> {
  const { intent } = options;
  try {
    await recordAuditEvent(app.db, {
      type: options.type,
      userId: intent.userId,
      actorId: options.actorId ?? null,
      ...(options.request ? clientOf(options.request) : {}),
      details: {
        paymentId: intent.id,
        provider: intent.provider,
        amount: intent.amount,
        currency: intent.currency,
        credits: intent.credits,
        ...options.details,
      },
    });
  } catch (error) {
    (options.log ?? app.log).error(
      { err: error, paymentId: intent.id, type: options.type },
      'audit write failed',
    );
  }
}
