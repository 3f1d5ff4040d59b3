import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { auditFilters, clientOf, listAuditEvents, recordAuditEvent } from '../accounts/audit.js';
import { getSecurityPolicy, updateSecurityPolicy } from '../accounts/policy.js';
import { adminLimit, adminLimitNote } from '../accounts/rate-limits.js';
import { accountSchema, auditEventSchema, auditQuerySchema } from '../accounts/schemas.js';
import { userRoles } from '../accounts/tables.js';
import { listOutbox } from '../notifications/service.js';
import { emailStatuses } from '../notifications/tables.js';
import { changeUserRole, changeUserStatus, listUsers } from './service.js';

/** Admin back-office for accounts and security: users and roles, the audit log, the email outbox, the 2FA policy. */
export async function adminSecurityRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin'];
  const admin = authenticate({ roles: ['admin'] });
  const staff = authenticate({ roles: ['admin', 'support'] });
  const reads = adminLimit(app, 'reads');
  const writes = adminLimit(app, 'writes');

  routes.get(
    '/api/admin/users',
    {
      schema: {
        tags,
        summary: 'Find accounts by email or name, optionally by role (admin and support).',
        description: adminLimitNote('reads'),
        querystring: z.object({
          query: z.string().trim().max(200).optional(),
          role: z.enum(userRoles).optional(),
          offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({ users: z.array(accountSchema), total: z.number().int() }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [staff, reads],
    },
    async (request) => listUsers(app.db, request.query),
  );

  routes.patch(
    '/api/admin/users/:userId/role',
    {
      schema: {
        tags,
        summary: 'Change the role of an account (admin only; recorded in the audit log).',
        description: adminLimitNote('writes'),
        params: z.object({ userId: z.uuid() }),
        body: z.object({ role: z.enum(userRoles) }),
        response: { 200: z.object({ user: accountSchema }), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
      preHandler: [admin, writes],
    },
    async (request) => ({
      user: await changeUserRole(app.db, {
        actorId: request.auth.userId,
        userId: request.params.userId,
        role: request.body.role,
        ...clientOf(request),
      }),
    }),
  );

  routes.patch(
    '/api/admin/users/:userId/status',
    {
      schema: {
        tags,
        summary:
          'Disable an account (its sessions end and its API keys are revoked at once) or enable it again (admin only).',
        description: adminLimitNote('writes'),
        params: z.object({ userId: z.uuid() }),
        body: z.object({ status: z.enum(['active', 'disabled']) }),
        response: { 200: z.object({ user: accountSchema }), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
      preHandler: [admin, writes],
    },
    async (request) => ({
      user: await changeUserStatus(app.db, app.stores.pubSub, {
        actorId: request.auth.userId,
        userId: request.params.userId,
        status: request.body.status,
        ...clientOf(request),
      }),
    }),
  );

  routes.get(
    '/api/admin/audit',
    {
      schema: {
        tags,
        summary: 'The security audit log, newest first, filtered by account, type and dates (admin only).',
        description: adminLimitNote('reads'),
        querystring: auditQuerySchema.extend({ userId: z.uuid().optional() }),
        response: {
          200: z.object({ events: z.array(auditEventSchema) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [admin, reads],
    },
    async (request) => {
      const query = request.query;
      return {
        events: await listAuditEvents(app.db, {
          ...(query.userId ? { userId: query.userId } : {}),
          ...auditFilters(query),
        }),
      };
    },
  );

  routes.get(
    '/api/admin/outbox',
    {
      schema: {
        tags,
        summary:
          'Emails written by the platform, newest first (admin only). With SMTP only what was sent to whom and how ' +
          'delivery went; without SMTP this is where emails wait, bodies included, and each such read is audited.',
        description: adminLimitNote('reads'),
        querystring: z.object({
          to: z.email().optional(),
          status: z.enum(emailStatuses).optional(),
          before: z.iso.datetime({ offset: true }).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({
            smtp: z.boolean(),
            emails: z.array(
              z.object({
                id: z.uuid(),
                to: z.string(),
                subject: z.string(),
                text: z
                  .string()
                  .nullable()
                  .describe(
                    'Null when SMTP delivers (the links in it are the recipient’s), and for bodies already cleared: ' +
                      'delivered, given up, or past the 14-day retention.',
                  ),
                html: z.string().nullable().describe('Null when SMTP delivers, and once cleared.'),
                template: z.string(),
                locale: z.string(),
                status: z.enum(emailStatuses),
                attempts: z.number().int(),
                error: z.string().nullable(),
                createdAt: z.string(),
                sentAt: z.string().nullable(),
              }),
            ),
          }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [admin, reads],
    },
    async (request, reply) => {
      const { to, status, before, limit } = request.query;
      // Bodies carry live links (verification, reset, invitation) that would let an admin take an account over.
      // With SMTP they reach their recipient, pending or not, and the admin never needs them; without SMTP reading
      // them here is the only way to get a link, so they are shown and every such read is recorded.
      const bodies = !app.mailer.delivers;
      const emails = await listOutbox(app.db, {
        ...(to ? { to } : {}),
        ...(status ? { status } : {}),
        ...(before ? { before: new Date(before) } : {}),
        limit,
        bodies,
      });
      if (bodies) {
        // Recorded before the bodies leave: a read that cannot be audited is not served.
        await recordAuditEvent(app.db, {
          type: 'admin.outbox_read',
          userId: request.auth.userId,
          actorId: request.auth.userId,
          ...clientOf(request),
          details: {
            filter: { to: to ?? null, status: status ?? null, before: before ?? null, limit },
            emailIds: emails.map((email) => email.id),
          },
        });
      }
      reply.header('cache-control', 'no-store');
      return { smtp: app.mailer.delivers, emails };
    },
  );

  const policySchema = z.object({ requireTwoFactorForStaff: z.boolean() });

  routes.get(
    '/api/admin/security-policy',
    {
      schema: {
        tags,
        summary: 'Security policy in force (admin only).',
        description: adminLimitNote('reads'),
        response: { 200: policySchema, ...errorResponses(401, 403, 429) },
      },
      preHandler: [admin, reads],
    },
    async () => getSecurityPolicy(app.db, app.env),
  );

  routes.put(
    '/api/admin/security-policy',
    {
      schema: {
        tags,
        summary: 'Make two-factor authentication mandatory (or not) for admin and support accounts.',
        description: adminLimitNote('writes'),
        body: policySchema,
        response: { 200: policySchema, ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: [admin, writes],
    },
    async (request) =>
      updateSecurityPolicy(app.db, {
        requireTwoFactorForStaff: request.body.requireTwoFactorForStaff,
        actorId: request.auth.userId,
        ...clientOf(request),
      }),
  );
}
