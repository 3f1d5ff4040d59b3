import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { clientOf, recordAuditEvent } from '../accounts/audit.js';
import { adminLimit, adminLimitNote } from '../accounts/rate-limits.js';
import { auditPayment } from './audit.js';
import { confirmBankTransfer, latestProof } from './bank-transfer.js';
import { creditPackSchema } from './config.js';
import { listPacks, savePack } from './packs.js';
import { refundPayment } from './refunds.js';
import { toIntentView } from './routes.js';
import { getIntent, getReceipt, listIntentEvents, listIntents } from './service.js';
import { paymentStatuses } from './tables.js';
import { afterSettle } from './webhooks.js';

const idParams = z.object({ id: z.uuid() });

/** Back-office: every payment, bank-transfer confirmation, packs. Admins only. */
export async function paymentsAdminRoutes(app: FastifyInstance): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const admin = authenticate({ roles: ['admin'] });
  // Each after the admin check (only an admin spends a budget), each budget per admin and shared with billing's
  // routes of the same kind: confirming a transfer credits a wallet and a refund takes credits back (with grants),
  // a pack's price is what customers pay (with prices and plans).
  const reads = [admin, adminLimit(app, 'reads')];
  const moneyMoved = [admin, adminLimit(app, 'money')];
  const pricingChange = [admin, adminLimit(app, 'pricing')];

  routes.get(
    '/api/admin/payments/intents',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary: 'All payments, newest first',
        description: adminLimitNote('reads'),
        querystring: z.object({
          status: z.enum(paymentStatuses).optional(),
          userId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).optional(),
        }),
        response: {
          200: z.object({ intents: z.array(z.object({ userId: z.string() }).loose()) }),
          ...errorResponses(401, 403, 429),
        },
      },
      preHandler: reads,
    },
    async (request) => {
      const intents = await listIntents(app.db, {
        ...(request.query.userId ? { userId: request.query.userId } : {}),
        ...(request.query.status ? { statuses: [request.query.status] } : {}),
        ...(request.query.limit ? { limit: request.query.limit } : {}),
      });
      return { intents: intents.map((intent) => ({ ...toIntentView(intent), userId: intent.userId })) };
    },
  );

  routes.get(
    '/api/admin/payments/intents/:id',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary: 'One payment with every event and its cause',
        description: adminLimitNote('reads'),
        params: idParams,
        response: {
          200: z.object({
            intent: z.object({ userId: z.string() }).loose(),
            events: z.array(
              z.object({
                type: z.string(),
                fromStatus: z.string().nullable(),
                toStatus: z.string().nullable(),
                cause: z.string(),
                actorId: z.string().nullable(),
                provider: z.string().nullable(),
                providerEventId: z.string().nullable(),
                details: z.record(z.string(), z.unknown()),
                createdAt: z.iso.datetime(),
              }),
            ),
          }),
          ...errorResponses(401, 403, 404, 429),
        },
      },
      preHandler: reads,
    },
    async (request) => {
      const intent = await getIntent(app.db, request.params.id);
      if (!intent) throw new AppError('not_found', 'No such payment.');
      const receipt = await getReceipt(app.db, intent.id);
      const events = await listIntentEvents(app.db, intent.id);
      return {
        intent: { ...toIntentView(intent, receipt?.number ?? null), userId: intent.userId },
        events: events.map((event) => ({
          type: event.type,
          fromStatus: event.fromStatus,
          toStatus: event.toStatus,
          cause: event.cause,
          actorId: event.actorId,
          provider: event.provider,
          providerEventId: event.providerEventId,
          details: event.details,
          createdAt: event.createdAt.toISOString(),
        })),
      };
    },
  );

  routes.get(
    '/api/admin/payments/intents/:id/proof',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary: 'The latest proof the buyer uploaded for a bank transfer',
        description: adminLimitNote('reads'),
        params: idParams,
        response: { 200: z.any().describe('The file'), ...errorResponses(401, 403, 404, 429) },
      },
      preHandler: reads,
    },
    async (request, reply) => {
      const proof = await latestProof(app.db, request.params.id);
      if (!proof) throw new AppError('not_found', 'No proof uploaded.');
      reply
        .header('content-type', proof.contentType)
        .header('content-disposition', 'attachment')
        .header('cache-control', 'private, no-store');
      return reply.send(proof.data);
    },
  );

  routes.post(
    '/api/admin/payments/intents/:id/confirm-transfer',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary:
          'Confirm a bank transfer was received: the payment becomes paid and the credits are added once',
        description: adminLimitNote('money'),
        params: idParams,
        body: z.object({
          amount: z.number().int().positive().describe('What arrived, in minor units.'),
          currency: z.string().regex(/^[A-Z]{3}$/),
          note: z.string().trim().max(500).optional(),
        }),
        response: {
          200: z.object({ outcome: z.string(), intent: z.object({ userId: z.string() }).loose() }),
          ...errorResponses(400, 401, 403, 404, 409, 422, 429),
        },
      },
      preHandler: moneyMoved,
    },
    async (request) => {
      const outcome = await confirmBankTransfer(app.db, {
        intentId: request.params.id,
        adminId: request.auth.userId,
        amount: request.body.amount,
        currency: request.body.currency,
        note: request.body.note,
        timeZone: app.env.BILLING_TIME_ZONE,
      });
      if (outcome.kind === 'mismatch')
        throw new AppError('unprocessable', `Not confirmed: ${outcome.reason}.`);
      await afterSettle(app, request.log, outcome, undefined);
      const intent = (await getIntent(app.db, request.params.id))!;
      if (outcome.kind === 'paid') {
        await auditPayment(app, {
          type: 'payment.transfer_confirmed',
          intent,
          request,
          actorId: request.auth.userId,
          details: request.body.note ? { note: request.body.note } : {},
        });
      }
      const receipt = await getReceipt(app.db, intent.id);
      return {
        outcome: outcome.kind,
        intent: { ...toIntentView(intent, receipt?.number ?? null), userId: intent.userId },
      };
    },
  );

  routes.post(
    '/api/admin/payments/intents/:id/refund',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary:
          'Refund a payment, fully or partly; credits are reversed per the refund policy. Idempotent on `idempotencyKey`.',
        description:
          'Stripe and PayPal payments are refunded through the provider (409 provider_not_configured when this server has no client for it). Chargily and bank transfers have no refund API: the admin returns the money by hand and records it here. Credits bought with the refunded money are taken back pro rata, but never more than the wallet has available: credits already spent stay spent. ' +
          adminLimitNote('money'),
        params: idParams,
        body: z.object({
          amount: z.number().int().positive().optional().describe('Minor units; default all that is left.'),
          reason: z.string().trim().min(1).max(500),
          idempotencyKey: z
            .string()
            .min(8)
            .max(200)
            .describe(
              'Made once per refund the admin means (not per click): sent again, it refunds nothing more and ' +
                'answers what the first did, with `duplicate` true.',
            ),
        }),
        response: {
          200: z.object({
            outcome: z.string(),
            duplicate: z.boolean(),
            creditsReversed: z.number().int(),
            creditsUncollected: z.number().int(),
            intent: z.object({ userId: z.string() }).loose(),
          }),
          ...errorResponses(400, 401, 403, 404, 409, 429, 502),
        },
      },
      preHandler: moneyMoved,
    },
    async (request) => {
      const outcome = await refundPayment(app, {
        intentId: request.params.id,
        adminId: request.auth.userId,
        amount: request.body.amount,
        reason: request.body.reason,
        idempotencyKey: request.body.idempotencyKey,
      });
      request.log.info(
        { intentId: request.params.id, outcome: outcome.kind, duplicate: outcome.duplicate },
        'payment refunded by an admin',
      );
      const intent = (await getIntent(app.db, request.params.id))!;
      if (outcome.kind === 'refunded' && !outcome.duplicate) {
        await auditPayment(app, {
          type: 'payment.refunded',
          intent,
          request,
          actorId: request.auth.userId,
          details: {
            refundedTotal: intent.refundedAmount,
            creditsReversed: outcome.creditsReversed,
            creditsUncollected: outcome.creditsUncollected,
            reason: request.body.reason,
          },
        });
      }
      return {
        outcome: outcome.kind,
        duplicate: outcome.duplicate,
        creditsReversed: outcome.kind === 'refunded' ? outcome.creditsReversed : 0,
        creditsUncollected: outcome.kind === 'refunded' ? outcome.creditsUncollected : 0,
        intent: { ...toIntentView(intent), userId: intent.userId },
      };
    },
  );

  routes.get(
    '/api/admin/payments/packs',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary: 'Credit packs (config and admin changes, inactive included)',
        description: adminLimitNote('reads'),
        response: { 200: z.object({ packs: z.array(creditPackSchema) }), ...errorResponses(401, 403, 429) },
      },
      preHandler: reads,
    },
    async () => ({ packs: await listPacks(app.db, app.payments.config.packs, { includeInactive: true }) }),
  );

  routes.put(
    '/api/admin/payments/packs/:packId',
    {
      schema: {
        tags: ['admin', 'payments'],
        summary: 'Create or change a credit pack (overrides the config pack of the same id)',
        description: adminLimitNote('pricing'),
        params: z.object({ packId: creditPackSchema.shape.id }),
        body: creditPackSchema.omit({ id: true }),
        response: { 200: creditPackSchema, ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: pricingChange,
    },
    async (request) => {
      const pack = await savePack(app.db, { ...request.body, id: request.params.packId });
      await recordAuditEvent(app.db, {
        type: 'payment.pack_saved',
        userId: request.auth.userId,
        actorId: request.auth.userId,
        ...clientOf(request),
        details: { packId: pack.id, credits: pack.credits, prices: pack.prices, active: pack.active },
      });
      return pack;
    },
  );
}
