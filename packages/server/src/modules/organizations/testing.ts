import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { queryRows } from '../billing/sql.js';
import { organizationMembers } from './tables.js';

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Helpers for organisation tests. Who belongs to an organisation, as `{ [userId]: role }`. */
export async function rolesIn(db: Database, organizationId: string) {
  const rows = await db
    .select({ userId: organizationMembers.userId, role: organizationMembers.role })
    .from(organizationMembers)
    .where(eq(organizationMembers.organizationId, organizationId));
  return Object.fromEntries(rows.map((row) => [row.userId, row.role]));
}

/**
 * PostgreSQL only: runs `lock` (a `select … for update`) in a transaction of its own and holds what it locked, as a
 * concurrent transaction would, to force an interleaving. `release(change)` runs `change` in that transaction first,
 * when given (what the concurrent transaction commits), and resolves once it committed. `waiting(count)` resolves
 * once `count` other sessions wait for it, directly or queued behind one another, or as soon as `unless` settles
 * (code that did not wait for the lock at all).
 */
export async function holdLock(db: Database, lock: (tx: Transaction) => Promise<unknown>) {
  let finish: (change?: (tx: Transaction) => Promise<unknown>) => void = () => {};
  const released = new Promise<((tx: Transaction) => Promise<unknown>) | undefined>((resolve) => {
    finish = resolve;
  });
  let holder: number | undefined;
  let held: () => void = () => {};
  const locked = new Promise<void>((resolve) => {
    held = resolve;
  });
  const committed = db.transaction(async (tx) => {
    const [row] = await queryRows<{ pid: number }>(tx as never, sql`select pg_backend_pid() as pid`);
    await lock(tx);
    holder = row!.pid;
    held();
    const change = await released;
    await change?.(tx);
  });
  await Promise.race([locked, committed]);
  return {
    async release(change?: (tx: Transaction) => Promise<unknown>) {
      finish(change);
      await committed;
    },
    async waiting(count = 1, unless?: Promise<unknown>) {
      let settled = false;
      unless?.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [waiters] = await queryRows<{ count: number }>(
          db,
          sql`with recursive waiter(pid) as (
                select pid from pg_stat_activity where ${holder}::int = any(pg_blocking_pids(pid))
                union
                select activity.pid from pg_stat_activity activity
                  join waiter on waiter.pid = any(pg_blocking_pids(activity.pid))
              )
              select count(*)::int as count from waiter`,
        );
        if ((waiters?.count ?? 0) >= count || settled) return;
        if (Date.now() > deadline) throw new Error(`fewer than ${count} sessions waited for the lock`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
