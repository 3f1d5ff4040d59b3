import cookie from '@fastify/cookie';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { getSecurityPolicy } from '../modules/accounts/policy.js';
import { getOrCreateServerSecret } from '../modules/accounts/server-secrets.js';
import { sessions, type UserRole, userRoles, users } from '../modules/accounts/tables.js';
import { randomToken, TokenKeys } from '../modules/accounts/tokens.js';
import { assertCsrf } from './csrf.js';
import { declareAccess } from './route-access.js';

/** Who is calling, set by `authenticate()` on the request. */
export interface AuthContext {
  userId: string;
  role: UserRole;
  /** The signed-in session (cookie or bearer access token); absent for virtual keys. */
  sessionId?: string;
  /** The virtual key used, when `via` is `virtual_key`. */
  keyId?: string;
  via: 'cookie' | 'bearer' | 'virtual_key';
}

/** What the gateway module answers for a `wbx_` key: its owner and id, or undefined when unknown or revoked. */
export type VirtualKeyVerifier = (
  token: string,
) => Promise<{ userId: string; role: UserRole; keyId: string } | undefined>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Signing and checking of access tokens, 2FA challenges, CSRF tokens and OAuth state. */
    tokenKeys: TokenKeys;
    /** Resolves a virtual key (prefix `wbx_`); the gateway module replaces the default, which knows none. */
    verifyVirtualKey: VirtualKeyVerifier;
  }
  interface FastifyRequest {
    /** Set by the `authenticate()` preHandler; only read it on routes that declare it. */
    auth: AuthContext;
  }
}

export const ACCESS_COOKIE = 'webox_access';
export const REFRESH_COOKIE = 'webox_refresh';
export const VIRTUAL_KEY_PREFIX = 'wbx_';

/**
 * Registers cookies, the token keys (AUTH_SECRET, or a secret generated once and kept in the database so every
 * process of a deployment shares it) and the virtual-key extension point. Call once, on the root instance.
 */
export async function registerAuthentication(app: FastifyInstance): Promise<void> {
  // Idempotent: app.ts and registerAccounts may both call it.
  if (app.hasDecorator('tokenKeys')) return;
  await app.register(cookie);
  const secret =
    app.env.AUTH_SECRET ?? (await getOrCreateServerSecret(app.db, 'auth_secret', () => randomToken(48)));
  app.decorate('tokenKeys', new TokenKeys(secret, app.env.ACCESS_TOKEN_TTL_SECONDS));
  app.decorate('verifyVirtualKey', (async () => undefined) as VirtualKeyVerifier);
  app.decorateRequest('auth', null as unknown as AuthContext);
}

export interface AuthenticateOptions {
  /** Roles allowed to call the route (default: any signed-in account). */
  roles?: readonly UserRole[];
  /** Accept `wbx_` virtual keys as Bearer tokens (default false: account and admin routes need a person). */
  virtualKeys?: boolean;
  /**
   * Let staff who must enrol in 2FA (admin policy) reach this route before they have; only the 2FA enrolment,
   * profile read and sign-out routes set it (default false).
   */
  allowMissingTwoFactor?: boolean;
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * A preHandler that identifies the caller from a Bearer token (access token or virtual key) or the access cookie,
 * then checks the role. Throws 401 `unauthenticated` or 403 `forbidden`. The session is looked up on every call,
 * so a revoked session, a disabled account or a role change takes effect at once, not when the token expires.
 */
export function authenticate(options: AuthenticateOptions = {}) {
  const roles = options.roles ? new Set<UserRole>(options.roles) : undefined;
  for (const role of roles ?? []) {
    if (!userRoles.includes(role)) throw new RangeError(`unknown role ${role}`);
  }
  if (roles?.size === 0) throw new RangeError('roles, when given, must name at least one role');

  const authenticateHandler = async (request: FastifyRequest, _reply: FastifyReply) => {
    const app = request.server;
    const bearer = bearerToken(request);
    let auth: AuthContext | undefined;

    if (bearer?.startsWith(VIRTUAL_KEY_PREFIX)) {
      if (!options.virtualKeys) {
        throw new AppError('unauthenticated', 'Virtual keys are for the /v1 API; sign in to use this route.');
      }
      const key = await app.verifyVirtualKey(bearer);
      if (!key) throw new AppError('unauthenticated', 'This API key is unknown or revoked.');
      auth = { userId: key.userId, role: key.role, keyId: key.keyId, via: 'virtual_key' };
    } else {
      const token = bearer ?? request.cookies[ACCESS_COOKIE];
      if (!token) throw new AppError('unauthenticated', 'Sign in first.');
      const claims = await app.tokenKeys.verifyAccessToken(token);
      if (!claims) throw new AppError('unauthenticated', 'The access token is invalid or expired.');
      const [row] = await app.db
        .select({ role: users.role, totpEnabledAt: users.totpEnabledAt })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(
          and(
            eq(sessions.id, claims.sessionId),
            eq(sessions.userId, claims.userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, new Date()),
            eq(users.status, 'active'),
          ),
        )
        .limit(1);
      if (!row) throw new AppError('unauthenticated', 'This session has ended; sign in again.');
      auth = {
        userId: claims.userId,
        role: row.role,
        sessionId: claims.sessionId,
        via: bearer ? 'bearer' : 'cookie',
      };
      if (auth.via === 'cookie') assertCsrf(request, app.tokenKeys, claims.sessionId);
      if (
        !options.allowMissingTwoFactor &&
        !row.totpEnabledAt &&
        (row.role === 'admin' || row.role === 'support') &&
        (await getSecurityPolicy(app.db, app.env)).requireTwoFactorForStaff
      ) {
        throw new AppError(
          'two_factor_required',
          'Your role requires two-factor authentication: enable it in your security settings first.',
        );
      }
    }

    if (roles && !roles.has(auth.role)) {
      throw new AppError('forbidden', 'Your role does not allow this.');
    }
    request.auth = auth;
  };
  return declareAccess(authenticateHandler, {
    kind: 'signed_in',
    ...(options.roles ? { roles: [...options.roles] } : {}),
    virtualKeys: options.virtualKeys ?? false,
    allowMissingTwoFactor: options.allowMissingTwoFactor ?? false,
  });
}
