import { and, asc, count, eq, ilike, ne, or, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { PubSub } from '../../stores/index.js';
import { recordAuditEvent } from '../accounts/audit.js';
import type { RequestOrigin } from '../accounts/context.js';
import {
  type AccountView,
  LAST_ADMIN_MESSAGE,
  lockActiveAdmins,
  toAccountView,
} from '../accounts/service.js';
import { revokeAllSessions } from '../accounts/sessions.js';
import { type UserRole, users } from '../accounts/tables.js';
import { revokeUserKeys } from '../gateway/keys-service.js';

export async function listUsers(
  db: Database,
  options: { query?: string; role?: UserRole; offset?: number; limit?: number },
): Promise<{ users: AccountView[]; total: number }> {
  const conditions: SQL[] = [ne(users.status, 'deleted')];
  if (options.role) conditions.push(eq(users.role, options.role));
  if (options.query) {
    const pattern = `%${options.query.replace(/[\\%_]/g, '\\$&')}%`;
    conditions.push(or(ilike(users.email, pattern), ilike(users.name, pattern))!);
  }
  const where = and(...conditions);
  const rows = await db
    .select()
    .from(users)
    .where(where)
    .orderBy(asc(users.createdAt))
    .offset(options.offset ?? 0)
    .limit(Math.min(options.limit ?? 50, 200));
  const [total] = await db.select({ value: count() }).from(users).where(where);
  return { users: rows.map(toAccountView), total: Number(total?.value ?? 0) };
}

/**
 * Locks the active admins, then the account (always in that order, so concurrent changes never deadlock), and refuses
 * (409) a change that would take the last active admin out of that set. The check and the change it guards commit
 * together.
 */
async function lockAccountForChange(
  transaction: Database,
  options: { userId: string; removesAdmin: boolean },
) {
  const { anotherRemains } = await lockActiveAdmins(transaction, options.userId);
  const [user] = await transaction
    .select()
    .from(users)
    .where(eq(users.id, options.userId))
    .for('no key update');
  if (!user || user.status === 'deleted') throw new AppError('not_found', 'No such account.');
  const activeAdmin = user.role === 'admin' && user.status === 'active';
  if (activeAdmin && options.removesAdmin && !anotherRemains) {
    throw new AppError('conflict', LAST_ADMIN_MESSAGE);
  }
  return user;
}

/**
 * Changes a role; the last active admin cannot be demoted. Recorded with the acting admin, in the same transaction as
 * the change, so no change is ever left unaudited.
 */
export async function changeUserRole(
  db: Database,
  options: { actorId: string; userId: string; role: UserRole } & RequestOrigin,
): Promise<AccountView> {
  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    const user = await lockAccountForChange(tx, {
      userId: options.userId,
      removesAdmin: options.role !== 'admin',
    });
    if (user.role === options.role) return toAccountView(user);
    const [updated] = await tx
      .update(users)
      .set({ role: options.role, updatedAt: new Date() })
      .where(eq(users.id, user.id))
      .returning();
    await recordAuditEvent(tx, {
      type: 'admin.role_changed',
      userId: user.id,
      actorId: options.actorId,
      ip: options.ip,
      userAgent: options.userAgent,
      details: { from: user.role, to: options.role },
    });
    return toAccountView(updated!);
  });
}

/**
 * Disables an account (every session ends and every virtual key is revoked, in every process, at once) or re-enables
 * it; the last active admin cannot be disabled. Re-enabling does not bring revoked keys back: the person creates new
 * ones. The status, the sessions and the audit event commit together; keys are revoked once that is committed, since
 * their revocation is announced to other processes (and a disabled owner's keys already stop working).
 */
export async function changeUserStatus(
  db: Database,
  pubSub: PubSub,
  options: { actorId: string; userId: string; status: 'active' | 'disabled' } & RequestOrigin,
): Promise<AccountView> {
  const updated = await db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    const user = await lockAccountForChange(tx, {
      userId: options.userId,
      removesAdmin: options.status === 'disabled',
    });
    const [row] = await tx
      .update(users)
      .set({ status: options.status, updatedAt: new Date() })
      .where(eq(users.id, user.id))
      .returning();
    if (options.status === 'disabled') {
      await revokeAllSessions(tx, { userId: user.id, reason: 'disabled_by_admin' });
    }
    await recordAuditEvent(tx, {
      type: 'admin.status_changed',
      userId: user.id,
      actorId: options.actorId,
      ip: options.ip,
      userAgent: options.userAgent,
      details: { from: user.status, to: options.status },
    });
    return row!;
  });
  if (options.status === 'disabled') await revokeUserKeys(db, pubSub, { userId: updated.id });
  return toAccountView(updated);
}
