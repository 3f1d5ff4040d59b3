import { and, eq, gt } from 'drizzle-orm';
import { publicUrl } from '../../config/env.js';
import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import type { AccountsContext, RequestOrigin } from './context.js';
import { consumeEmailToken, issueEmailToken } from './email-tokens.js';
import { assertStrongPassword } from './password-policy.js';
import { assertCurrentPassword, hashPassword, verifyPassword } from './passwords.js';
import { findAccountRow, mailAccount, normaliseEmail } from './service.js';
import { createSession, type IssuedTokens, revokeAllSessions, StaleProofError } from './sessions.js';
import {
  type AttemptBudget,
  passwordBudget,
  signInThrottle,
  throttled,
  twoFactorBudget,
} from './sign-in-throttle.js';
import { emailTokens, type Locale, users } from './tables.js';
import { revokePreviousHolder } from './takeover.js';
import { hashToken, randomToken } from './tokens.js';
import { verifySecondFactor } from './two-factor.js';

const VERIFY_EMAIL_TTL_MS = 48 * 3_600_000;
const RESET_PASSWORD_TTL_MS = 3_600_000;

export const PASSWORD_RESET_JOB = 'accounts.password-reset';
export const SIGN_UP_MAIL_JOB = 'accounts.sign-up-mail';
const UNIQUE_VIOLATION = '23505';

// A hash of a random password, verified against when an address is unknown, so both paths cost one argon2 run.
let dummyHash: Promise<string> | undefined;
function timingDummy(): Promise<string> {
  dummyHash ??= hashPassword(randomToken());
  return dummyHash;
}

/**
 * Makes the dummy hash before the server answers anyone (the accounts plugin calls it when the app is ready): made on
 * demand, the first unknown address a process is asked about would cost a hash more than a known one.
 */
export async function prepareTimingDummy(): Promise<void> {
  await timingDummy();
}

