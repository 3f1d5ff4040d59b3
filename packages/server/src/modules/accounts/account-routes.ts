import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { rateLimit } from '../../plugins/rate-limit.js';
import { auditFilters, clientOf, countAuditEvents, listAuditEvents, recordAuditEvent } from './audit.js';
import { changePassword, requestEmailChange } from './auth-service.js';
import { accountsContext } from './context.js';
import { getSecurityPolicy } from './policy.js';
import { listProviderKeys } from './provider-keys.js';
import { userLimit } from './rate-limits.js';
import {
  accountSchema,
  auditEventSchema,
  auditQuerySchema,
  codeSchema,
  emailSchema,
  messageSchema,
  passwordSchema,
  sessionSchema,
} from './schemas.js';
import { getAccount } from './service.js';
import { listSessions, revokeAllSessions, revokeSession } from './sessions.js';
import {
  confirmTwoFactorEnrolment,
  disableTwoFactor,
  regenerateBackupCodes,
  sendTwoFactorEmailCode,
  startTwoFactorEnrolment,
  twoFactorEmailActions,
  twoFactorStatus,
} from './two-factor.js';

export async function accountRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const context = () => accountsContext(app);
  const tags = ['account'];
  const signedIn = authenticate();
  // Staff whom the policy obliges to enrol in 2FA can still see who they are, enrol, and sign out.
  const signedInEnrolling = authenticate({ allowMissingTwoFactor: true });
  const reads = userLimit(app, 'reads');
  const writes = userLimit(app, 'writes');
  const sensitive = userLimit(app, 'auth', 'account-sensitive');
  // Each one is an email in the owner's inbox: a few per quarter of an hour is plenty for a person.
  const emailCodes = rateLimit(app.stores.rateLimiters, {
    name: 'user:two-factor-email-code',
    points: 5,
    durationSeconds: 900,
    key: (request) => request.auth.userId,
  });
  /** A code from the email `POST /api/account/two-factor/email-code` sends (accounts without a password). */
  const emailCode = z
    .string()
    .max(64)
    .optional()
    .describe('For an account without a password: the code emailed by /api/account/two-factor/email-code.');

  routes.get(
    '/api/account',
    {
      schema: {
        tags,
        summary: 'The signed-in account, and whether it must enrol in two-factor authentication first.',
        response: {
          200: z.object({ user: accountSchema, twoFactorSetupRequired: z.boolean() }),
          ...errorResponses(401, 429),
        },
      },
      preHandler: [signedInEnrolling, reads],
    },
    async (request) => {
      const user = await getAccount(app.db, request.auth.userId);
      const policy = await getSecurityPolicy(app.db, app.env);
      const staff = user.role === 'admin' || user.role === 'support';
      return {
        user,
        twoFactorSetupRequired: staff && policy.requireTwoFactorForStaff && !user.twoFactorEnabled,
      };
    },
  );

  routes.get(
    '/api/account/sessions',
    {
      schema: {
        tags,
        summary: 'Active sessions of the signed-in account, the current one marked.',
        response: { 200: z.object({ sessions: z.array(sessionSchema) }), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, reads],
    },
    async (request) => ({
      sessions: await listSessions(app.db, {
        userId: request.auth.userId,
        currentSessionId: request.auth.sessionId,
      }),
    }),
  );

  routes.delete(
    '/api/account/sessions/:sessionId',
    {
      schema: {
        tags,
        summary: 'End one of your sessions (another device, or this one).',
        params: z.object({ sessionId: z.uuid() }),
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request, reply) => {
      const { userId } = request.auth;
      const { sessionId } = request.params;
      // Scoped to the caller: another account's session id is simply not found.
      if (!(await revokeSession(app.db, { userId, sessionId, reason: 'revoked_by_user' }))) {
        throw new AppError('not_found', 'No such active session.');
      }
      await recordAuditEvent(app.db, {
        type: 'session.revoked',
        userId,
        ...clientOf(request),
        details: { sessionId },
      });
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/api/account/sessions/revoke-others',
    {
      schema: {
        tags,
        summary: 'End every session but the current one.',
        response: { 200: z.object({ revoked: z.number().int() }), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request) => {
      const { userId, sessionId } = request.auth;
      const revoked = await revokeAllSessions(app.db, {
        userId,
        exceptSessionId: sessionId,
        reason: 'revoked_by_user',
      });
      await recordAuditEvent(app.db, {
        type: 'session.revoked',
        userId,
        ...clientOf(request),
        details: { others: revoked },
      });
      return { revoked };
    },
  );

  routes.post(
    '/api/account/password',
    {
      schema: {
        tags,
        summary: 'Change the password; needs the current one. Other sessions end.',
        body: z.object({ currentPassword: z.string().min(1).max(256), newPassword: passwordSchema }),
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: [signedInEnrolling, sensitive],
    },
    async (request, reply) => {
      await changePassword(context(), {
        userId: request.auth.userId,
        sessionId: request.auth.sessionId,
        ...request.body,
        ...clientOf(request),
      });
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/api/account/email',
    {
      schema: {
        tags,
        summary: 'Change the address: a link is sent to the new one, which takes effect when confirmed.',
        body: z.object({ password: z.string().min(1).max(256), newEmail: emailSchema }),
        response: { 202: messageSchema, ...errorResponses(400, 401, 403, 409, 429) },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      await requestEmailChange(context(), {
        userId: request.auth.userId,
        ...request.body,
        ...clientOf(request),
      });
      return reply.code(202).send({
        status: 'pending_confirmation',
        message: 'Confirm the new address from the link we sent to it.',
      });
    },
  );

  routes.get(
    '/api/account/two-factor',
    {
      schema: {
        tags,
        summary: 'Whether two-factor authentication is on, and how many backup codes are left.',
        response: {
          200: z.object({
            enabled: z.boolean(),
            enabledAt: z.string().nullable(),
            backupCodesLeft: z.number().int(),
          }),
          ...errorResponses(401, 429),
        },
      },
      preHandler: [signedInEnrolling, reads],
    },
    async (request) => twoFactorStatus(app.db, request.auth.userId),
  );

  routes.post(
    '/api/account/two-factor/setup',
    {
      schema: {
        tags,
        summary: 'Start enrolment: a new secret, its otpauth URL and a QR code. Not active until confirmed.',
        response: {
          200: z.object({ secret: z.string(), otpauthUrl: z.string(), qrCode: z.string() }),
          ...errorResponses(401, 403, 409, 429),
        },
      },
      preHandler: [signedInEnrolling, sensitive],
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return startTwoFactorEnrolment(context(), { userId: request.auth.userId });
    },
  );

  routes.post(
    '/api/account/two-factor/email-code',
    {
      schema: {
        tags,
        summary:
          'Email a one-time code (10 minutes) that confirms turning two-factor authentication on or off, for an account without a password; 409 for one with a password.',
        body: z.object({ action: z.enum(twoFactorEmailActions) }),
        response: { 202: messageSchema, ...errorResponses(400, 401, 403, 409, 429) },
      },
      preHandler: [signedInEnrolling, sensitive, emailCodes],
    },
    async (request, reply) => {
      await sendTwoFactorEmailCode(context(), {
        userId: request.auth.userId,
        action: request.body.action,
        ...clientOf(request),
      });
      return reply.code(202).send({
        status: 'code_sent',
        message: 'A code is on its way to your address; it works for 10 minutes.',
      });
    },
  );

  routes.post(
    '/api/account/two-factor/enable',
    {
      schema: {
        tags,
        summary:
          'Confirm enrolment with a code from the app and the password (or, without one, the emailed code); returns ten single-use backup codes, shown once.',
        body: z.object({ code: codeSchema, password: z.string().max(256).optional(), emailCode }),
        response: {
          200: z.object({ backupCodes: z.array(z.string()) }),
          ...errorResponses(400, 401, 403, 409, 429),
        },
      },
      preHandler: [signedInEnrolling, sensitive],
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return confirmTwoFactorEnrolment(context(), {
        userId: request.auth.userId,
        ...request.body,
        ...clientOf(request),
      });
    },
  );

  routes.post(
    '/api/account/two-factor/disable',
    {
      schema: {
        tags,
        summary:
          'Turn two-factor authentication off; needs a current or backup code and the password (or, without one, the emailed code).',
        body: z.object({ password: z.string().max(256).optional(), emailCode, code: codeSchema }),
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 409, 429) },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      await disableTwoFactor(context(), {
        userId: request.auth.userId,
        ...request.body,
        ...clientOf(request),
      });
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/api/account/two-factor/backup-codes',
    {
      schema: {
        tags,
        summary: 'Replace the backup codes (the old ones stop working); needs a current code.',
        body: z.object({ code: codeSchema }),
        response: {
          200: z.object({ backupCodes: z.array(z.string()) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return regenerateBackupCodes(context(), {
        userId: request.auth.userId,
        code: request.body.code,
        ...clientOf(request),
      });
    },
  );

  routes.get(
    '/api/account/statistics',
    {
      schema: {
        tags,
        summary:
          'Personal security statistics over the last 30 days (usage and spending live with the gateway and billing).',
        response: {
          200: z.object({
            memberSince: z.string(),
            activeSessions: z.number().int(),
            providerKeys: z.number().int(),
            twoFactorEnabled: z.boolean(),
            last30Days: z.object({
              signIns: z.number().int(),
              failedSignIns: z.number().int(),
              passwordChanges: z.number().int(),
            }),
          }),
          ...errorResponses(401, 403, 429),
        },
      },
      preHandler: [signedIn, reads],
    },
    async (request) => {
      const { userId } = request.auth;
      const user = await getAccount(app.db, userId);
      const counts = await countAuditEvents(app.db, {
        userId,
        since: new Date(Date.now() - 30 * 86_400_000),
        types: ['sign_in.succeeded', 'sign_in.failed', 'password.changed', 'password.reset'],
      });
      return {
        memberSince: user.createdAt,
        activeSessions: (await listSessions(app.db, { userId })).length,
        providerKeys: (await listProviderKeys(app.db, userId)).length,
        twoFactorEnabled: user.twoFactorEnabled,
        last30Days: {
          signIns: counts['sign_in.succeeded'] ?? 0,
          failedSignIns: counts['sign_in.failed'] ?? 0,
          passwordChanges: (counts['password.changed'] ?? 0) + (counts['password.reset'] ?? 0),
        },
      };
    },
  );

  routes.get(
    '/api/account/activity',
    {
      schema: {
        tags,
        summary:
          'Your security journal: sign-ins, failures, changes, newest first; filter by type and dates, page with beforeId.',
        querystring: auditQuerySchema,
        response: {
          200: z.object({ events: z.array(auditEventSchema) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [signedIn, reads],
    },
    async (request) => ({
      events: await listAuditEvents(app.db, { userId: request.auth.userId, ...auditFilters(request.query) }),
    }),
  );
}
