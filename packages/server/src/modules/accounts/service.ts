import { randomBytes } from 'node:crypto';
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { MailTemplateName, MailTemplates } from '../../mail/templates.js';
import type { PubSub } from '../../stores/index.js';
import type { AccountsContext } from './context.js';
import { hashPassword } from './passwords.js';
import { revokeAllSessions } from './sessions.js';
import { setupTokens, type UserRole, users } from './tables.js';
import { revokePreviousHolder } from './takeover.js';
import { hashToken } from './tokens.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: UserRole;
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toPublicUser(row: typeof users.$inferSelect): PublicUser {
  return { id: row.id, email: row.email, name: row.name, role: row.role };
}

/**
 * Whether someone can administer the install: an active admin. Disabled admins do not count, so an install left with
 * none (two admins disabling each other at once could, before `lockActiveAdmins`) gets its way back in at the next
 * start; erased ones are no longer admins.
 */
export async function hasAdmin(db: Database): Promise<boolean> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.status, 'active')))
    .limit(1);
  return rows.length > 0;
}

/**
 * For a transaction that may take `userId` out of the active admins (demoted, disabled, erased): locks every active
 * admin row and tells whether one other than `userId` remains. Call it before reading or writing the account, so two
 * admins removing each other at once queue here and the second counts after the first has committed (PGlite runs one
 * transaction at a time; PostgreSQL needs the lock). Rows are locked in id order, so two such transactions never
 * deadlock; `no key update` leaves rows that merely reference an admin (audit events, sessions) free to be written.
 */
export async function lockActiveAdmins(
  transaction: Database,
  userId: string,
): Promise<{ anotherRemains: boolean }> {
  const admins = await transaction
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.status, 'active')))
    .orderBy(asc(users.id))
    .for('no key update');
  return { anotherRemains: admins.some((admin) => admin.id !== userId) };
}

export const LAST_ADMIN_MESSAGE = 'This is the last active administrator; promote another one first.';

export type EnsureAdminResult =
  | { kind: 'exists' }
  | { kind: 'created' | 'promoted'; user: PublicUser }
  | { kind: 'setup_token'; token: string; expiresAt: Date };

/**
 * An existing account made the first admin: anyone could have signed up with the admin address before setup, so
 * nothing its holder set up survives (sessions, keys, 2FA; and, when the address was never verified, provider keys
 * and memberships too). The caller has already set the new password.
 */
function revokeBeforePromotion(db: Database, pubSub: PubSub, existing: typeof users.$inferSelect) {
  return revokePreviousHolder(db, pubSub, {
    userId: existing.id,
    reason: 'promoted_first_admin',
    scope: existing.emailVerifiedAt ? 'credentials' : 'everything',
  });
}

/**
 * First start, or any start without an active admin: there must be a way in, and never a default password. With
 * ADMIN_EMAIL/ADMIN_PASSWORD the admin is created (or that existing account promoted and enabled, with ADMIN_PASSWORD
 * as its password and everything else it had revoked);
 * otherwise a one-time setup token is issued for the console link. `pubSub` carries the key revocations.
 */
export async function ensureAdmin(
  db: Database,
  options: {
    email?: string | undefined;
    password?: string | undefined;
    setupTokenTtlMinutes: number;
    pubSub: PubSub;
  },
): Promise<EnsureAdminResult> {
  if (await hasAdmin(db)) return { kind: 'exists' };
  if (options.email && options.password) {
    const email = normaliseEmail(options.email);
    const [existing] = await db.select().from(users).where(eq(users.email, email)).limit(1);
    if (existing) {
      // Role and password change in one statement: the previous password never opens an admin account. A disabled
      // account is enabled: the operator named it the admin.
      const [promoted] = await db
        .update(users)
        .set({
          role: 'admin',
          status: 'active',
          passwordHash: await hashPassword(options.password),
          passwordChangedAt: new Date(),
          emailVerifiedAt: existing.emailVerifiedAt ?? new Date(),
          updatedAt: new Date(),
        })
        .where(eq(users.id, existing.id))
        .returning();
      await revokeBeforePromotion(db, options.pubSub, existing);
      return { kind: 'promoted', user: toPublicUser(promoted!) };
    }
    const [created] = await db
      .insert(users)
      .values({
        email,
        name: 'Admin',
        passwordHash: await hashPassword(options.password),
        role: 'admin',
        emailVerifiedAt: new Date(),
      })
      .returning();
    return { kind: 'created', user: toPublicUser(created!) };
  }
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + options.setupTokenTtlMinutes * 60_000);
  await db.insert(setupTokens).values({ tokenHash: hashToken(token), expiresAt });
  return { kind: 'setup_token', token, expiresAt };
}

