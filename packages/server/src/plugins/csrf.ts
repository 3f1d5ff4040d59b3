import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { safeEqual, type TokenKeys } from '../modules/accounts/tokens.js';

/** Header the web app echoes the CSRF cookie in. */
export const CSRF_HEADER = 'x-csrf-token';
/** Readable (not httpOnly) cookie holding the session's CSRF token, for the web app to copy into the header. */
export const CSRF_COOKIE = 'webox_csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/**
 * Cookie-authenticated changes must carry the session's CSRF token in a header. A cross-site page can make the
 * browser send our cookies but can neither read the token nor set a custom header, so the pair proves same origin.
 * Bearer requests need no token: a browser never attaches an Authorization header by itself.
 */
export function assertCsrf(request: FastifyRequest, keys: TokenKeys, sessionId: string): void {
  if (isSafeMethod(request.method)) return;
  const presented = request.headers[CSRF_HEADER];
  if (typeof presented !== 'string' || !safeEqual(presented, keys.csrfToken(sessionId))) {
    throw new AppError(
      'csrf_invalid',
      `Send the ${CSRF_HEADER} header with the value of the ${CSRF_COOKIE} cookie.`,
    );
  }
}
