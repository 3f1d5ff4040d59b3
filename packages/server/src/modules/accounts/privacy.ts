import { and, desc, eq, inArray, isNotNull, lte, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { PubSub } from '../../stores/index.js';
import { revokeUserKeys } from '../gateway/keys-service.js';
import { forgetInviter, forgetRecipients } from '../notifications/service.js';
import { erasedMembers, forgetInvitee, removeAllMemberships } from '../organizations/index.js';
import { listAuditEvents, recordAuditEvent } from './audit.js';
import type { AccountsContext, RequestOrigin } from './context.js';
import { forgetAuditTrail, pendingTrails } from './erasure-trail.js';
import { assertCurrentPassword } from './passwords.js';
import { removeAvatarFile, removeErasedAvatarFiles } from './profile.js';
import { listProviderKeys } from './provider-keys.js';
import { erasedAddress } from './redaction.js';
import {
  findAccountRow,
  LAST_ADMIN_MESSAGE,
  lockActiveAdmins,
  mailAccount,
  toAccountView,
} from './service.js';
import { listSessions, revokeAllSessions } from './sessions.js';
import {
  accountErasures,
  auditEvents,
  backupCodes,
  emailTokens,
  oauthAccounts,
  providerKeys,
  sessions,
  users,
} from './tables.js';

/** Everything the platform keeps about a person, as one JSON document (secrets are never included). */
export async function exportAccountData(db: Database, options: { userId: string } & RequestOrigin) {
  const user = await findAccountRow(db, options.userId);
  const linked = await db
    .select({
      provider: oauthAccounts.provider,
      email: oauthAccounts.email,
      createdAt: oauthAccounts.createdAt,
    })
    .from(oauthAccounts)
    .where(eq(oauthAccounts.userId, user.id));
  const allSessions = await db
    .select()
    .from(sessions)
    .where(eq(sessions.userId, user.id))
    .orderBy(desc(sessions.createdAt));
  const data = {
    exportedAt: new Date().toISOString(),
    account: toAccountView(user),
    activeSessions: await listSessions(db, { userId: user.id }),
    sessionHistory: allSessions.map((row) => ({
      id: row.id,
      method: row.method,
      ip: row.ip,
      userAgent: row.userAgent,
      createdAt: row.createdAt.toISOString(),
      revokedAt: row.revokedAt?.toISOString() ?? null,
    })),
    linkedAccounts: linked.map((row) => ({ ...row, createdAt: row.createdAt.toISOString() })),
    providerKeys: await listProviderKeys(db, user.id),
    securityEvents: await listAuditEvents(db, { userId: user.id, limit: 200 }),
  };
  await recordAuditEvent(db, {
    type: 'account.export',
    userId: user.id,
    ip: options.ip,
    userAgent: options.userAgent,
  });
  return data;
}

/** Schedules erasure after the grace period (needs the password when the account has one). */
export async function scheduleAccountDeletion(
  context: AccountsContext,
  options: { userId: string; password?: string | undefined } & RequestOrigin,
): Promise<{ deletionScheduledFor: string }> {
  const user = await findAccountRow(context.db, options.userId);
  // Accounts made through Google or GitHub have no password to ask for.
  if (user.passwordHash) await assertCurrentPassword(context, user, options.password ?? '');
  const when = new Date(Date.now() + context.env.ACCOUNT_DELETION_GRACE_DAYS * 86_400_000);
  await context.db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    // Said now rather than found out at erasure time, when the account would have to stay (see eraseAccount).
    const { anotherRemains } = await lockActiveAdmins(tx, user.id);
    if (user.role === 'admin' && user.status === 'active' && !anotherRemains) {
      throw new AppError('conflict', LAST_ADMIN_MESSAGE);
    }
    await tx.update(users).set({ deletionScheduledFor: when }).where(eq(users.id, user.id));
    await recordAuditEvent(tx, {
      type: 'account.deletion_scheduled',
      userId: user.id,
      ip: options.ip,
      userAgent: options.userAgent,
      details: { deletionScheduledFor: when.toISOString() },
    });
  });
  await mailAccount(context, user, 'account_deletion_scheduled', { date: when.toISOString().slice(0, 10) });
  return { deletionScheduledFor: when.toISOString() };
}

export async function cancelAccountDeletion(db: Database, options: { userId: string } & RequestOrigin) {
  await db.update(users).set({ deletionScheduledFor: null }).where(eq(users.id, options.userId));
  await recordAuditEvent(db, {
    type: 'account.deletion_cancelled',
    userId: options.userId,
    ip: options.ip,
    userAgent: options.userAgent,
  });
}

/**
 * Erases an account in place: personal data and credentials go (its virtual keys are revoked in every process at
 * once), it leaves every organisation (a last owner hands over to the longest-standing member), the row stays
 * (anonymised) so ledger entries, orders and invoices that reference its id keep every sum unchanged. The last
 * active admin is not erased (false): an install must never be left without one, so the deletion stays scheduled and
 * a later sweep erases the account once another admin exists.
 */
