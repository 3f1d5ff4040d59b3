import { and, asc, count, eq, ilike, ne, or, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { PubSub } from '../../stores/index.js';
import { recordAuditEvent } from '../accounts/audit.js';
import type { RequestOrigin } from '../accounts/context.js';
import { type AccountView, toAccountView } from '../accounts/service.js';
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

async function assertNotLastAdmin(db: Database, userId: string) {
  const [admins] = await db
    .select({ value: count() })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.status, 'active'), ne(users.id, userId)));
  if (Number(admins?.value ?? 0) === 0) {
    throw new AppError('conflict', 'This is the last active administrator; promote another one first.');
  }
}

/** Changes a role; the last active admin cannot be demoted. Recorded with the acting admin. */
export async function changeUserRole(
  db: Database,
  options: { actorId: string; userId: string; role: UserRole } & RequestOrigin,
): Promise<AccountView> {
  const [user] = await db.select().from(users).where(eq(users.id, options.userId)).limit(1);
  if (!user || user.status === 'deleted') throw new AppError('not_found', 'No such account.');
  if (user.role === options.role) return toAccountView(user);
  if (user.role === 'admin') await assertNotLastAdmin(db, user.id);
  const [updated] = await db
    .update(users)
    .set({ role: options.role, updatedAt: new Date() })
    .where(eq(users.id, user.id))
    .returning();
  await recordAuditEvent(db, {
    type: 'admin.role_changed',
    userId: user.id,
    actorId: options.actorId,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { from: user.role, to: options.role },
  });
  return toAccountView(updated!);
}

/**
 * Disables an account (every session ends and every virtual key is revoked, in every process, at once) or re-enables
 * it. Re-enabling does not bring revoked keys back: the person creates new ones.
 */
export async function changeUserStatus(
  db: Database,
  pubSub: PubSub,
  options: { actorId: string; userId: string; status: 'active' | 'disabled' } & RequestOrigin,
): Promise<AccountView> {
  const [user] = await db.select().from(users).where(eq(users.id, options.userId)).limit(1);
  if (!user || user.status === 'deleted') throw new AppError('not_found', 'No such account.');
  if (options.status === 'disabled' && user.role === 'admin') await assertNotLastAdmin(db, user.id);
  const [updated] = await db
    .update(users)
    .set({ status: options.status, updatedAt: new Date() })
    .where(eq(users.id, user.id))
    .returning();
  if (options.status === 'disabled') {
    await revokeAllSessions(db, { userId: user.id, reason: 'disabled_by_admin' });
    await revokeUserKeys(db, pubSub, { userId: user.id });
  }
  await recordAuditEvent(db, {
    type: 'admin.status_changed',
    userId: user.id,
    actorId: options.actorId,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { from: user.status, to: options.status },
  });
  return toAccountView(updated!);
}
