import { and, asc, eq, gt, inArray, isNotNull, isNull, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { forgetPaymentMentions } from '../payments/erasure.js';
import { erasedAddress, mentionsIn, type Redaction, redactDocument } from './redaction.js';
import { accountErasures, auditEvents, sessions } from './tables.js';

/** Rows changed per statement: each batch is its own short statement, so no lock or embedded database is held long. */
export const ERASURE_BATCH_SIZE = 500;

/**
 * Event types whose details may name a person without carrying their id in `user_id` or `actor_id`: an admin's outbox
 * read filtered by someone's address. Any other event that mentions a person must carry their id (erasure looks for
 * mentions among those events only, not through the whole journal).
 */
const MENTIONS_WITHOUT_ID = ['admin.outbox_read'];

/**
 * Pseudonymises what an erased account left in the audit trail, in batches, after the erasure has committed:
 * - the IP address and user agent go from its sessions, and from every event it made: as the actor (an admin's
 *   actions), or about itself with no other actor (sign-ins, failed ones included, key and payment events). Events
 *   someone else made about it (an admin refunding or disabling it) keep that person's IP and user agent;
 * - its addresses become `deleted-<id>@deleted.invalid`, and its name `[erased]`, in the details of the events about it
 *   or by it (an email change, a refund's reason an admin typed) and in an admin's outbox read filtered by its address;
 * - the same in the history of its payments (`forgetPaymentMentions`).
 * Every event, payment event and ledger entry stays, with its type, time, ids and amounts. Runs for the account's
 * `account_erasures` row (written by the erasure's transaction), whose deletion at the end says it is done; safe to
 * run again, and the erasure sweep runs it for any row a stopped process left.
 */
export async function forgetAuditTrail(
  db: Database,
  options: { userId: string; batchSize?: number },
): Promise<boolean> {
  const [pending] = await db
    .select()
    .from(accountErasures)
    .where(eq(accountErasures.userId, options.userId))
    .limit(1);
  if (!pending) return false;
  const userId = options.userId;
  const batchSize = options.batchSize ?? ERASURE_BATCH_SIZE;
  const redaction: Redaction = {
    addresses: pending.addresses,
    name: pending.name,
    addressReplacement: erasedAddress(userId),
  };

  await inBatches(batchSize, () =>
    db
      .update(sessions)
      .set({ ip: null, userAgent: null })
      .where(
        inArray(
          sessions.id,
          db
            .select({ id: sessions.id })
            .from(sessions)
            .where(
              and(eq(sessions.userId, userId), or(isNotNull(sessions.ip), isNotNull(sessions.userAgent))),
            )
            .limit(batchSize),
        ),
      )
      .returning({ id: sessions.id }),
  );

  const madeByThem = or(
    eq(auditEvents.actorId, userId),
    and(eq(auditEvents.userId, userId), isNull(auditEvents.actorId)),
  );
  await inBatches(batchSize, () =>
    db
      .update(auditEvents)
      .set({ ip: null, userAgent: null })
      .where(
        inArray(
          auditEvents.id,
          db
            .select({ id: auditEvents.id })
            .from(auditEvents)
            .where(and(madeByThem, or(isNotNull(auditEvents.ip), isNotNull(auditEvents.userAgent))))
            .limit(batchSize),
        ),
      )
      .returning({ id: auditEvents.id }),
  );

  // Their name only where the event is about them or by them: elsewhere the same name may be someone else's.
  let after: string | undefined;
  for (;;) {
    const rows = await db
      .select({
        id: auditEvents.id,
        userId: auditEvents.userId,
        actorId: auditEvents.actorId,
        details: auditEvents.details,
      })
      .from(auditEvents)
      .where(
        and(
          or(
            eq(auditEvents.userId, userId),
            eq(auditEvents.actorId, userId),
            inArray(auditEvents.type, MENTIONS_WITHOUT_ID),
          ),
          mentionsIn(auditEvents.details, redaction, { withName: true }),
          after === undefined ? undefined : gt(auditEvents.id, after),
        ),
      )
      .orderBy(asc(auditEvents.id))
      .limit(batchSize);
    for (const row of rows) {
      const withName = row.userId === userId || row.actorId === userId;
      const details = redactDocument(row.details, redaction, { withName });
      if (details) await db.update(auditEvents).set({ details }).where(eq(auditEvents.id, row.id));
    }
    if (rows.length < batchSize) break;
    after = rows.at(-1)!.id;
  }

  await forgetPaymentMentions(db, { userId, redaction, batchSize });
  await db.delete(accountErasures).where(eq(accountErasures.userId, userId));
  return true;
}

/** Erased accounts whose trail is not pseudonymised yet (a process stopped first, or erased before this existed). */
export async function pendingTrails(db: Database): Promise<string[]> {
  const rows = await db.select({ userId: accountErasures.userId }).from(accountErasures);
  return rows.map((row) => row.userId);
}

async function inBatches(batchSize: number, batch: () => Promise<unknown[]>): Promise<void> {
  for (;;) {
    if ((await batch()).length < batchSize) return;
  }
}
