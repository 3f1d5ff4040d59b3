import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate, REFRESH_COOKIE } from '../../plugins/authenticate.js';
import { assertCsrf } from '../../plugins/csrf.js';
import { clientOf, recordAuditEvent } from './audit.js';
import {
  completeTwoFactorSignIn,
  confirmEmailChange,
  requestPasswordReset,
  resendVerification,
  resetPassword,
  signIn,
  signUp,
  verifyEmail,
} from './auth-service.js';
import { accountsContext } from './context.js';
import { clearSessionCookies, setSessionCookies } from './cookies.js';
import { authAccountLimit, authIpLimit, userLimit } from './rate-limits.js';
import {
  codeSchema,
  emailSchema,
  messageSchema,
  nameSchema,
  passwordSchema,
  signedInSchema,
  tokenDeliverySchema,
  tokenSchema,
  twoFactorChallengeSchema,
} from './schemas.js';
import { getAccount } from './service.js';
import { findRefreshTokenSession, type IssuedTokens, revokeSession, rotateRefreshToken } from './sessions.js';
import { locales } from './tables.js';

/** Answers a successful sign-in: cookies for the web, tokens in the body for API clients. */
export async function sendSignedIn(
  app: FastifyInstance,
  reply: FastifyReply,
  options: { userId: string; tokens: IssuedTokens; delivery: 'cookie' | 'body' },
) {
  const { tokens } = options;
  if (options.delivery === 'cookie') setSessionCookies(reply, app.env, tokens);
  reply.header('cache-control', 'no-store');
  return {
    status: 'signed_in' as const,
    user: await getAccount(app.db, options.userId),
    session: {
      id: tokens.sessionId,
      accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString(),
      refreshTokenExpiresAt: tokens.refreshTokenExpiresAt.toISOString(),
      csrfToken: tokens.csrfToken,
    },
    ...(options.delivery === 'body'
      ? {
          tokens: {
            tokenType: 'Bearer' as const,
            accessToken: tokens.accessToken,
            refreshToken: tokens.refreshToken,
            expiresIn: Math.round((tokens.accessTokenExpiresAt.getTime() - Date.now()) / 1000),
          },
        }
      : {}),
  };
}

