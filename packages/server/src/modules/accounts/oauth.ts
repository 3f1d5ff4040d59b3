import { CodeChallengeMethod, OAuth2Client } from 'arctic';
import { and, eq } from 'drizzle-orm';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Env } from '../../config/env.js';
import { publicUrl } from '../../config/env.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import { type SignInResult, startSession } from './auth-service.js';
import type { AccountsContext, RequestOrigin } from './context.js';
import { normaliseEmail } from './service.js';
import { oauthAccounts, users } from './tables.js';
import { revokePreviousHolder } from './takeover.js';

export const oauthProviders = ['google', 'github'] as const;
export type OAuthProviderId = (typeof oauthProviders)[number];

/** Who the provider says signed in. */
export interface OAuthIdentity {
  providerUserId: string;
  email: string | undefined;
  /** Only a verified address may create or link an account. */
  emailVerified: boolean;
  name: string;
}

/** One OAuth provider: where to send the browser, and how to turn the returned code into an identity. */
export interface OAuthProvider {
  id: OAuthProviderId;
  authorizationUrl(options: { state: string; codeVerifier: string; nonce: string }): Promise<URL>;
  identify(options: { code: string; codeVerifier: string; nonce: string }): Promise<OAuthIdentity>;
}

function redirectUri(env: Env, id: OAuthProviderId): string {
  return `${publicUrl(env)}/api/auth/oauth/${id}/callback`;
}

