import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { clientOf, recordAuditEvent } from '../accounts/audit.js';
import { MAX_BUDGET_CREDITS, MAX_DAILY_REQUESTS } from '../billing/index.js';
import { requireMembership } from '../organizations/index.js';
import {
  createVirtualKey,
  listVirtualKeys,
  revokeVirtualKey,
  updateVirtualKeyBudget,
} from './keys-service.js';

const keySummary = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  allowedModels: z.array(z.string()).nullable(),
  rpmLimit: z.number().int().nullable(),
  tpmLimit: z.number().int().nullable(),
  dailyCreditBudget: z.number().int().nullable(),
  monthlyCreditBudget: z.number().int().nullable(),
  dailyRequestQuota: z.number().int().nullable(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
  createdAt: z.date(),
  organizationId: z.uuid().nullable().describe('The organisation whose wallet pays for this key, if any.'),
});

const budgetFields = {
  dailyCreditBudget: z
    .number()
    .int()
    .min(1)
    .max(MAX_BUDGET_CREDITS)
    .describe('Credits this key may spend per day (midnight in the billing time zone).'),
  monthlyCreditBudget: z.number().int().min(1).max(MAX_BUDGET_CREDITS).describe('Credits per month.'),
  dailyRequestQuota: z.number().int().min(1).max(MAX_DAILY_REQUESTS).describe('/v1 requests per day.'),
};

/** Virtual API keys: a person manages their own; the secret is shown once, at creation. */
export async function keysRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const signedIn = authenticate();

  routes.get(
    '/api/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'My virtual API keys (secrets are never shown again).',
        response: { 200: z.object({ keys: z.array(keySummary) }), ...errorResponses(401) },
      },
      preHandler: signedIn,
    },
    async (request) => ({ keys: await listVirtualKeys(app.db, request.auth.userId) }),
  );

  routes.post(
    '/api/keys',
    {
      schema: {
        tags: ['keys'],
        summary:
          'Create a virtual API key for the /v1 API; the response holds the secret, the only time it is shown.',
        body: z.object({
          name: z.string().trim().min(1).max(100),
          allowedModels: z.array(z.string().min(1).max(200)).min(1).max(200).optional(),
          rpmLimit: z.number().int().min(1).max(100_000).optional(),
          tpmLimit: z.number().int().min(1).max(100_000_000).optional(),
          dailyCreditBudget: budgetFields.dailyCreditBudget.optional(),
          monthlyCreditBudget: budgetFields.monthlyCreditBudget.optional(),
          dailyRequestQuota: budgetFields.dailyRequestQuota.optional(),
          expiresAt: z.coerce
            .date()
            .refine((date) => date.getTime() > Date.now(), 'must be in the future')
            .optional(),
          organizationId: z
            .uuid()
            .optional()
            .describe('Create the key for an organisation you belong to: its calls pay from its wallet.'),
        }),
        response: {
          201: z.object({ key: z.string(), summary: keySummary }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
      preHandler: signedIn,
    },
    async (request, reply) => {
      // Only a member may create a key on an organisation's wallet (404 otherwise, as for an unknown id).
      if (request.body.organizationId) {
        await requireMembership(app.db, {
          organizationId: request.body.organizationId,
          userId: request.auth.userId,
        });
      }
      const created = await createVirtualKey(app.db, { userId: request.auth.userId, ...request.body });
      await recordAuditEvent(app.db, {
        type: 'api_key.created',
        userId: request.auth.userId,
        ...clientOf(request),
        details: { keyId: created.summary.id, prefix: created.summary.prefix, name: created.summary.name },
      });
      return reply.code(201).send(created);
    },
  );

  routes.patch(
    '/api/keys/:keyId',
    {
      schema: {
        tags: ['keys'],
        summary:
          "Change one of my keys' budgets and daily request quota (null removes one, absent keeps it); " +
          'every server process applies the change to the next call.',
        params: z.object({ keyId: z.uuid() }),
        body: z
          .object({
            dailyCreditBudget: budgetFields.dailyCreditBudget.nullable().optional(),
            monthlyCreditBudget: budgetFields.monthlyCreditBudget.nullable().optional(),
            dailyRequestQuota: budgetFields.dailyRequestQuota.nullable().optional(),
          })
          .strict(),
        response: { 200: z.object({ key: keySummary }), ...errorResponses(400, 401, 404) },
      },
      preHandler: signedIn,
    },
    async (request) => {
      const key = await updateVirtualKeyBudget(app.db, app.stores.pubSub, {
        userId: request.auth.userId,
        keyId: request.params.keyId,
        budget: request.body,
      });
      await recordAuditEvent(app.db, {
        type: 'api_key.budget_changed',
        userId: request.auth.userId,
        ...clientOf(request),
        details: {
          keyId: key.id,
          prefix: key.prefix,
          dailyCreditBudget: key.dailyCreditBudget,
          monthlyCreditBudget: key.monthlyCreditBudget,
          dailyRequestQuota: key.dailyRequestQuota,
        },
      });
      return { key };
    },
  );

  routes.delete(
    '/api/keys/:keyId',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke one of my keys; every server process stops accepting it at once.',
        params: z.object({ keyId: z.uuid() }),
        response: { 200: z.object({ key: keySummary }), ...errorResponses(400, 401, 404) },
      },
      preHandler: signedIn,
    },
    async (request) => {
      const key = await revokeVirtualKey(app.db, app.stores.pubSub, {
        userId: request.auth.userId,
        keyId: request.params.keyId,
      });
      await recordAuditEvent(app.db, {
        type: 'api_key.revoked',
        userId: request.auth.userId,
        ...clientOf(request),
        details: { keyId: key.id, prefix: key.prefix },
      });
      return { key };
    },
  );
}