export async function authRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const context = () => accountsContext(app);
  const tags = ['auth'];

  routes.post(
    '/api/auth/sign-up',
    {
      config: { public: 'creating an account' },
      schema: {
        tags,
        summary: 'Create an account. The answer is the same whether or not the address already has one.',
        body: z.object({
          email: emailSchema,
          password: passwordSchema,
          name: nameSchema.default(''),
          locale: z.enum(locales).default('en'),
        }),
        response: { 202: messageSchema, ...errorResponses(400, 413, 415, 429) },
      },
      preHandler: [authIpLimit(app, 'sign-up'), authAccountLimit(app, 'sign-up')],
    },
    async (request, reply) => {
      await signUp(context(), { ...request.body, ...clientOf(request) });
      return reply.code(202).send({
        status: 'pending_verification',
        message: 'Check your inbox: we sent a link to confirm the address. You can sign in meanwhile.',
      });
    },
  );

  routes.post(
    '/api/auth/sign-in',
    {
      config: { public: 'signing in' },
      schema: {
        tags,
        summary: 'Sign in with email and password; answers two_factor_required when 2FA is on.',
        body: z.object({
          email: emailSchema,
          password: z.string().min(1).max(256),
          tokenDelivery: tokenDeliverySchema,
        }),
        response: {
          200: z.union([signedInSchema, twoFactorChallengeSchema]),
          ...errorResponses(400, 401, 413, 415, 429),
        },
      },
      preHandler: [authIpLimit(app, 'sign-in'), authAccountLimit(app, 'sign-in')],
    },
    async (request, reply) => {
      const result = await signIn(context(), { ...request.body, ...clientOf(request) });
      if (result.kind === 'two_factor') {
        return { status: 'two_factor_required' as const, challengeToken: result.challengeToken };
      }
      return sendSignedIn(app, reply, { ...result, delivery: request.body.tokenDelivery });
    },
  );

  routes.post(
    '/api/auth/sign-in/two-factor',
    {
      config: { public: 'the second sign-in step, proven by its challenge token' },
      schema: {
        tags,
        summary: 'Second step of sign-in: the challenge token and a TOTP code or a backup code.',
        body: z.object({
          challengeToken: z.string().min(20).max(2000),
          code: codeSchema,
          tokenDelivery: tokenDeliverySchema,
        }),
        response: { 200: signedInSchema, ...errorResponses(400, 401, 413, 415, 429) },
      },
      preHandler: authIpLimit(app, 'two-factor'),
    },
    async (request, reply) => {
      const result = await completeTwoFactorSignIn(context(), { ...request.body, ...clientOf(request) });
      return sendSignedIn(app, reply, { ...result, delivery: request.body.tokenDelivery });
    },
  );

  function refreshTokenOf(request: FastifyRequest, body: { refreshToken?: string | undefined }) {
    if (body.refreshToken) return { token: body.refreshToken, fromCookie: false };
    const cookie = request.cookies[REFRESH_COOKIE];
    return cookie ? { token: cookie, fromCookie: true } : undefined;
  }

  routes.post(
    '/api/auth/refresh',
    {
      config: { public: 'proven by the refresh token' },
      schema: {
        tags,
        summary:
          'Rotate the refresh token (body or cookie) for a new access token. A reused token ends the session.',
        body: z
          .object({
            refreshToken: z.string().min(20).max(200).optional(),
            tokenDelivery: tokenDeliverySchema,
          })
          .default({ tokenDelivery: 'cookie' }),
        response: { 200: signedInSchema, ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: authIpLimit(app, 'refresh'),
    },
    async (request, reply) => {
      const presented = refreshTokenOf(request, request.body);
      if (!presented) throw new AppError('unauthenticated', 'No refresh token: sign in again.');
      if (presented.fromCookie) {
        const sessionId = await findRefreshTokenSession(app.db, presented.token);
        if (sessionId) assertCsrf(request, app.tokenKeys, sessionId);
      }
      try {
        const tokens = await rotateRefreshToken(app.db, app.tokenKeys, {
          refreshToken: presented.token,
          ...clientOf(request),
        });
        const claims = await app.tokenKeys.verifyAccessToken(tokens.accessToken);
        return await sendSignedIn(app, reply, {
          userId: claims!.userId,
          tokens,
          delivery: presented.fromCookie ? 'cookie' : request.body.tokenDelivery,
        });
      } catch (error) {
        if (presented.fromCookie) clearSessionCookies(reply, app.env);
        throw error;
      }
    },
  );

  routes.post(
    '/api/auth/sign-out',
    {
      schema: {
        tags,
        summary: 'End the current session and clear the cookies.',
        response: { 204: z.null(), ...errorResponses(401, 403) },
      },
      preHandler: authenticate({ allowMissingTwoFactor: true }),
    },
    async (request, reply) => {
      const { userId, sessionId } = request.auth;
      if (sessionId) {
        await revokeSession(app.db, { userId, sessionId, reason: 'sign_out' });
        await recordAuditEvent(app.db, {
          type: 'sign_out',
          userId,
          ...clientOf(request),
          details: { sessionId },
        });
      }
      clearSessionCookies(reply, app.env);
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/api/auth/verify-email',
    {
      config: { public: 'proven by the emailed token' },
      schema: {
        tags,
        summary: 'Confirm an address from the link sent by email (valid 48 hours, once).',
        body: z.object({ token: tokenSchema }),
        response: { 200: messageSchema, ...errorResponses(400, 429) },
      },
      preHandler: authIpLimit(app, 'verify-email'),
    },
    async (request) => {
      await verifyEmail(context(), { token: request.body.token, ...clientOf(request) });
      return { status: 'verified', message: 'Your address is confirmed.' };
    },
  );

  routes.post(
    '/api/auth/verify-email/resend',
    {
      schema: {
        tags,
        summary: 'Send a new verification link to the signed-in account.',
        response: { 202: messageSchema, ...errorResponses(401, 403, 409, 429) },
      },
      preHandler: [
        authenticate({ allowMissingTwoFactor: true }),
        userLimit(app, 'auth', 'resend-verification'),
      ],
    },
    async (request, reply) => {
      await resendVerification(context(), { userId: request.auth.userId });
      return reply.code(202).send({ status: 'sent', message: 'A new link is on its way.' });
    },
  );

  routes.post(
    '/api/auth/password-reset/request',
    {
      config: { public: 'a forgotten password; answers alike for every address' },
      schema: {
        tags,
        summary: 'Ask for a reset link. The answer never says whether the address has an account.',
        body: z.object({ email: emailSchema }),
        response: { 202: messageSchema, ...errorResponses(400, 413, 415, 429) },
      },
      preHandler: [authIpLimit(app, 'password-reset'), authAccountLimit(app, 'password-reset')],
    },
    async (request, reply) => {
      await requestPasswordReset(context(), { email: request.body.email, ...clientOf(request) });
      return reply.code(202).send({
        status: 'sent_if_known',
        message:
          'If an account uses this address, a link to choose a new password is on its way. It is valid for one hour.',
      });
    },
  );

  routes.post(
    '/api/auth/password-reset/confirm',
    {
      config: { public: 'proven by the emailed token' },
      schema: {
        tags,
        summary: 'Choose a new password from a reset link (valid one hour, once). Every session ends.',
        body: z.object({ token: tokenSchema, password: passwordSchema }),
        response: { 200: messageSchema, ...errorResponses(400, 413, 415, 429) },
      },
      preHandler: authIpLimit(app, 'password-reset-confirm'),
    },
    async (request) => {
      await resetPassword(context(), { ...request.body, ...clientOf(request) });
      return { status: 'password_reset', message: 'Your password is changed; sign in with it.' };
    },
  );

  routes.post(
    '/api/auth/email-change/confirm',
    {
      config: { public: 'proven by the emailed token' },
      schema: {
        tags,
        summary: 'Confirm a new address from the link sent to it.',
        body: z.object({ token: tokenSchema }),
        response: { 200: messageSchema, ...errorResponses(400, 409, 429) },
      },
      preHandler: authIpLimit(app, 'email-change-confirm'),
    },
    async (request) => {
      const result = await confirmEmailChange(context(), { token: request.body.token, ...clientOf(request) });
      return { status: 'email_changed', message: `Your address is now ${result.email}.` };
    },
  );
}
