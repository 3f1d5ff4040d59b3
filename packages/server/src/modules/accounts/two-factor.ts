import { randomInt } from 'node:crypto';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import type { AccountsContext, RequestOrigin } from './context.js';
import { consumeEmailToken, findLiveEmailToken, issueEmailToken } from './email-tokens.js';
import { assertCurrentPassword } from './passwords.js';
import { findAccountRow, mailAccount } from './service.js';
import { budgetedCheck, twoFactorBudget } from './sign-in-throttle.js';
import { backupCodes, users } from './tables.js';
import { hashToken } from './tokens.js';

const BACKUP_CODE_COUNT = 10;
// No 0/O, 1/l/I: codes are read off paper.
const BACKUP_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const TOTP_TOLERANCE_SECONDS = 30;
const EMAIL_CODE_TTL_MS = 10 * 60_000;

function totpContext(userId: string): string {
  return `totp:${userId}`;
}

function generateBackupCode(): string {
  let code = '';
  for (let index = 0; index < 10; index++) code += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

function normaliseBackupCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

async function replaceBackupCodes(db: Database, userId: string): Promise<string[]> {
  const codes = Array.from({ length: BACKUP_CODE_COUNT }, generateBackupCode);
  await db.transaction(async (transaction) => {
    await transaction.delete(backupCodes).where(eq(backupCodes.userId, userId));
    await transaction
      .insert(backupCodes)
      .values(codes.map((code) => ({ userId, codeHash: hashToken(normaliseBackupCode(code)) })));
  });
  return codes;
}

/** The 2FA changes an account without a password confirms with an emailed code. */
export const twoFactorEmailActions = ['enable', 'disable'] as const;
export type TwoFactorEmailAction = (typeof twoFactorEmailActions)[number];

const emailCodePurpose = { enable: 'two_factor_enable', disable: 'two_factor_disable' } as const;

/**
 * What is hashed and stored for an emailed code: the code bound to its account, so a code is only ever looked up for
 * the account it was sent to (codes are short enough to type; the account's id keeps them from meeting).
 */
function emailCodeToken(userId: string, code: string): string {
  return `${userId}:${normaliseBackupCode(code)}`;
}

function emailCodeRefused(): AppError {
  return new AppError(
    'token_invalid',
    'Confirm with the code we email to your address: this one is missing, not right, already used or expired.',
  );
}

/**
 * Emails a one-time code (ten characters, ~50 bits, like a backup code; 10 minutes, single use, the previous one
 * replaced) to the verified address of an account without a password, which it then gives with `emailCode` to turn
 * 2FA on or off. Such an account signed up through OAuth has no password to ask for, and a session alone (perhaps a
 * stolen one) must not change its second factor; control of the mailbox is what already recovers the account (a
 * password reset link goes there too), so it is the proof asked for. Accounts with a password give it instead (409).
 */
export async function sendTwoFactorEmailCode(
  context: AccountsContext,
  options: { userId: string; action: TwoFactorEmailAction } & RequestOrigin,
): Promise<void> {
  const user = await findAccountRow(context.db, options.userId);
  if (user.passwordHash)
    throw new AppError('conflict', 'This account has a password: confirm the change with it instead.');
  if (!user.emailVerifiedAt) throw new AppError('conflict', 'Confirm your email address first.');
  if (options.action === 'enable' && user.totpEnabledAt)
    throw new AppError('conflict', 'Two-factor authentication is already on.');
  if (options.action === 'disable' && !user.totpEnabledAt)
    throw new AppError('conflict', 'Two-factor authentication is not on.');
  const code = generateBackupCode();
  await issueEmailToken(context.db, {
    userId: user.id,
    purpose: emailCodePurpose[options.action],
    email: user.email,
    ttlMs: EMAIL_CODE_TTL_MS,
    token: emailCodeToken(user.id, code),
  });
  await recordAuditEvent(context.db, {
    type: 'two_factor.email_code_sent',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { action: options.action },
  });
  await mailAccount(context, user, 'two_factor_code', { code, enabled: options.action === 'enable' });
}

/**
 * The proof a 2FA change needs besides the code from the authenticator: the password when the account has one, else
 * a live emailed code for this change sent to the account's current address. Refuses (401 or 400) without spending
 * anything; returns the emailed code's token for `spendEmailCode`, to be spent with the change it allows.
 */
async function assertAccountProof(
  context: AccountsContext,
  user: typeof users.$inferSelect,
  action: TwoFactorEmailAction,
  proof: { password?: string | undefined; emailCode?: string | undefined },
): Promise<string | undefined> {
  if (user.passwordHash) {
    await assertCurrentPassword(context, user, proof.password ?? '');
    return undefined;
  }
  if (!proof.emailCode) throw emailCodeRefused();
  const token = emailCodeToken(user.id, proof.emailCode);
  const row = await findLiveEmailToken(context.db, token, emailCodePurpose[action]);
  if (row?.userId !== user.id || row.email !== user.email) throw emailCodeRefused();
  return token;
}

/** Spends an emailed code inside the change's transaction: of two uses at once, one changes anything. */
async function spendEmailCode(
  transaction: Database,
  user: typeof users.$inferSelect,
  action: TwoFactorEmailAction,
  token: string,
): Promise<void> {
  const row = await consumeEmailToken(transaction, token, emailCodePurpose[action]);
  if (row?.userId !== user.id || row.email !== user.email) throw emailCodeRefused();
}

export interface TwoFactorEnrolment {
  secret: string;
  otpauthUrl: string;
  /** A PNG data URL of the otpauth URL, for authenticator apps to scan. */
  qrCode: string;
}

/** Generates a secret (kept sealed, not yet active) for the person to add to their authenticator app. */
export async function startTwoFactorEnrolment(
  context: AccountsContext,
  options: { userId: string },
): Promise<TwoFactorEnrolment> {
  const user = await findAccountRow(context.db, options.userId);
  if (user.totpEnabledAt) throw new AppError('conflict', 'Two-factor authentication is already on.');
  const secret = generateSecret();
  await context.db
    .update(users)
    .set({ totpSecret: context.keyring.seal(secret, totpContext(user.id)), totpLastStep: null })
    .where(eq(users.id, user.id));
  const otpauthUrl = generateURI({ issuer: 'WeBox', label: user.email, secret });
  return { secret, otpauthUrl, qrCode: await QRCode.toDataURL(otpauthUrl, { margin: 1, width: 240 }) };
}

/** What checking a second factor needs: the database, the keyring the TOTP secret is sealed with, and the clock. */
type SecondFactorContext = Pick<AccountsContext, 'db' | 'keyring' | 'now'>;

/**
 * Checks a TOTP code at `context.now()` and records its time step, so the same code cannot be used twice: the
 * conditional update makes two concurrent uses of one code succeed at most once.
 */
async function verifyTotp(
  { db, keyring, now }: SecondFactorContext,
  user: typeof users.$inferSelect,
  code: string,
): Promise<boolean> {
  if (!user.totpSecret || !/^\d{6}$/.test(code)) return false;
  const secret = keyring.open(user.totpSecret, totpContext(user.id));
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(now() / 1000),
    epochTolerance: TOTP_TOLERANCE_SECONDS,
    ...(user.totpLastStep !== null ? { afterTimeStep: user.totpLastStep } : {}),
  });
  if (!result.valid || !('timeStep' in result)) return false;
  const step = result.timeStep;
  const recorded = await db
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
    .returning({ id: users.id });
  return recorded.length > 0;
}