interface OpenIdConfiguration {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

/** Google through OpenID Connect discovery on GOOGLE_ISSUER; the ID token is verified against the issuer's keys. */
function googleProvider(env: Env, clientId: string, clientSecret: string): OAuthProvider {
  const client = new OAuth2Client(clientId, clientSecret, redirectUri(env, 'google'));
  let discovery:
    | Promise<{ config: OpenIdConfiguration; keys: ReturnType<typeof createRemoteJWKSet> }>
    | undefined;
  const discover = () => {
    discovery ??= (async () => {
      const response = await fetch(
        `${env.GOOGLE_ISSUER.replace(/\/+$/, '')}/.well-known/openid-configuration`,
      );
      if (!response.ok) throw new Error(`OpenID discovery failed with ${response.status}`);
      const config = (await response.json()) as OpenIdConfiguration;
      return { config, keys: createRemoteJWKSet(new URL(config.jwks_uri)) };
    })().catch((error: unknown) => {
      discovery = undefined;
      throw error;
    });
    return discovery;
  };
  return {
    id: 'google',
    async authorizationUrl({ state, codeVerifier, nonce }) {
      const { config } = await discover();
      const url = client.createAuthorizationURLWithPKCE(
        config.authorization_endpoint,
        state,
        CodeChallengeMethod.S256,
        codeVerifier,
        ['openid', 'email', 'profile'],
      );
      url.searchParams.set('nonce', nonce);
      return url;
    },
    async identify({ code, codeVerifier, nonce }) {
      const { config, keys } = await discover();
      const tokens = await client.validateAuthorizationCode(config.token_endpoint, code, codeVerifier);
      const { payload } = await jwtVerify(tokens.idToken(), keys, {
        issuer: config.issuer,
        audience: clientId,
        algorithms: ['RS256', 'ES256', 'EdDSA'],
      });
      if (payload.nonce !== nonce) throw new Error('the ID token nonce does not match');
      return {
        providerUserId: String(payload.sub),
        email: typeof payload.email === 'string' ? payload.email : undefined,
        emailVerified: payload.email_verified === true,
        name: typeof payload.name === 'string' ? payload.name : '',
      };
    },
  };
}

/** GitHub OAuth apps: the address comes from /user/emails, primary and verified only. */
function githubProvider(env: Env, clientId: string, clientSecret: string): OAuthProvider {
  const client = new OAuth2Client(clientId, clientSecret, redirectUri(env, 'github'));
  const web = env.GITHUB_URL.replace(/\/+$/, '');
  const api = env.GITHUB_API_URL.replace(/\/+$/, '');
  const get = async <T>(path: string, accessToken: string): Promise<T> => {
    const response = await fetch(`${api}${path}`, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/vnd.github+json',
        'user-agent': 'WeBox',
      },
    });
    if (!response.ok) throw new Error(`GitHub ${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    id: 'github',
    async authorizationUrl({ state, codeVerifier }) {
      return client.createAuthorizationURLWithPKCE(
        `${web}/login/oauth/authorize`,
        state,
        CodeChallengeMethod.S256,
        codeVerifier,
        ['read:user', 'user:email'],
      );
    },
    async identify({ code, codeVerifier }) {
      const tokens = await client.validateAuthorizationCode(
        `${web}/login/oauth/access_token`,
        code,
        codeVerifier,
      );
      const user = await get<{ id: number; login: string; name: string | null }>(
        '/user',
        tokens.accessToken(),
      );
      const emails = await get<Array<{ email: string; primary: boolean; verified: boolean }>>(
        '/user/emails',
        tokens.accessToken(),
      );
      const primary = emails.find((entry) => entry.primary && entry.verified);
      return {
        providerUserId: String(user.id),
        email: primary?.email,
        emailVerified: Boolean(primary),
        name: user.name ?? user.login,
      };
    },
  };
}

/** The providers configured in the environment (client id and secret both set). */
export function configuredOAuthProviders(env: Env): Map<OAuthProviderId, OAuthProvider> {
  const providers = new Map<OAuthProviderId, OAuthProvider>();
  if (env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET) {
    providers.set('google', googleProvider(env, env.GOOGLE_CLIENT_ID, env.GOOGLE_CLIENT_SECRET));
  }
  if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) {
    providers.set('github', githubProvider(env, env.GITHUB_CLIENT_ID, env.GITHUB_CLIENT_SECRET));
  }
  return providers;
}

/**
 * The account an unlinked provider identity with this verified address belongs to: the one holding the address
 * (taken over when its address was never verified), or a new one. When another account takes the address between the
 * look-up and the creation (a sign-up, an email change or another provider at the same moment), the creation gives
 * way and the identity goes to that account, as it would have a moment later.
 */
async function accountForVerifiedAddress(
  context: AccountsContext,
  options: { provider: OAuthProviderId; identity: OAuthIdentity; email: string } & RequestOrigin,
): Promise<string> {
  const { db } = context;
  const { provider, identity, email } = options;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [existing] = await db.select().from(users).where(eq(users.email, email)).limit(1);
    if (existing) {
      if (existing.status !== 'active') throw new AppError('forbidden', 'This account cannot sign in.');
      if (!existing.emailVerifiedAt) {
        await db
          .update(users)
          .set({ emailVerifiedAt: new Date(), passwordHash: null, updatedAt: new Date() })
          .where(eq(users.id, existing.id));
        await revokePreviousHolder(db, context.stores.pubSub, {
          userId: existing.id,
          reason: 'oauth_took_over_unverified',
          scope: 'everything',
        });
      }
      await recordAuditEvent(db, {
        type: 'oauth.linked',
        userId: existing.id,
        ip: options.ip,
        userAgent: options.userAgent,
        details: { provider },
      });
      return existing.id;
    }
    const [created] = await db
      .insert(users)
      .values({ email, name: identity.name.slice(0, 120), emailVerifiedAt: new Date() })
      .onConflictDoNothing({ target: users.email })
      .returning({ id: users.id });
    if (created) {
      await recordAuditEvent(db, {
        type: 'oauth.signed_up',
        userId: created.id,
        ip: options.ip,
        userAgent: options.userAgent,
        details: { provider },
      });
      return created.id;
    }
  }
  // Taken at each creation yet gone at each look-up: addresses moving that fast are not worth a fourth try.
  throw new AppError('conflict', 'This address is changing hands; try again.');
}

/**
 * Signs in from a provider identity. A known link signs in; otherwise the provider's address must be verified: it
 * links to the account with that address, or creates one. Linking to an account whose address was never verified
 * (possibly pre-registered by someone else) takes it over cleanly: the password, every session and key, 2FA, provider
 * keys and organisation memberships of its previous holder are dropped (`revokePreviousHolder`).
 */
export async function signInWithOAuth(
  context: AccountsContext,
  options: { provider: OAuthProviderId; identity: OAuthIdentity } & RequestOrigin,
): Promise<SignInResult> {
  const { db } = context;
  const { identity, provider } = options;
  const [linked] = await db
    .select({ userId: oauthAccounts.userId })
    .from(oauthAccounts)
    .where(
      and(eq(oauthAccounts.provider, provider), eq(oauthAccounts.providerUserId, identity.providerUserId)),
    )
    .limit(1);
  let userId = linked?.userId;
  if (!userId) {
    if (!identity.email || !identity.emailVerified) {
      throw new AppError(
        'forbidden',
        `Your ${provider} account has no verified email address to sign in with.`,
      );
    }
    const email = normaliseEmail(identity.email);
    userId = await accountForVerifiedAddress(context, { ...options, email });
    await db
      .insert(oauthAccounts)
      .values({ provider, providerUserId: identity.providerUserId, userId, email })
      .onConflictDoNothing();
  }
  const [user] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (user?.status !== 'active') throw new AppError('forbidden', 'This account cannot sign in.');
  if (user.totpEnabledAt) {
    return {
      kind: 'two_factor',
      challengeToken: await context.keys.signTwoFactorChallenge({
        userId,
        method: `oauth:${provider}`,
        securityVersion: user.securityVersion,
      }),
    };
  }
  return {
    kind: 'session',
    userId,
    tokens: await startSession(context, userId, `oauth:${provider}`, options),
  };
}