/**
 * Creates the first admin from a setup token. Every outstanding token is spent in the same transaction, so two
 * concurrent submissions (even with different tokens) can never create two admins. An existing account with that
 * address is promoted with the form's password, and whatever its holder set up is revoked (sessions in the same
 * transaction as the promotion, so none of them is ever an admin's).
 */
export async function completeSetup(
  db: Database,
  pubSub: PubSub,
  input: { token: string; name: string; email: string; password: string },
): Promise<PublicUser> {
  const passwordHash = await hashPassword(input.password);
  const email = normaliseEmail(input.email);
  const { admin, previous } = await db.transaction(async (transaction) => {
    if (await hasAdmin(transaction as unknown as Database)) {
      throw new AppError('admin_exists', 'An administrator already exists; sign in instead.');
    }
    const spent = await transaction
      .update(setupTokens)
      .set({ usedAt: new Date() })
      .where(and(isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, sql`now()`)))
      .returning({ tokenHash: setupTokens.tokenHash });
    if (!spent.some((row) => row.tokenHash === hashToken(input.token))) {
      throw new AppError('setup_token_invalid', 'This setup link is unknown, already used or expired.');
    }
    const [existing] = await transaction.select().from(users).where(eq(users.email, email)).limit(1);
    const [admin] = existing
      ? await transaction
          .update(users)
          .set({
            role: 'admin',
            status: 'active',
            name: input.name,
            passwordHash,
            passwordChangedAt: new Date(),
            emailVerifiedAt: new Date(),
            updatedAt: new Date(),
          })
          .where(eq(users.id, existing.id))
          .returning()
      : await transaction
          .insert(users)
          .values({ email, name: input.name, passwordHash, role: 'admin', emailVerifiedAt: new Date() })
          .returning();
    if (existing) {
      await revokeAllSessions(transaction as unknown as Database, {
        userId: existing.id,
        reason: 'promoted_first_admin',
      });
    }
    return { admin: toPublicUser(admin!), previous: existing };
  });
  // The rest after the commit: a key revocation broadcast before it could let another process re-cache the key. Its
  // session revocation finds nothing left here; it stays in revokePreviousHolder for the callers that revoke nothing
  // before it (ADMIN_EMAIL promotion, OAuth takeover).
  if (previous) await revokeBeforePromotion(db, pubSub, previous);
  return admin;
}

/** What the account owner sees about their own account. */
export interface AccountView extends PublicUser {
  emailVerified: boolean;
  status: (typeof users.$inferSelect)['status'];
  locale: (typeof users.$inferSelect)['locale'];
  theme: (typeof users.$inferSelect)['theme'];
  timeZone: string;
  notificationPreferences: (typeof users.$inferSelect)['notificationPreferences'];
  avatarUrl: string | null;
  twoFactorEnabled: boolean;
  hasPassword: boolean;
  deletionScheduledFor: string | null;
  createdAt: string;
}

export function toAccountView(row: typeof users.$inferSelect): AccountView {
  return {
    ...toPublicUser(row),
    emailVerified: Boolean(row.emailVerifiedAt),
    status: row.status,
    locale: row.locale,
    theme: row.theme,
    timeZone: row.timeZone,
    notificationPreferences: row.notificationPreferences,
    avatarUrl: row.avatarKey ? `/api/account/avatar/${row.avatarKey}` : null,
    twoFactorEnabled: Boolean(row.totpEnabledAt),
    hasPassword: Boolean(row.passwordHash),
    deletionScheduledFor: row.deletionScheduledFor?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The account's row, or 404 `not_found`. */
export async function findAccountRow(db: Database, userId: string): Promise<typeof users.$inferSelect> {
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (!row) throw new AppError('not_found', 'Account not found.');
  return row;
}

export async function getAccount(db: Database, userId: string): Promise<AccountView> {
  return toAccountView(await findAccountRow(db, userId));
}

/** Mails the account's owner in their language, greeting them by name (`data` adds the template's other fields). */
export async function mailAccount<Name extends MailTemplateName>(
  context: Pick<AccountsContext, 'mailer'>,
  user: Pick<typeof users.$inferSelect, 'email' | 'name' | 'locale'>,
  template: Name,
  data: Omit<MailTemplates[Name], 'name'>,
  to: string = user.email,
): Promise<void> {
  await context.mailer.send({
    to,
    template,
    locale: user.locale,
    data: { name: user.name, ...data } as MailTemplates[Name],
  });
}
