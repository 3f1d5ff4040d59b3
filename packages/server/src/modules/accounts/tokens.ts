import { createHmac, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

const ISSUER = 'webox';
const ACCESS_AUDIENCE = 'webox:api';
const CHALLENGE_AUDIENCE = 'webox:two-factor';
const ACCESS_TYPE = 'at+jwt';
const CHALLENGE_TYPE = 'mfa-challenge+jwt';
/** Only this algorithm is accepted: a token naming any other (none, HS512, RS256...) is refused before its signature is looked at. */
export const ACCESS_TOKEN_ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
}

export interface TwoFactorChallengeClaims {
  userId: string;
  /** What the first factor was, carried to the session created after the second. */
  method: string;
  /** The account's `securityVersion` when the first factor was checked: a later change makes the challenge stale. */
  securityVersion: number;
}

/** A verified challenge: its claims, plus what spending it once needs. */
export interface TwoFactorChallenge extends TwoFactorChallengeClaims {
  /** The token's own random id (`jti`), under which it is marked spent. */
  id: string;
  expiresAt: Date;
}

/** A SHA-256 hex digest: how refresh tokens, email links and backup codes are stored. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function safeEqual(left: string, right: string): boolean {
  const a = Buffer.from(left);
  const b = Buffer.from(right);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Signs and checks the server's own tokens. One root secret, with a separate key derived per purpose (HKDF), so an
 * access token can never be replayed as a 2FA challenge or a CSRF token and the other way round.
 */
export class TokenKeys {
  readonly #access: Uint8Array;
  readonly #challenge: Uint8Array;
  readonly #csrf: Buffer;
  readonly #state: Buffer;

  constructor(
    rootSecret: string,
    /** Lifetime of access tokens in seconds (at most 900). */
    readonly accessTtlSeconds: number,
  ) {
    if (rootSecret.length < 32) throw new RangeError('the auth secret must be at least 32 characters');
    if (!(accessTtlSeconds > 0 && accessTtlSeconds <= 900))
      throw new RangeError('access tokens live at most 15 minutes');
    const derive = (purpose: string) =>
      Buffer.from(hkdfSync('sha256', rootSecret, 'webox', `webox:${purpose}`, 32));
    this.#access = derive('access-token');
    this.#challenge = derive('two-factor-challenge');
    this.#csrf = derive('csrf');
    this.#state = derive('oauth-state');
  }

  async signAccessToken(claims: AccessTokenClaims): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: ACCESS_TYPE })
      .setIssuer(ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setSubject(claims.userId)
      .setIssuedAt(now)
      .setExpirationTime(now + this.accessTtlSeconds)
      .sign(this.#access);
    return { token, expiresAt: new Date((now + this.accessTtlSeconds) * 1000) };
  }

  /** The claims of a valid access token, or undefined for anything forged, expired, mistyped or malformed. */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#access, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: ISSUER,
        audience: ACCESS_AUDIENCE,
        typ: ACCESS_TYPE,
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
        maxTokenAge: this.accessTtlSeconds + 5,
        clockTolerance: 5,
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
      return { userId: payload.sub, sessionId: payload.sid };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return undefined;
      throw error;
    }
  }

  /**
   * A five-minute proof that the first factor was right, exchanged for one session once the second factor is given.
   * Its random `jti` is what marks it spent: an id inside the signed claims, not a hash of the token's text, which
   * has other spellings that verify too (the unused bits of the last base64url character of the signature).
   */
  async signTwoFactorChallenge(claims: TwoFactorChallengeClaims): Promise<string> {
    return new SignJWT({ method: claims.method, sv: claims.securityVersion })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: CHALLENGE_TYPE })
      .setJti(randomToken(16))
      .setIssuer(ISSUER)
      .setAudience(CHALLENGE_AUDIENCE)
      .setSubject(claims.userId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(this.#challenge);
  }

  /** The challenge of a valid token, or undefined for anything forged, expired, mistyped or malformed. */
  async verifyTwoFactorChallenge(token: string): Promise<TwoFactorChallenge | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#challenge, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: ISSUER,
        audience: CHALLENGE_AUDIENCE,
        typ: CHALLENGE_TYPE,
        requiredClaims: ['sub', 'exp', 'jti', 'sv'],
      });
      if (
        typeof payload.sub !== 'string' ||
        typeof payload.method !== 'string' ||
        typeof payload.jti !== 'string' ||
        typeof payload.exp !== 'number' ||
        !Number.isSafeInteger(payload.sv)
      )
        return undefined;
      return {
        userId: payload.sub,
        method: payload.method,
        securityVersion: payload.sv as number,
        id: payload.jti,
        expiresAt: new Date(payload.exp * 1000),
      };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return undefined;
      throw error;
    }
  }

  /** The CSRF token of a session: stable for the session's life, unguessable without the server secret. */
  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.#csrf).update(sessionId).digest('base64url');
  }

  /** An HMAC over OAuth state, so the callback can trust what the state cookie says. */
  signState(value: string): string {
    return createHmac('sha256', this.#state).update(value).digest('base64url');
  }
}