/** Which second factor matched (a current TOTP code or an unused backup code), or undefined. */
export async function verifySecondFactor(
  context: SecondFactorContext,
  options: { userId: string; code: string },
): Promise<'totp' | 'backup_code' | undefined> {
  const { db } = context;
  const [user] = await db.select().from(users).where(eq(users.id, options.userId)).limit(1);
  if (!user?.totpEnabledAt) return undefined;
  const code = options.code.trim();
  if (/^\d{6}$/.test(code)) return (await verifyTotp(context, user, code)) ? 'totp' : undefined;
  const normalised = normaliseBackupCode(code);
  if (normalised.length !== 10) return undefined;
  const spent = await db
    .update(backupCodes)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(backupCodes.userId, user.id),
        eq(backupCodes.codeHash, hashToken(normalised)),
        isNull(backupCodes.usedAt),
      ),
    )
    .returning({ id: backupCodes.id });
  return spent.length > 0 ? 'backup_code' : undefined;
}

/**
 * `verifySecondFactor` for a signed-in person proving themselves again: it draws on the account's sign-in budget for
 * codes, so a stolen session guesses codes no faster than the sign-in's second step.
 */
function reverifySecondFactor(context: AccountsContext, userId: string, code: string) {
  return budgetedCheck(twoFactorBudget(context), userId, () => verifySecondFactor(context, { userId, code }));
}

