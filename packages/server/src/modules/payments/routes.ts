import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { rateLimit } from '../../plugins/rate-limit.js';
import { getAccount } from '../accounts/service.js';
import { auditPayment } from './audit.js';
import { MAX_PROOF_BYTES, proofContentTypes, saveProof } from './bank-transfer.js';
import { paymentMethods, startPayment } from './checkout.js';
import { creditPackSchema } from './config.js';
import { listPacks } from './packs.js';
import { renderReceiptPdf } from './receipts.js';
import {
  closeUnpaidIntent,
  getOwnIntent,
  getReceipt,
  listIntentEvents,
  listIntents,
  type PaymentIntent,
} from './service.js';
import { syncIntent } from './sync.js';
import { paymentProviders, paymentStatuses } from './tables.js';

export const intentSchema = z.object({
  id: z.uuid(),
  purpose: z.string(),
  purposeRef: z.string(),
  credits: z.number().int(),
  provider: z.enum(paymentProviders),
  currency: z.string(),
  amount: z.number().int().describe('Minor units (cents; whole dinars for DZD).'),
  status: z.enum(paymentStatuses),
  checkoutUrl: z.string().nullable().describe('Where to send the buyer (checkout providers).'),
  bankReference: z.string().nullable().describe('What to write on a bank transfer.'),
  refundedAmount: z.number().int().describe('Minor units refunded; chargebacks are in chargedBackAmount.'),
  chargedBackAmount: z.number().int().describe('Minor units taken back by lost disputes and reversals.'),
  failureReason: z.string().nullable(),
  receiptNumber: z.string().nullable(),
  createdAt: z.iso.datetime(),
  paidAt: z.iso.datetime().nullable(),
  expiresAt: z.iso.datetime().nullable(),
});
export type IntentView = z.output<typeof intentSchema>;

export function toIntentView(intent: PaymentIntent, receiptNumber: string | null = null): IntentView {
  return {
    id: intent.id,
    purpose: intent.purpose,
    purposeRef: intent.purposeRef,
    credits: intent.credits,
    provider: intent.provider,
    currency: intent.currency,
    amount: intent.amount,
    status: intent.status,
    checkoutUrl: intent.checkoutUrl,
    bankReference: intent.bankReference,
    refundedAmount: intent.refundedAmount,
    chargedBackAmount: intent.chargedBackAmount,
    failureReason: intent.failureReason,
    receiptNumber,
    createdAt: intent.createdAt.toISOString(),
    paidAt: intent.paidAt?.toISOString() ?? null,
    expiresAt: intent.expiresAt?.toISOString() ?? null,
  };
}

const packView = creditPackSchema.omit({ active: true });
const bankDetailsSchema = z.object({
  accountHolder: z.string(),
  bankName: z.string(),
  accountNumber: z.string(),
  bic: z.string().nullable(),
  instructions: z.string().nullable(),
});
const eventSchema = z.object({
  type: z.string(),
  fromStatus: z.string().nullable(),
  toStatus: z.string().nullable(),
  cause: z.string(),
  createdAt: z.iso.datetime(),
});
const idParams = z.object({ id: z.uuid() });

async function withReceipt(app: FastifyInstance, intent: PaymentIntent): Promise<IntentView> {
  return toIntentView(intent, (await getReceipt(app.db, intent.id))?.number ?? null);
}

