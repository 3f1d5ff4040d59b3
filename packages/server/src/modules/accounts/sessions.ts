import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import { refreshTokens, sessions, users } from './tables.js';
import { hashToken, randomToken, type TokenKeys } from './tokens.js';

/** What a client receives when a session starts or its refresh token rotates. */
export interface IssuedTokens {
  sessionId: string;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  csrfToken: string;
}

export interface CreateSessionOptions {
  userId: string;
  method: string;
  ip?: string | null;
  userAgent?: string | null;
  ttlDays: number;
  /**
   * Opens the session only while the account is active and its `securityVersion` is still this one (a 2FA challenge's):
   * the row is share-locked while the session is written, so a change racing it either lands first and refuses the
   * session, or waits for it and then revokes it with the others.
   */
  securityVersion?: number | undefined;
}

/** A session refused because the proof it was opened with predates a security change (see `securityVersion`). */
export class StaleProofError extends Error {}

const REFRESH_PREFIX = 'wbr_';

export async function createSession(
  db: Database,
  keys: TokenKeys,
  options: CreateSessionOptions,
): Promise<IssuedTokens> {
  const expiresAt = new Date(Date.now() + options.ttlDays * 86_400_000);
  const refreshToken = REFRESH_PREFIX + randomToken();
  const session = await db.transaction(async (transaction) => {
    if (options.securityVersion !== undefined) {
      const [account] = await transaction
        .select({ status: users.status, securityVersion: users.securityVersion })
        .from(users)
        .where(eq(users.id, options.userId))
        .for('share');
      if (account?.status !== 'active' || account.securityVersion !== options.securityVersion)
        throw new StaleProofError('the account changed since the proof was given');
    }
    const [created] = await transaction
      .insert(sessions)
      .values({
        userId: options.userId,
        method: options.method,
        ip: options.ip ?? null,
        userAgent: options.userAgent?.slice(0, 512) ?? null,
        expiresAt,
      })
      .returning();
    await transaction
      .insert(refreshTokens)
      .values({ tokenHash: hashToken(refreshToken), sessionId: created!.id });
    return created!;
  });
  return issue(keys, options.userId, session.id, refreshToken, expiresAt);
}

async function issue(
  keys: TokenKeys,
  userId: string,
  sessionId: string,
  refreshToken: string,
  refreshTokenExpiresAt: Date,
): Promise<IssuedTokens> {
  const access = await keys.signAccessToken({ userId, sessionId });
  return {
    sessionId,
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken,
    refreshTokenExpiresAt,
    csrfToken: keys.csrfToken(sessionId),
  };
}

/** The session a refresh token belongs to, without spending it (for the CSRF check before rotation). */
export async function findRefreshTokenSession(
  db: Database,
  refreshToken: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ sessionId: refreshTokens.sessionId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, hashToken(refreshToken)))
    .limit(1);
  return row?.sessionId;
}

/**
 * Spends a refresh token and issues the next one of its family. A token seen a second time means two parties hold
 * it (one of them a thief): the whole session is revoked and both must sign in again.
 */
export async function rotateRefreshToken(
  db: Database,
  keys: TokenKeys,
  options: { refreshToken: string; ip?: string | null; userAgent?: string | null },
): Promise<IssuedTokens> {
  const tokenHash = hashToken(options.refreshToken);
  const next = REFRESH_PREFIX + randomToken();
  const outcome = await db.transaction(async (transaction) => {
    const [row] = await transaction
      .select({
        sessionId: refreshTokens.sessionId,
        usedAt: refreshTokens.usedAt,
        userId: sessions.userId,
        revokedAt: sessions.revokedAt,
        expiresAt: sessions.expiresAt,
        status: users.status,
      })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
      .limit(1);
    if (!row) return { kind: 'unknown' as const };
    if (row.revokedAt || row.expiresAt <= new Date() || row.status !== 'active') {
      return { kind: 'ended' as const };
    }
    // The conditional update is the arbiter between concurrent presentations of one token: only one spends it.
    const spent = await transaction
      .update(refreshTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.usedAt)))
      .returning({ tokenHash: refreshTokens.tokenHash });
    if (spent.length === 0) return { kind: 'reused' as const, sessionId: row.sessionId, userId: row.userId };
    await transaction.insert(refreshTokens).values({ tokenHash: hashToken(next), sessionId: row.sessionId });
    await transaction
      .update(sessions)
      .set({
        lastUsedAt: new Date(),
        ip: options.ip ?? null,
        userAgent: options.userAgent?.slice(0, 512) ?? null,
      })
      .where(eq(sessions.id, row.sessionId));
    return { kind: 'rotated' as const, row };
  });

  if (outcome.kind === 'reused') {
    await revokeSession(db, {
      userId: outcome.userId,
      sessionId: outcome.sessionId,
      reason: 'refresh_reuse',
    });
    await recordAuditEvent(db, {
      type: 'session.refresh_reused',
      userId: outcome.userId,
      ip: options.ip ?? null,
      userAgent: options.userAgent ?? null,
      details: { sessionId: outcome.sessionId },
    });
    throw new AppError(
      'unauthenticated',
      'This refresh token was already used; the session has been ended for safety. Sign in again.',
    );
  }
  if (outcome.kind !== 'rotated')
    throw new AppError('unauthenticated', 'This session has ended; sign in again.');
  return issue(keys, outcome.row.userId, outcome.row.sessionId, next, outcome.row.expiresAt);
}

export async function revokeSession(
  db: Database,
  options: { userId: string; sessionId: string; reason: string },
): Promise<boolean> {
  const revoked = await db
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: options.reason })
    .where(
      and(
        eq(sessions.id, options.sessionId),
        eq(sessions.userId, options.userId),
        isNull(sessions.revokedAt),
      ),
    )
    .returning({ id: sessions.id });
  return revoked.length > 0;
}

/**
 * Ends every session of an account, optionally keeping the caller's, and every sign-in still waiting for its second
 * factor (the account's `securityVersion` moves first, so a session that a pending challenge opens meanwhile is either
 * refused or already there to be revoked). Returns how many sessions ended.
 */
export async function revokeAllSessions(
  db: Database,
  options: { userId: string; exceptSessionId?: string | undefined; reason: string },
): Promise<number> {
  await raiseSecurityVersion(db, options.userId);
  const conditions = [eq(sessions.userId, options.userId), isNull(sessions.revokedAt)];
  if (options.exceptSessionId) conditions.push(ne(sessions.id, options.exceptSessionId));
  const revoked = await db
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: options.reason })
    .where(and(...conditions))
    .returning({ id: sessions.id });
  return revoked.length;
}

/** Makes every pending 2FA sign-in challenge of the account stale (see `users.securityVersion`). */
export async function raiseSecurityVersion(db: Database, userId: string): Promise<void> {
  await db
    .update(users)
    .set({ securityVersion: sql`${users.securityVersion} + 1` })
    .where(eq(users.id, userId));
}

export interface SessionView {
  id: string;
  method: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

export async function listSessions(
  db: Database,
  options: { userId: string; currentSessionId?: string | undefined },
): Promise<SessionView[]> {
  const rows = await db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, options.userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, new Date()),
      ),
    )
    .orderBy(desc(sessions.lastUsedAt));
  return rows.map((row) => ({
    id: row.id,
    method: row.method,
    ip: row.ip,
    userAgent: row.userAgent,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    current: row.id === options.currentSessionId,
  }));
}