/**
 * Turns 2FA on once the person proves their app works, and returns the ten backup codes (shown once). Needs the
 * password, or for an account without one a code emailed to it (`sendTwoFactorEmailCode`): a session alone (perhaps a
 * stolen one) must not put a second factor of its holder's choosing between the owner and their account.
 */
export async function confirmTwoFactorEnrolment(
  context: AccountsContext,
  options: {
    userId: string;
    code: string;
    password?: string | undefined;
    emailCode?: string | undefined;
  } & RequestOrigin,
): Promise<{ backupCodes: string[] }> {
  const user = await findAccountRow(context.db, options.userId);
  if (user.totpEnabledAt) throw new AppError('conflict', 'Two-factor authentication is already on.');
  if (!user.totpSecret) throw new AppError('conflict', 'Start the enrolment first to get a secret.');
  const emailed = await assertAccountProof(context, user, 'enable', options);
  if (!(await verifyTotp(context, user, options.code.trim()))) {
    throw new AppError(
      'two_factor_invalid',
      'That code is not right; check the time on your device and try again.',
    );
  }
  await context.db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    if (emailed) await spendEmailCode(tx, user, 'enable', emailed);
    await tx
      .update(users)
      .set({ totpEnabledAt: new Date(), securityVersion: sql`${users.securityVersion} + 1` })
      .where(eq(users.id, user.id));
  });
  const codes = await replaceBackupCodes(context.db, user.id);
  await recordAuditEvent(context.db, {
    type: 'two_factor.enabled',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(context, user, 'two_factor_changed', { enabled: true });
  return { backupCodes: codes };
}

/**
 * Turning 2FA off needs a current code (or a backup code) and the password, or for an account without one a code
 * emailed to it (`sendTwoFactorEmailCode`).
 */
export async function disableTwoFactor(
  context: AccountsContext,
  options: {
    userId: string;
    code: string;
    password?: string | undefined;
    emailCode?: string | undefined;
  } & RequestOrigin,
): Promise<void> {
  const user = await findAccountRow(context.db, options.userId);
  if (!user.totpEnabledAt) throw new AppError('conflict', 'Two-factor authentication is not on.');
  const emailed = await assertAccountProof(context, user, 'disable', options);
  if (!(await reverifySecondFactor(context, user.id, options.code))) {
    throw new AppError('two_factor_invalid', 'That code is not right.');
  }
  await context.db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    if (emailed) await spendEmailCode(tx, user, 'disable', emailed);
    await tx
      .update(users)
      .set({
        totpSecret: null,
        totpEnabledAt: null,
        totpLastStep: null,
        securityVersion: sql`${users.securityVersion} + 1`,
      })
      .where(eq(users.id, user.id));
  });
  await context.db.delete(backupCodes).where(eq(backupCodes.userId, user.id));
  await recordAuditEvent(context.db, {
    type: 'two_factor.disabled',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  await mailAccount(context, user, 'two_factor_changed', { enabled: false });
}

/**
 * New backup codes (the old ones stop working); needs a current code. The owner is told by email, as for every other
 * change to their second factor: new codes in a stranger's hands are a way back into the account. The email names
 * the change, never a code.
 */
export async function regenerateBackupCodes(
  context: AccountsContext,
  options: { userId: string; code: string } & RequestOrigin,
): Promise<{ backupCodes: string[] }> {
  if (!(await reverifySecondFactor(context, options.userId, options.code))) {
    throw new AppError('two_factor_invalid', 'That code is not right.');
  }
  const codes = await replaceBackupCodes(context.db, options.userId);
  await recordAuditEvent(context.db, {
    type: 'two_factor.backup_codes_regenerated',
    userId: options.userId,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  const user = await findAccountRow(context.db, options.userId);
  await mailAccount(context, user, 'backup_codes_regenerated', {});
  return { backupCodes: codes };
}

export async function twoFactorStatus(db: Database, userId: string) {
  const [user] = await db
    .select({ enabledAt: users.totpEnabledAt })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  const remaining = user?.enabledAt
    ? (
        await db
          .select({ id: backupCodes.id })
          .from(backupCodes)
          .where(and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt)))
      ).length
    : 0;
  return {
    enabled: Boolean(user?.enabledAt),
    enabledAt: user?.enabledAt?.toISOString() ?? null,
    backupCodesLeft: remaining,
  };
}