export async function eraseAccount(
  db: Database,
  options: { userId: string; dataDir: string; pubSub: PubSub },
): Promise<boolean> {
  const erased = await db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    const { anotherRemains } = await lockActiveAdmins(tx, options.userId);
    const [user] = await tx
      .select({
        role: users.role,
        status: users.status,
        email: users.email,
        name: users.name,
        avatarKey: users.avatarKey,
      })
      .from(users)
      .where(eq(users.id, options.userId))
      .for('no key update');
    if (!user) return undefined;
    if (user.role === 'admin' && user.status === 'active' && !anotherRemains) return undefined;
    // Before the tokens and linked accounts go: they name the person's other addresses.
    const addresses = await addressesOf(tx, options.userId, user.email);
    await forgetRecipients(tx, addresses);
    // Emails to other people that name them (an invitation they sent), and invitations sent to them.
    await forgetInviter(tx, [user.name, ...addresses]);
    await forgetInvitee(tx, { addresses, replacement: erasedAddress(options.userId) });
    // What the trail's pseudonymisation, after the commit, takes out of events (see forgetAuditTrail).
    await tx
      .insert(accountErasures)
      .values({ userId: options.userId, addresses, name: user.name })
      .onConflictDoNothing();
    await revokeAllSessions(tx, { userId: options.userId, reason: 'account_deleted' });
    await tx.delete(providerKeys).where(eq(providerKeys.userId, options.userId));
    await tx.delete(oauthAccounts).where(eq(oauthAccounts.userId, options.userId));
    await tx.delete(backupCodes).where(eq(backupCodes.userId, options.userId));
    await tx.delete(emailTokens).where(eq(emailTokens.userId, options.userId));
    await tx
      .update(users)
      .set({
        email: erasedAddress(options.userId),
        name: '',
        passwordHash: null,
        status: 'deleted',
        role: 'user',
        emailVerifiedAt: null,
        totpSecret: null,
        totpEnabledAt: null,
        totpLastStep: null,
        avatarKey: null,
        deletionScheduledFor: null,
        timeZone: 'UTC',
        notificationPreferences: { product: false, billing: false, marketing: false },
        updatedAt: new Date(),
      })
      .where(eq(users.id, options.userId));
    await recordAuditEvent(tx, { type: 'account.deleted', userId: options.userId });
    return { avatarKey: user.avatarKey };
  });
  if (!erased) return false;
  await finishErasure(db, options.pubSub, options.userId);
  if (erased.avatarKey) await removeAvatarFile(options.dataDir, erased.avatarKey);
  return true;
}

/**
 * Every address the account's emails went to: its own, the ones its links were sent to (an email change's new
 * address, a sign-up before one), the ones it changed away from, the ones its linked Google or GitHub accounts gave;
 * not one another account holds now (an address it asked for and never confirmed may be someone else's since).
 */
async function addressesOf(tx: Database, userId: string, current: string): Promise<string[]> {
  const linked = await tx
    .select({ email: emailTokens.email })
    .from(emailTokens)
    .where(eq(emailTokens.userId, userId));
  const changed = await tx
    .select({ details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.userId, userId), eq(auditEvents.type, 'email.changed')));
  const oauth = await tx
    .select({ email: oauthAccounts.email })
    .from(oauthAccounts)
    .where(eq(oauthAccounts.userId, userId));
  const addresses = new Set([current, ...linked.map((row) => row.email)]);
  for (const row of oauth) if (row.email) addresses.add(row.email.toLowerCase());
  for (const { details } of changed) {
    if (typeof details.from === 'string') addresses.add(details.from);
    if (typeof details.to === 'string') addresses.add(details.to);
  }
  const held = await tx
    .select({ email: users.email })
    .from(users)
    .where(and(inArray(users.email, [...addresses]), ne(users.id, userId)));
  for (const row of held) addresses.delete(row.email);
  return [...addresses];
}

/**
 * What erasure does once its transaction has committed. After the commit: the key revocations are announced to other
 * processes (a deleted owner's keys already fail), and an account whose erasure waits (the last admin), or is
 * cancelled by a sign-in, keeps its organisations. A process that stops in between leaves an erased account in its
 * organisations; the sweep finds it there and runs this again (both steps are harmless twice).
 */
async function finishErasure(db: Database, pubSub: PubSub, userId: string): Promise<void> {
  await revokeUserKeys(db, pubSub, { userId });
  await removeAllMemberships(db, pubSub, { userId, reason: 'account_erased' });
  await forgetAuditTrail(db, { userId });
}

/**
 * Erases every account whose grace period is over, and finishes erasures that stopped after their commit: accounts
 * still in organisations leave them, avatar files of erased accounts still on disk are deleted. Run at start and
 * periodically. Returns how many accounts were erased.
 */
export async function eraseDueAccounts(
  db: Database,
  options: { dataDir: string; pubSub: PubSub; now?: Date },
): Promise<number> {
  const due = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(isNotNull(users.deletionScheduledFor), lte(users.deletionScheduledFor, options.now ?? new Date())),
    );
  let erased = 0;
  for (const row of due) {
    if (await eraseAccount(db, { userId: row.id, dataDir: options.dataDir, pubSub: options.pubSub }))
      erased++;
  }
  for (const userId of await erasedMembers(db)) await finishErasure(db, options.pubSub, userId);
  for (const userId of await pendingTrails(db)) await forgetAuditTrail(db, { userId });
  await removeErasedAvatarFiles(db, options.dataDir);
  return erased;
}