/** The buyer's side: what is on sale, starting a payment, following it, receipts. */
export async function paymentsRoutes(app: FastifyInstance): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const signedIn = authenticate();
  const startLimit = rateLimit(app.stores.rateLimiters, {
    name: 'payments.start',
    points: 20,
    key: (request) => request.auth?.userId ?? request.ip,
  });

  routes.get(
    '/api/payments/options',
    {
      schema: {
        tags: ['payments'],
        summary: 'Credit packs, payment methods and their currencies',
        response: {
          200: z.object({
            packs: z.array(packView),
            methods: z.array(
              z.object({ provider: z.enum(paymentProviders), currencies: z.array(z.string()) }),
            ),
            bankTransfer: bankDetailsSchema.nullable(),
          }),
          ...errorResponses(401),
        },
      },
      preHandler: signedIn,
    },
    async () => {
      const bank = app.payments.config.bankTransfer;
      const packs = await listPacks(app.db, app.payments.config.packs);
      return {
        packs: packs.map(({ active: _active, ...pack }) => pack),
        methods: paymentMethods(app),
        bankTransfer: bank
          ? {
              accountHolder: bank.accountHolder,
              bankName: bank.bankName,
              accountNumber: bank.accountNumber,
              bic: bank.bic ?? null,
              instructions: bank.instructions ?? null,
            }
          : null,
      };
    },
  );

  routes.post(
    '/api/payments/intents',
    {
      schema: {
        tags: ['payments'],
        summary: 'Start paying for a credit pack',
        description:
          'Creates a payment intent and, for Chargily, Stripe and PayPal, the provider checkout: send the buyer to `checkoutUrl`. For a bank transfer, show `bankReference` and the bank details.',
        body: z.object({
          packId: z.string().min(1).max(40),
          currency: z.string().regex(/^[A-Za-z]{3}$/),
          provider: z.enum(paymentProviders),
          locale: z.enum(['ar', 'fr', 'en']).optional(),
        }),
        response: { 201: intentSchema, ...errorResponses(400, 401, 404, 422, 429, 502, 504) },
      },
      preHandler: [signedIn, startLimit],
    },
    async (request, reply) => {
      const locale = request.body.locale ?? ((await getAccount(app.db, request.auth.userId)).locale as 'en');
      const intent = await startPayment(app, {
        userId: request.auth.userId,
        packId: request.body.packId,
        currency: request.body.currency,
        provider: request.body.provider,
        locale,
      });
      await auditPayment(app, { type: 'payment.started', intent, request });
      reply.status(201);
      return toIntentView(intent);
    },
  );

  routes.get(
    '/api/payments/intents',
    {
      schema: {
        tags: ['payments'],
        summary: 'My payments, newest first',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).optional() }),
        response: { 200: z.object({ intents: z.array(intentSchema) }), ...errorResponses(401) },
      },
      preHandler: signedIn,
    },
    async (request) => {
      const intents = await listIntents(app.db, {
        userId: request.auth.userId,
        ...(request.query.limit ? { limit: request.query.limit } : {}),
      });
      return { intents: await Promise.all(intents.map((intent) => withReceipt(app, intent))) };
    },
  );

  routes.get(
    '/api/payments/intents/:id',
    {
      schema: {
        tags: ['payments'],
        summary: 'One of my payments with its history',
        params: idParams,
        response: {
          200: intentSchema.extend({ events: z.array(eventSchema) }),
          ...errorResponses(401, 404),
        },
      },
      preHandler: signedIn,
    },
    async (request) => {
      const intent = await getOwnIntent(app.db, request.params.id, request.auth.userId);
      const events = await listIntentEvents(app.db, intent.id);
      return {
        ...(await withReceipt(app, intent)),
        events: events
          .filter((event) => event.type === 'status_changed' || event.type === 'proof_uploaded')
          .map((event) => ({
            type: event.type,
            fromStatus: event.fromStatus,
            toStatus: event.toStatus,
            cause: event.cause,
            createdAt: event.createdAt.toISOString(),
          })),
      };
    },
  );

  const syncLimit = rateLimit(app.stores.rateLimiters, {
    name: 'payments.sync',
    points: 30,
    key: (request) => request.auth?.userId ?? request.ip,
  });
  routes.post(
    '/api/payments/intents/:id/sync',
    {
      schema: {
        tags: ['payments'],
        summary: 'Ask the provider where my payment stands (the success page calls it on return)',
        description:
          'Fetches the Chargily checkout, the Stripe Checkout Session or the PayPal order (capturing it when the buyer approved it) and applies what the provider answers, exactly as its webhook would: a deployment that webhooks cannot reach still completes, and a webhook arriving too is a no-op. `outcome` is paid, already_paid, pending, failed, canceled, expired or mismatch.',
        params: idParams,
        response: {
          200: intentSchema.extend({ outcome: z.string() }),
          ...errorResponses(401, 404, 422, 429, 502),
        },
      },
      preHandler: [signedIn, syncLimit],
    },
    async (request) => {
      const intent = await getOwnIntent(app.db, request.params.id, request.auth.userId);
      const result = await syncIntent(app, request.log, intent, { cause: 'return' });
      return { ...(await withReceipt(app, result.intent)), outcome: result.outcome };
    },
  );

  routes.post(
    '/api/payments/intents/:id/cancel',
    {
      schema: {
        tags: ['payments'],
        summary: 'Give up an unpaid payment',
        params: idParams,
        response: { 200: intentSchema, ...errorResponses(401, 404, 409) },
      },
      preHandler: signedIn,
    },
    async (request) => {
      const intent = await getOwnIntent(app.db, request.params.id, request.auth.userId);
      const outcome = await closeUnpaidIntent(app.db, {
        intentId: intent.id,
        to: 'canceled',
        cause: 'buyer',
        actorId: request.auth.userId,
      });
      if (outcome.kind !== 'closed') throw new AppError('conflict', `This payment is ${intent.status}.`);
      await auditPayment(app, { type: 'payment.canceled', intent, request });
      return toIntentView(outcome.intent);
    },
  );

  // The proof is sent as the raw file: its type is checked from its bytes, not trusted from the header.
  app.addContentTypeParser(
    [...proofContentTypes],
    { parseAs: 'buffer', bodyLimit: MAX_PROOF_BYTES },
    (_request, body, done) => done(null, body),
  );
  routes.put(
    '/api/payments/intents/:id/proof',
    {
      schema: {
        tags: ['payments'],
        summary: 'Upload the proof of a bank transfer (PNG, JPEG or PDF, at most 2 MB, sent as the raw file)',
        params: idParams,
        body: z.unknown().describe('The file itself, with its Content-Type.'),
        response: {
          201: z.object({ id: z.uuid(), contentType: z.string(), size: z.number().int() }),
          ...errorResponses(400, 401, 404, 409, 413, 415, 422),
        },
      },
      preHandler: signedIn,
    },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) {
        throw new AppError(
          'unsupported_media_type',
          'Send the file as image/png, image/jpeg or application/pdf.',
        );
      }
      const proof = await saveProof(app.db, {
        intentId: request.params.id,
        userId: request.auth.userId,
        declaredType: String(request.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim(),
        data: request.body,
      });
      const intent = await getOwnIntent(app.db, request.params.id, request.auth.userId);
      await auditPayment(app, {
        type: 'payment.proof_uploaded',
        intent,
        request,
        details: { proofId: proof.id, contentType: proof.contentType, size: proof.size },
      });
      reply.status(201);
      return proof;
    },
  );

  routes.get(
    '/api/payments/intents/:id/receipt.pdf',
    {
      schema: {
        tags: ['payments'],
        summary: 'The PDF receipt of a paid payment (owner only)',
        params: idParams,
        response: { 200: z.any().describe('application/pdf'), ...errorResponses(401, 404) },
      },
      preHandler: signedIn,
    },
    async (request, reply) => {
      const intent = await getOwnIntent(app.db, request.params.id, request.auth.userId);
      const receipt = await getReceipt(app.db, intent.id);
      if (!receipt) throw new AppError('not_found', 'This payment has no receipt yet.');
      const account = await getAccount(app.db, intent.userId);
      const packs = await listPacks(app.db, app.payments.config.packs, { includeInactive: true });
      const pdf = await renderReceiptPdf({
        number: receipt.number,
        issuedAt: receipt.issuedAt,
        intent,
        buyer: { name: account.name, email: account.email },
        packName: packs.find((pack) => pack.id === intent.purposeRef)?.name ?? intent.purposeRef,
        timeZone: app.env.BILLING_TIME_ZONE,
      });
      reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `attachment; filename="${receipt.number}.pdf"`)
        .header('cache-control', 'private, no-store');
      return reply.send(pdf);
    },
  );
}
