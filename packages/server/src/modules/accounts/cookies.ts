import type { FastifyReply } from 'fastify';
import type { Env } from '../../config/env.js';
import { ACCESS_COOKIE, REFRESH_COOKIE } from '../../plugins/authenticate.js';
import { CSRF_COOKIE } from '../../plugins/csrf.js';
import type { IssuedTokens } from './sessions.js';

/** The refresh cookie is only sent to the endpoints that spend it. */
export const REFRESH_COOKIE_PATH = '/api/auth';

/**
 * Access cookie: httpOnly, SameSite=Lax (it must survive the top-level redirect back from an OAuth provider).
 * Refresh cookie: httpOnly, SameSite=Strict, scoped to /api/auth. CSRF cookie: readable by the page, by design.
 */
export function setSessionCookies(reply: FastifyReply, env: Env, tokens: IssuedTokens): void {
  const secure = env.COOKIE_SECURE;
  reply.setCookie(ACCESS_COOKIE, tokens.accessToken, {
    httpOnly: true,
    secure,
    sameSite: 'lax',
    path: '/',
    expires: tokens.accessTokenExpiresAt,
  });
  reply.setCookie(REFRESH_COOKIE, tokens.refreshToken, {
    httpOnly: true,
    secure,
    sameSite: 'strict',
    path: REFRESH_COOKIE_PATH,
    expires: tokens.refreshTokenExpiresAt,
  });
  reply.setCookie(CSRF_COOKIE, tokens.csrfToken, {
    httpOnly: false,
    secure,
    sameSite: 'strict',
    path: '/',
    expires: tokens.refreshTokenExpiresAt,
  });
}

export function clearSessionCookies(reply: FastifyReply, env: Env): void {
  const secure = env.COOKIE_SECURE;
  reply.clearCookie(ACCESS_COOKIE, { path: '/', httpOnly: true, secure, sameSite: 'lax' });
  reply.clearCookie(REFRESH_COOKIE, {
    path: REFRESH_COOKIE_PATH,
    httpOnly: true,
    secure,
    sameSite: 'strict',
  });
  reply.clearCookie(CSRF_COOKIE, { path: '/', secure, sameSite: 'strict' });
}
