import { generateCodeVerifier, generateState } from 'arctic';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { clientOf } from './audit.js';
import { accountsContext } from './context.js';
import { setSessionCookies } from './cookies.js';
import { configuredOAuthProviders, oauthProviders, signInWithOAuth } from './oauth.js';
import { authIpLimit } from './rate-limits.js';
import { randomToken, safeEqual } from './tokens.js';

const STATE_COOKIE = 'webox_oauth';
const STATE_PATH = '/api/auth/oauth';

interface PendingAuthorisation {
  provider: string;
  state: string;
  codeVerifier: string;
  nonce: string;
  redirect: string;
  expiresAt: number;
}

/** Only same-site paths: an open redirect would hand the session to another site. */
const redirectPath = z
  .string()
  .max(500)
  .regex(/^\/(?![/\\])[^\s]*$/, 'a path on this site, such as /studio')
  .default('/');

/** OAuth sign-in: start sends the browser to the provider, callback signs in and returns to the app. */
export async function oauthRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const providers = configuredOAuthProviders(app.env);
  const tags = ['auth'];
  const providerParam = z.object({ provider: z.enum(oauthProviders) });

  function seal(pending: PendingAuthorisation): string {
    const body = Buffer.from(JSON.stringify(pending)).toString('base64url');
    return `${body}.${app.tokenKeys.signState(body)}`;
  }

  function unseal(value: string | undefined): PendingAuthorisation | undefined {
    if (!value) return undefined;
    const [body, signature] = value.split('.');
    if (!body || !signature || !safeEqual(signature, app.tokenKeys.signState(body))) return undefined;
    const pending = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as PendingAuthorisation;
    return pending.expiresAt > Date.now() ? pending : undefined;
  }

  function backToApp(reply: FastifyReply, path: string, fragment?: Record<string, string>) {
    reply.clearCookie(STATE_COOKIE, { path: STATE_PATH });
    const hash = fragment ? `#${new URLSearchParams(fragment).toString()}` : '';
    return reply.redirect(`${path}${hash}`, 303);
  }

  routes.get(
    '/api/auth/oauth/providers',
    {
      config: { public: 'the sign-in page lists them' },
      schema: {
        tags,
        summary: 'The OAuth providers this server is configured for.',
        response: { 200: z.object({ providers: z.array(z.enum(oauthProviders)) }) },
      },
    },
    async () => ({ providers: [...providers.keys()] }),
  );

  routes.get(
    '/api/auth/oauth/:provider/start',
    {
      config: { public: 'signing in with Google or GitHub' },
      schema: {
        tags,
        summary: 'Start signing in with Google or GitHub: redirects to the provider.',
        params: providerParam,
        querystring: z.object({ redirect: redirectPath }),
        response: { 302: z.null(), ...errorResponses(400, 404, 429) },
      },
      preHandler: authIpLimit(app, 'oauth'),
    },
    async (request, reply) => {
      const provider = providers.get(request.params.provider);
      if (!provider)
        throw new AppError('not_found', `Sign-in with ${request.params.provider} is not configured.`);
      const pending: PendingAuthorisation = {
        provider: provider.id,
        state: generateState(),
        codeVerifier: generateCodeVerifier(),
        nonce: randomToken(16),
        redirect: request.query.redirect,
        expiresAt: Date.now() + 10 * 60_000,
      };
      const url = await provider.authorizationUrl(pending);
      reply.setCookie(STATE_COOKIE, seal(pending), {
        httpOnly: true,
        secure: app.env.COOKIE_SECURE,
        // Lax: the provider sends the browser back with a top-level GET from its own site.
        sameSite: 'lax',
        path: STATE_PATH,
        maxAge: 600,
      });
      return reply.redirect(url.toString(), 302);
    },
  );

  routes.get(
    '/api/auth/oauth/:provider/callback',
    {
      config: { public: "proven by the signed state cookie and the provider's code" },
      schema: {
        tags,
        summary:
          'Where the provider returns; signs in and redirects to the app (errors go in the URL fragment).',
        params: providerParam,
        querystring: z.object({
          code: z.string().max(2000).optional(),
          state: z.string().max(200).optional(),
          error: z.string().max(200).optional(),
        }),
        response: { 303: z.null(), ...errorResponses(400, 429) },
      },
      preHandler: authIpLimit(app, 'oauth'),
    },
    async (request, reply) => {
      const provider = providers.get(request.params.provider);
      const pending = unseal(request.cookies[STATE_COOKIE]);
      const { code, state } = request.query;
      if (
        !provider ||
        !pending ||
        pending.provider !== provider.id ||
        !state ||
        !safeEqual(state, pending.state) ||
        !code
      ) {
        return backToApp(reply, '/sign-in', { error: 'oauth_failed' });
      }
      let identity: Awaited<ReturnType<typeof provider.identify>>;
      try {
        identity = await provider.identify({
          code,
          codeVerifier: pending.codeVerifier,
          nonce: pending.nonce,
        });
      } catch (error) {
        request.log.warn({ provider: provider.id, err: error }, 'OAuth code exchange failed');
        return backToApp(reply, '/sign-in', { error: 'oauth_failed' });
      }
      try {
        const result = await signInWithOAuth(accountsContext(app), {
          provider: provider.id,
          identity,
          ...clientOf(request),
        });
        if (result.kind === 'two_factor') {
          // In the fragment: it never reaches a server log or a Referer header.
          return backToApp(reply, '/sign-in', {
            challenge: result.challengeToken,
            redirect: pending.redirect,
          });
        }
        setSessionCookies(reply, app.env, result.tokens);
        return backToApp(reply, pending.redirect);
      } catch (error) {
        if (error instanceof AppError && error.status < 500) {
          return backToApp(reply, '/sign-in', { error: 'oauth_refused' });
        }
        throw error;
      }
    },
  );
}
