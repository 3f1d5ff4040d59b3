import { randomUUID } from 'node:crypto';
import { eq, or, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { runMigrations } from '../../db/migrate.js';
import { describeMigration } from '../../testing/migrations.js';
import { forgetAuditTrail, pendingTrails } from './erasure-trail.js';
import { accountErasures, auditEvents, sessions } from './tables.js';

describeMigration('0018_account_erasures', (connection) => {
  it('queues the accounts erased before it, and their trail is then pseudonymised batch by batch', async () => {
    const db = connection().db;
    // As erasure left an account before: anonymised, its sessions and events still holding where it acted from.
    const erased = randomUUID();
    // In SQL: the schema in the code may have columns this migration's database does not have yet.
    const addUser = async (values: {
      id?: string;
      email: string;
      name: string;
      role?: string;
      status?: string;
    }) => {
      const id = values.id ?? randomUUID();
      await db.execute(
        sql`insert into users (id, email, name, role, status) values (${id}, ${values.email}, ${values.name}, ${values.role ?? 'user'}, ${values.status ?? 'active'})`,
      );
      return { id, email: values.email };
    };
    await addUser({ id: erased, email: `deleted-${erased}@deleted.invalid`, name: '', status: 'deleted' });
    const admin = await addUser({ email: `${randomUUID()}@example.com`, name: 'Admin', role: 'admin' });
    const holder = await addUser({ email: `${randomUUID()}@example.com`, name: 'Holder' });
    const old = `${randomUUID()}@example.com`;
    for (let index = 0; index < 7; index++) {
      await db.insert(sessions).values({
        userId: erased,
        method: 'password',
        ip: '198.51.100.7',
        userAgent: 'OldBrowser/1',
        expiresAt: new Date(Date.now() - 86_400_000),
      });
      await db.insert(auditEvents).values({
        type: 'sign_in.succeeded',
        userId: erased,
        ip: '198.51.100.7',
        userAgent: 'OldBrowser/1',
      });
    }
    // Changed from an address, then to one another account holds now (it is that account's, not theirs, to forget).
    await db.insert(auditEvents).values([
      {
        type: 'email.changed',
        userId: erased,
        ip: '198.51.100.7',
        details: { from: old, to: holder.email },
      },
      {
        type: 'payment.refunded',
        userId: erased,
        actorId: admin.id,
        ip: '203.0.113.9',
        userAgent: 'AdminBrowser/2',
        details: { amount: 9000, reason: `refund asked by ${old.toUpperCase()}` },
      },
      { type: 'sign_in.succeeded', userId: holder.id, ip: '192.0.2.4', userAgent: 'HolderBrowser/3' },
    ]);

    await runMigrations(connection());

    const [pending] = await db.select().from(accountErasures);
    expect(pending).toMatchObject({ userId: erased, name: '' });
    expect(pending!.addresses).toEqual([old]);
    expect(await pendingTrails(db)).toEqual([erased]);

    // Batches of 3: the 15 events and 7 sessions take several statements each.
    expect(await forgetAuditTrail(db, { userId: erased, batchSize: 3 })).toBe(true);
    expect(await pendingTrails(db)).toEqual([]);
    const theirSessions = await db.select().from(sessions).where(eq(sessions.userId, erased));
    expect(theirSessions).toHaveLength(7);
    expect(theirSessions.every((row) => row.ip === null && row.userAgent === null)).toBe(true);
    const events = await db
      .select()
      .from(auditEvents)
      .where(or(eq(auditEvents.userId, erased), eq(auditEvents.userId, holder.id)));
    expect(events).toHaveLength(10);
    const byType = (type: string, userId: string = erased) =>
      events.filter((event) => event.type === type && event.userId === userId);
    expect(byType('sign_in.succeeded').every((event) => !event.ip && !event.userAgent)).toBe(true);
    expect(byType('email.changed')[0]!.details.from).toBe(`deleted-${erased}@deleted.invalid`);
    expect(byType('payment.refunded')[0]).toMatchObject({
      ip: '203.0.113.9',
      userAgent: 'AdminBrowser/2',
      details: { amount: 9000, reason: `refund asked by deleted-${erased}@deleted.invalid` },
    });
    expect(byType('sign_in.succeeded', holder.id)[0]).toMatchObject({ ip: '192.0.2.4' });
    // Done: a second run finds nothing to do.
    expect(await forgetAuditTrail(db, { userId: erased, batchSize: 3 })).toBe(false);
  });
});