function link(context: AccountsContext, path: string, token?: string): string {
  return `${publicUrl(context.env)}${path}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

export interface SignUpOptions extends RequestOrigin {
  email: string;
  password: string;
  name: string;
  locale: Locale;
}

/**
 * Creates an account, or, when the address already has one, tells its owner by email instead. The answer is the same
 * in both cases and the slow work (password hashing) happens in both, so sign-up does not reveal who has an account.
 */
export async function signUp(context: AccountsContext, options: SignUpOptions): Promise<void> {
  const email = normaliseEmail(options.email);
  assertStrongPassword(options.password, { email, name: options.name });
  const passwordHash = await hashPassword(options.password);
  const [created] = await context.db
    .insert(users)
    .values({
      email,
      name: options.name,
      passwordHash,
      locale: options.locale,
      passwordChangedAt: new Date(),
    })
    .onConflictDoNothing({ target: users.email })
    .returning({ id: users.id });
  if (created) {
    await recordAuditEvent(context.db, {
      type: 'sign_up',
      userId: created.id,
      ip: options.ip,
      userAgent: options.userAgent,
    });
  }
  // The email goes out from a job in both cases, so the response time does not depend on which one it is.
  await context.stores.jobs.enqueue(SIGN_UP_MAIL_JOB, {
    email,
    created: Boolean(created),
    locale: options.locale,
  });
}

/** The job behind sign-up: a verification link for a new account, a notice for an existing one. */
export async function sendSignUpMail(
  context: AccountsContext,
  options: { email: string; created: boolean; locale: Locale },
): Promise<void> {
  const [user] = await context.db.select().from(users).where(eq(users.email, options.email)).limit(1);
  if (user?.status !== 'active') return;
  if (options.created) {
    await sendVerificationEmail(context, user);
    return;
  }
  await context.mailer.send({
    to: user.email,
    template: 'account_exists',
    locale: user.locale,
    data: {
      name: user.name,
      resetLink: link(context, '/forgot-password'),
      signInLink: link(context, '/sign-in'),
    },
  });
}

async function sendVerificationEmail(context: AccountsContext, user: typeof users.$inferSelect) {
  const token = await issueEmailToken(context.db, {
    userId: user.id,
    purpose: 'verify_email',
    email: user.email,
    ttlMs: VERIFY_EMAIL_TTL_MS,
  });
  await mailAccount(context, user, 'verify_email', { link: link(context, '/verify-email', token) });
}

/** Sends a new verification link to a signed-in account whose address is not verified yet. */
export async function resendVerification(
  context: AccountsContext,
  options: { userId: string },
): Promise<void> {
  const user = await findAccountRow(context.db, options.userId);
  if (user.emailVerifiedAt) throw new AppError('conflict', 'This address is already verified.');
  await sendVerificationEmail(context, user);
}

export async function verifyEmail(
  context: AccountsContext,
  options: { token: string } & RequestOrigin,
): Promise<{ userId: string }> {
  const row = await consumeEmailToken(context.db, options.token, 'verify_email');
  if (!row)
    throw new AppError('token_invalid', 'This link is unknown, already used or expired; ask for a new one.');
  // The link proves the address it was sent to: if the account's address changed since, it proves nothing.
  const verified = await context.db
    .update(users)
    .set({ emailVerifiedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(users.id, row.userId), eq(users.email, row.email)))
    .returning({ id: users.id });
  if (verified.length === 0)
    throw new AppError('token_invalid', 'This link is for an address the account no longer uses.');
  await recordAuditEvent(context.db, {
    type: 'email.verified',
    userId: row.userId,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  return { userId: row.userId };
}

export type SignInResult =
  | { kind: 'session'; userId: string; tokens: IssuedTokens }
  | { kind: 'two_factor'; challengeToken: string };

/** Where a sign-in step's attempts count: failures and waits under `throttleKey`, the hard cap in `budget`. */
interface AttemptGuard {
  throttleKey: string;
  budget: AttemptBudget;
  budgetKey: string;
}

/**
 * The guarded sequence around a sign-in step's secret check, one for the password and the second factor so they
 * cannot drift: refused while the throttle makes the key wait or has locked it; then an attempt taken from the budget
 * in one atomic step before `check` runs, so a burst of parallel guesses cannot all be checked before the first
 * failure is counted. `check` answers undefined for a failure: it is counted in the throttle's atomic counter and
 * `failed` (which records it) gives the error to throw. A success clears the throttle and gives its attempt back.
 */
async function guardedAttempt<T>(
  context: AccountsContext,
  guard: AttemptGuard,
  check: () => Promise<T | undefined>,
  failed: (failure: { failures: number; locked: boolean }) => Promise<AppError>,
): Promise<T> {
  const throttle = signInThrottle(context);
  const decision = await throttle.check(guard.throttleKey);
  if (!decision.allowed) throw throttled(decision.retryAfterMs, decision.reason === 'locked');
  const attempt = await guard.budget.take(guard.budgetKey);
  if (!attempt.allowed) throw throttled(attempt.retryAfterMs, true);
  const result = await check();
  if (result === undefined) throw await failed(await throttle.recordFailure(guard.throttleKey));
  await throttle.clear(guard.throttleKey);
  await guard.budget.giveBack(guard.budgetKey);
  return result;
}

/**
 * Checks an address and password. Unknown address, wrong password and inactive account give one answer, after the
 * same argon2 work; failures are counted per address (known or not) with growing waits and then a lock. Each check
 * first takes an attempt from the address's budget, so a burst of parallel guesses cannot all be checked before the
 * first failure is counted.
 */
export async function signIn(
  context: AccountsContext,
  options: { email: string; password: string } & RequestOrigin,
): Promise<SignInResult> {
  const email = normaliseEmail(options.email);
  let user: typeof users.$inferSelect | undefined;
  const signedIn = await guardedAttempt(
    context,
    { throttleKey: email, budget: passwordBudget(context), budgetKey: hashToken(email) },
    async () => {
      [user] = await context.db.select().from(users).where(eq(users.email, email)).limit(1);
      const passwordOk = await verifyPassword(user?.passwordHash ?? (await timingDummy()), options.password);
      return user && passwordOk && user.status === 'active' && user.passwordHash ? user : undefined;
    },
    async (failure) => {
      await recordAuditEvent(context.db, {
        type: failure.locked ? 'sign_in.locked' : 'sign_in.failed',
        userId: user?.id ?? null,
        ip: options.ip,
        userAgent: options.userAgent,
        details: { reason: 'credentials', failures: failure.failures },
      });
      if (failure.locked) return throttled(signInThrottle(context).lockMs, true);
      return wrongCredentials();
    },
  );
  if (signedIn.totpEnabledAt) {
    return {
      kind: 'two_factor',
      challengeToken: await context.keys.signTwoFactorChallenge({
        userId: signedIn.id,
        method: 'password',
        securityVersion: signedIn.securityVersion,
      }),
    };
  }
  return {
    kind: 'session',
    userId: signedIn.id,
    tokens: await startSession(context, signedIn.id, 'password', options),
  };
}

function wrongCredentials(): AppError {
  return new AppError('invalid_credentials', 'The email address or the password is not right.');
}

/** `securityVersion`: open the session only if the account has not changed since a challenge was issued. */
async function startSession(
  context: AccountsContext,
  userId: string,
  method: string,
  origin: RequestOrigin,
  securityVersion?: number,
) {
  const tokens = await createSession(context.db, context.keys, {
    userId,
    method,
    ip: origin.ip ?? null,
    userAgent: origin.userAgent ?? null,
    ttlDays: context.env.SESSION_TTL_DAYS,
    securityVersion,
  });
  await recordAuditEvent(context.db, {
    type: 'sign_in.succeeded',
    userId,
    ip: origin.ip,
    userAgent: origin.userAgent,
    details: { method, sessionId: tokens.sessionId },
  });
  // A sign-in cancels a pending deletion: the grace period exists for exactly this.
  await context.db
    .update(users)
    .set({ deletionScheduledFor: null })
    .where(and(eq(users.id, userId), gt(users.deletionScheduledFor, new Date(0))));
  return tokens;
}

export { startSession };

function challengeExpired(): AppError {
  return new AppError('unauthenticated', 'This sign-in attempt expired; enter your password again.');
}

/**
 * Second step of a sign-in with 2FA: the challenge from the first step plus a TOTP or backup code. A challenge opens
 * one session: once it has, it is refused like an expired one, in every process. It is refused the same way, before
 * any code is checked, once the account's `securityVersion` moved since it was issued (a new password, 2FA off or
 * enrolled again, the account disabled, every session revoked); an account no longer active gets the password step's
 * own answer for it.
 */
export async function completeTwoFactorSignIn(
  context: AccountsContext,
  options: { challengeToken: string; code: string } & RequestOrigin,
): Promise<{ userId: string; tokens: IssuedTokens }> {
  const challenge = await context.keys.verifyTwoFactorChallenge(options.challengeToken);
  if (!challenge) throw challengeExpired();
  const spentKey = `two-factor-challenge:${challenge.id}`;
  // A spent challenge is refused before it takes an attempt or a code is checked.
  if ((await context.stores.counters.get(spentKey)) > 0) throw challengeExpired();
  const [account] = await context.db
    .select({ status: users.status, securityVersion: users.securityVersion })
    .from(users)
    .where(eq(users.id, challenge.userId))
    .limit(1);
  // What the password step now answers for this account, no more: the challenge's holder knew its password.
  if (account?.status !== 'active') throw wrongCredentials();
  if (account.securityVersion !== challenge.securityVersion) throw challengeExpired();
  // Budgeted per account: parallel guesses on one challenge cannot all be evaluated.
  const factor = await guardedAttempt(
    context,
    { throttleKey: `2fa:${challenge.userId}`, budget: twoFactorBudget(context), budgetKey: challenge.userId },
    () => verifySecondFactor(context, { userId: challenge.userId, code: options.code }),
    async (failure) => {
      await recordAuditEvent(context.db, {
        type: 'sign_in.two_factor_failed',
        userId: challenge.userId,
        ip: options.ip,
        userAgent: options.userAgent,
        details: { failures: failure.failures },
      });
      return new AppError('two_factor_invalid', 'That code is not right.');
    },
  );
  // Spent only now, so a wrong code leaves it for the next try. The increment is atomic and shared by every process:
  // of parallel uses with right codes, only the first opens a session. The mark outlives the token (plus a minute for
  // clocks that differ between processes); counters, unlike the in-memory cache, are never evicted early.
  const uses = await context.stores.counters.increment(
    spentKey,
    1,
    new Date(challenge.expiresAt.getTime() + 60_000),
  );
  if (uses > 1) throw challengeExpired();
  if (factor === 'backup_code') {
    await recordAuditEvent(context.db, {
      type: 'two_factor.backup_code_used',
      userId: challenge.userId,
      ip: options.ip,
      userAgent: options.userAgent,
    });
  }
  const method = `${challenge.method}+${factor === 'totp' ? 'totp' : 'backup_code'}`;
  try {
    const tokens = await startSession(context, challenge.userId, method, options, challenge.securityVersion);
    return { userId: challenge.userId, tokens };
  } catch (error) {
    // The account changed between the check above and the session (see createSession's `securityVersion`).
    if (error instanceof StaleProofError) throw challengeExpired();
    throw error;
  }
}

/**
 * Always answers the same way and does its work in a job, so neither the message nor the response time tells
 * whether the address has an account.
 */
export async function requestPasswordReset(
  context: AccountsContext,
  options: { email: string } & RequestOrigin,
): Promise<void> {
  await context.stores.jobs.enqueue(PASSWORD_RESET_JOB, {
    email: normaliseEmail(options.email),
    ip: options.ip ?? null,
    userAgent: options.userAgent ?? null,
  });
}

/** The job behind a reset request: mail a link when the address belongs to an active account, nothing otherwise. */
export async function sendPasswordReset(
  context: AccountsContext,
  options: { email: string } & RequestOrigin,
): Promise<void> {
  const [user] = await context.db.select().from(users).where(eq(users.email, options.email)).limit(1);
  if (user?.status !== 'active') return;
  const token = await issueEmailToken(context.db, {
    userId: user.id,
    purpose: 'reset_password',
    email: user.email,
    ttlMs: RESET_PASSWORD_TTL_MS,
  });
  await recordAuditEvent(context.db, {
    type: 'password.reset_requested',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(context, user, 'reset_password', { link: link(context, '/reset-password', token) });
}

/**
 * Sets a new password from a reset link; every session ends, and the address counts as verified (the link proved it).
 * When it was not verified before, the account is taken over from whoever created it (`revokePreviousHolder`).
 */
export async function resetPassword(
  context: AccountsContext,
  options: { token: string; password: string } & RequestOrigin,
): Promise<void> {
  const [pending] = await context.db
    .select({ email: users.email, name: users.name, emailVerifiedAt: users.emailVerifiedAt })
    .from(emailTokens)
    .innerJoin(users, eq(users.id, emailTokens.userId))
    .where(eq(emailTokens.tokenHash, hashToken(options.token)))
    .limit(1);
  if (pending) assertStrongPassword(options.password, { email: pending.email, name: pending.name });
  const passwordHash = await hashPassword(options.password);
  const row = await consumeEmailToken(context.db, options.token, 'reset_password');
  if (!row)
    throw new AppError('token_invalid', 'This link is unknown, already used or expired; ask for a new one.');
  const [user] = await context.db
    .update(users)
    .set({ passwordHash, passwordChangedAt: new Date(), emailVerifiedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(users.id, row.userId), eq(users.email, row.email)))
    .returning();
  if (!user) throw new AppError('token_invalid', 'This link is for an address the account no longer uses.');
  await revokeAllSessions(context.db, { userId: user.id, reason: 'password_reset' });
  if (pending && !pending.emailVerifiedAt) {
    // The link proved the address for the first time: whoever signed up with it may not have been its owner.
    await revokePreviousHolder(context.db, context.stores.pubSub, {
      userId: user.id,
      reason: 'reset_took_over_unverified',
      scope: 'everything',
    });
  }
  // The link proved the mailbox: its owner may sign in at once, even if guesses had locked the address.
  await signInThrottle(context).clear(user.email);
  await passwordBudget(context).reset(hashToken(user.email));
  await recordAuditEvent(context.db, {
    type: 'password.reset',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(context, user, 'password_changed', {});
}

/** Changing the password needs the current one; other sessions end, the caller's stays. */
export async function changePassword(
  context: AccountsContext,
  options: {
    userId: string;
    sessionId?: string | undefined;
    currentPassword: string;
    newPassword: string;
  } & RequestOrigin,
): Promise<void> {
  const user = await findAccountRow(context.db, options.userId);
  await assertCurrentPassword(context, user, options.currentPassword, 'The current password is not right.');
  assertStrongPassword(options.newPassword, { email: user.email, name: user.name, field: 'newPassword' });
  await context.db
    .update(users)
    .set({
      passwordHash: await hashPassword(options.newPassword),
      passwordChangedAt: new Date(),
      updatedAt: new Date(),
    })
    .where(eq(users.id, user.id));
  await revokeAllSessions(context.db, {
    userId: user.id,
    exceptSessionId: options.sessionId,
    reason: 'password_changed',
  });
  await recordAuditEvent(context.db, {
    type: 'password.changed',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(context, user, 'password_changed', {});
}

/**
 * Starts an email change: the new address must be confirmed from a link sent to it. The answer does not say whether
 * the new address is taken (that is checked when the link is used).
 */
export async function requestEmailChange(
  context: AccountsContext,
  options: { userId: string; password: string; newEmail: string } & RequestOrigin,
): Promise<void> {
  const user = await findAccountRow(context.db, options.userId);
  await assertCurrentPassword(context, user, options.password);
  const newEmail = normaliseEmail(options.newEmail);
  if (newEmail === user.email) throw new AppError('conflict', 'This is already your address.');
  const token = await issueEmailToken(context.db, {
    userId: user.id,
    purpose: 'change_email',
    email: newEmail,
    ttlMs: VERIFY_EMAIL_TTL_MS,
  });
  await recordAuditEvent(context.db, {
    type: 'email.change_requested',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(
    context,
    user,
    'change_email',
    { newEmail, link: link(context, '/confirm-email-change', token) },
    newEmail,
  );
}

/**
 * Moves the account to the address its link was sent to. Everything is written in one transaction, so when another
 * account took the address between the check and the write (a sign-up, OAuth or another change at the same moment),
 * the unique address refuses it, nothing of this change stays (not even the spent link) and the answer is 409.
 */
export async function confirmEmailChange(
  context: AccountsContext,
  options: { token: string } & RequestOrigin,
): Promise<{ userId: string; email: string }> {
  let changed: { before: typeof users.$inferSelect; email: string };
  try {
    changed = await context.db.transaction(async (transaction) => {
      const tx = transaction as unknown as Database;
      const row = await consumeEmailToken(tx, options.token, 'change_email');
      if (!row)
        throw new AppError(
          'token_invalid',
          'This link is unknown, already used or expired; ask for a new one.',
        );
      const [before] = await tx.select().from(users).where(eq(users.id, row.userId)).limit(1);
      if (!before) throw new AppError('token_invalid', 'This link is unknown, already used or expired.');
      const [taken] = await tx
        .select({ id: users.id })
        .from(users)
        .where(eq(users.email, row.email))
        .limit(1);
      if (taken) throw addressTaken();
      await tx
        .update(users)
        .set({ email: row.email, emailVerifiedAt: new Date(), updatedAt: new Date() })
        .where(eq(users.id, row.userId));
      await recordAuditEvent(tx, {
        type: 'email.changed',
        userId: row.userId,
        ip: options.ip,
        userAgent: options.userAgent,
        details: { from: before.email, to: row.email },
      });
      return { before, email: row.email };
    });
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION) throw addressTaken();
    throw error;
  }
  await mailAccount(context, changed.before, 'email_changed', { newEmail: changed.email });
  return { userId: changed.before.id, email: changed.email };
}

function addressTaken(): AppError {
  return new AppError('conflict', 'Another account already uses this address.');
}
