import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mentionsIn, type Redaction, redactDocument } from '../accounts/redaction.js';
import { paymentEvents, paymentIntents } from './tables.js';

/**
 * Takes an erased person's addresses and name out of the history of their payments (`payment_events.details`: what
 * admins typed, a refund's reason or a transfer's note, "refunded jane@example.com"), in batches of `batchSize` rows,
 * each its own statement. Amounts, statuses, ids and the ledger are untouched: the money records stay whole. Safe to
 * run again: text already replaced no longer matches. Returns how many events changed.
 */
export async function forgetPaymentMentions(
  db: Database,
  options: { userId: string; redaction: Redaction; batchSize: number },
): Promise<number> {
  const theirs = db
    .select({ id: paymentIntents.id })
    .from(paymentIntents)
    .where(eq(paymentIntents.userId, options.userId));
  let changed = 0;
  let after = 0;
  for (;;) {
    const rows = await db
      .select({ id: paymentEvents.id, details: paymentEvents.details })
      .from(paymentEvents)
      .where(
        and(
          inArray(paymentEvents.intentId, theirs),
          gt(paymentEvents.id, after),
          mentionsIn(paymentEvents.details, options.redaction, { withName: true }),
        ),
      )
      .orderBy(asc(paymentEvents.id))
      .limit(options.batchSize);
    for (const row of rows) {
      const details = redactDocument(row.details, options.redaction, { withName: true });
      if (!details) continue;
      await db.update(paymentEvents).set({ details }).where(eq(paymentEvents.id, row.id));
      changed += 1;
    }
    if (rows.length < options.batchSize) return changed;
    after = rows.at(-1)!.id;
  }
}
