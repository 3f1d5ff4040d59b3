import { randomInt } from 'node:crypto';
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { AppError } from '../../errors.js';
import { lockBalance, postEntry } from '../billing/ledger.js';
import { localTime } from '../billing/periods.js';
import { queryRows } from '../billing/sql.js';
import {
  type PaymentProvider,
  type PaymentStatus,
  paymentEvents,
  paymentIntents,
  paymentReceiptCounters,
  paymentReceipts,
} from './tables.js';

export type PaymentIntent = typeof paymentIntents.$inferSelect;
type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
type Executor = Database | Transaction;

/** What caused a change: the buyer, a provider webhook, the buyer's return from the provider, an admin, a job. */
export type PaymentCause = 'buyer' | 'webhook' | 'return' | 'admin' | 'system';

/**
 * The allowed moves. A payment the provider reports as paid is accepted even after it failed, was canceled or
 * expired here: the money was taken, so the credits are owed.
 */
const transitions: Record<PaymentStatus, readonly PaymentStatus[]> = {
  created: ['pending', 'paid', 'failed', 'canceled', 'expired'],
  pending: ['paid', 'failed', 'canceled', 'expired'],
  failed: ['paid'],
  canceled: ['paid'],
  expired: ['paid'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  refunded: [],
};

export const paidStatuses: readonly PaymentStatus[] = ['paid', 'partially_refunded', 'refunded'];

export interface CreateIntentOptions {
  userId: string;
  walletId: string;
  purposeRef: string;
  credits: number;
  provider: PaymentProvider;
  currency: string;
  amount: number;
  locale: string;
  expiresAt: Date;
}

export async function createIntent(db: Database, options: CreateIntentOptions): Promise<PaymentIntent> {
  return db.transaction(async (tx) => {
    const [intent] = await tx
      .insert(paymentIntents)
      .values({
        userId: options.userId,
        walletId: options.walletId,
        purpose: 'credit_pack',
        purposeRef: options.purposeRef,
        credits: options.credits,
        provider: options.provider,
        currency: options.currency,
        amount: options.amount,
        locale: options.locale,
        expiresAt: options.expiresAt,
        ...(options.provider === 'bank_transfer' ? { bankReference: bankReference() } : {}),
      })
      .returning();
    await tx.insert(paymentEvents).values({
      intentId: intent!.id,
      type: 'status_changed',
      toStatus: 'created',
      cause: 'buyer',
      actorId: options.userId,
      details: { amount: options.amount, currency: options.currency, credits: options.credits },
    });
    return intent!;
  });
}

/** `WBX-XXXX-XXXX` without look-alike characters; uniqueness is enforced by an index (a collision is retried). */
function bankReference(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const part = () => Array.from({ length: 4 }, () => alphabet[randomInt(alphabet.length)]).join('');
  return `WBX-${part()}-${part()}`;
}

export async function getIntent(db: Executor, intentId: string): Promise<PaymentIntent | undefined> {
  const [row] = await db.select().from(paymentIntents).where(eq(paymentIntents.id, intentId)).limit(1);
  return row;
}

/** The intent, only when `userId` owns it (404 otherwise, so ids of others are not revealed). */
export async function getOwnIntent(db: Database, intentId: string, userId: string): Promise<PaymentIntent> {
  const intent = await getIntent(db, intentId);
  if (!intent || intent.userId !== userId) throw new AppError('not_found', 'No such payment.');
  return intent;
}

export async function findIntentByProviderRef(
  db: Executor,
  provider: PaymentProvider,
  providerRef: string,
): Promise<PaymentIntent | undefined> {
  const [row] = await db
    .select()
    .from(paymentIntents)
    .where(and(eq(paymentIntents.provider, provider), eq(paymentIntents.providerRef, providerRef)))
    .limit(1);
  return row;
}

export async function findIntentByProviderPaymentId(
  db: Executor,
  provider: PaymentProvider,
  providerPaymentId: string,
): Promise<PaymentIntent | undefined> {
  const [row] = await db
    .select()
    .from(paymentIntents)
    .where(
      and(eq(paymentIntents.provider, provider), eq(paymentIntents.providerPaymentId, providerPaymentId)),
    )
    .limit(1);
  return row;
}

export async function listIntents(
  db: Database,
  options: { userId?: string; statuses?: PaymentStatus[]; before?: Date; limit?: number } = {},
): Promise<PaymentIntent[]> {
  const conditions = [];
  if (options.userId) conditions.push(eq(paymentIntents.userId, options.userId));
  if (options.statuses?.length) conditions.push(inArray(paymentIntents.status, options.statuses));
  if (options.before) conditions.push(lt(paymentIntents.createdAt, options.before));
  return db
    .select()
    .from(paymentIntents)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(paymentIntents.createdAt))
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 200));
}

export async function listIntentEvents(db: Database, intentId: string) {
  return db
    .select()
    .from(paymentEvents)
    .where(eq(paymentEvents.intentId, intentId))
    .orderBy(paymentEvents.id);
}

/**
 * Runs `run` in a transaction holding the intent's row lock (404 when there is no such intent): whoever else locks
 * the intent (settling, refunding, a refund event) waits until `run` is done. The handle given to `run` is the
 * transaction, typed as a `Database` so the service functions (which nest as savepoints) take it.
 */
export async function withIntentLocked<T>(
  db: Database,
  intentId: string,
  run: (tx: Database, intent: PaymentIntent) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const intent = await lockIntent(tx, intentId);
    if (!intent) throw new AppError('not_found', 'No such payment.');
    return run(tx as unknown as Database, intent);
  });
}

async function lockIntent(tx: Transaction, intentId: string): Promise<PaymentIntent | undefined> {
  const [row] = await tx
    .select()
    .from(paymentIntents)
    .where(eq(paymentIntents.id, intentId))
    .for('update')
    .limit(1);
  return row;
}

/** Where a provider event came from; the pair is unique, so a replayed or duplicated event is done once. */
export interface ProviderEventRef {
  provider: PaymentProvider;
  eventId: string;
  type: string;
}

/**
 * Claims a provider event inside `tx`. Answers false when it was already recorded (a duplicate or replay).
 * Runs inside the transaction that acts on it, so a failure halfway leaves the event unclaimed for the retry.
 */
async function claimEvent(
  tx: Transaction,
  event: ProviderEventRef | undefined,
  intentId: string | null,
  details: Record<string, unknown>,
): Promise<boolean> {
  if (!event) return true;
  const rows = await tx
    .insert(paymentEvents)
    .values({
      intentId,
      provider: event.provider,
      providerEventId: event.eventId,
      type: `webhook:${event.type}`,
      cause: 'webhook',
      details,
    })
    .onConflictDoNothing()
    .returning({ id: paymentEvents.id });
  return rows.length > 0;
}

/** True when this provider event was already handled (checked before any call to the provider). */
export async function eventSeen(db: Database, event: ProviderEventRef): Promise<boolean> {
  const [row] = await db
    .select({ id: paymentEvents.id })
    .from(paymentEvents)
    .where(and(eq(paymentEvents.provider, event.provider), eq(paymentEvents.providerEventId, event.eventId)))
    .limit(1);
  return Boolean(row);
}

/** Records a provider event that changes nothing (unknown intent, mismatch, stale); a replay of it is a no-op. */
export async function recordIgnoredEvent(
  db: Database,
  options: {
    event: ProviderEventRef;
    intentId?: string | null;
    reason: string;
    details?: Record<string, unknown>;
  },
): Promise<void> {
  await recordProviderEvent(db, {
    event: options.event,
    intentId: options.intentId,
    details: { ignored: options.reason, ...options.details },
  });
}

/**
 * Records a provider event on the intent's history that changes no money (a dispute opened); a replay is a no-op.
 * Answers false when the event was already recorded.
 */
export async function recordProviderEvent(
  db: Database,
  options: { event: ProviderEventRef; intentId?: string | null; details?: Record<string, unknown> },
): Promise<boolean> {
  const rows = await db
    .insert(paymentEvents)
    .values({
      intentId: options.intentId ?? null,
      provider: options.event.provider,
      providerEventId: options.event.eventId,
      type: `webhook:${options.event.type}`,
      cause: 'webhook',
      details: options.details ?? {},
    })
    .onConflictDoNothing()
    .returning({ id: paymentEvents.id });
  return rows.length > 0;
}

async function changeStatus(
  tx: Transaction,
  intent: PaymentIntent,
  to: PaymentStatus,
  change: {
    cause: PaymentCause;
    actorId?: string | null | undefined;
    details?: Record<string, unknown>;
    set?: Partial<typeof paymentIntents.$inferInsert>;
  },
): Promise<PaymentIntent> {
  if (!transitions[intent.status].includes(to)) {
    throw new AppError('conflict', `A payment cannot go from ${intent.status} to ${to}.`);
  }
  const [updated] = await tx
    .update(paymentIntents)
    .set({ ...change.set, status: to, updatedAt: new Date() })
    .where(eq(paymentIntents.id, intent.id))
    .returning();
  await tx.insert(paymentEvents).values({
    intentId: intent.id,
    type: 'status_changed',
    fromStatus: intent.status,
    toStatus: to,
    cause: change.cause,
    actorId: change.actorId ?? null,
    details: change.details ?? {},
  });
  return updated!;
}

/** Stores the provider's checkout and moves the intent to pending. */
export async function markIntentPending(
  db: Database,
  options: { intentId: string; providerRef: string; checkoutUrl?: string },
): Promise<PaymentIntent> {
  return db.transaction(async (tx) => {
    const intent = await lockIntent(tx, options.intentId);
    if (!intent) throw new AppError('not_found', 'No such payment.');
    if (intent.status !== 'created') return intent;
    return changeStatus(tx, intent, 'pending', {
      cause: 'system',
      details: { providerRef: options.providerRef },
      set: { providerRef: options.providerRef, checkoutUrl: options.checkoutUrl ?? null },
    });
  });
}

export type SettleOutcome =
  | {
      kind: 'paid';
      /** As it ends: partially refunded or refunded when refund events recorded before the payment were applied. */
      intent: PaymentIntent;
      receiptNumber: string;
      /** Refunds and chargebacks the provider reported before the payment settled, applied in its transaction. */
      refunds: AppliedRefund[];
    }
  | { kind: 'already_paid'; intent: PaymentIntent }
  | { kind: 'duplicate_event' }
  | { kind: 'unknown_intent' }
  | { kind: 'mismatch'; intent: PaymentIntent; reason: string };

export interface SettleIntentOptions {
  intentId: string;
  /** What the provider says was paid, checked against the intent before anything is granted. */
  amount: number;
  currency: string;
  providerPaymentId?: string | undefined;
  cause: PaymentCause;
  actorId?: string | undefined;
  event?: ProviderEventRef | undefined;
  details?: Record<string, unknown>;
  /**
   * IANA zone whose calendar year numbers the receipt: the business time zone billing periods use
   * (`BILLING_TIME_ZONE`), so a payment just after midnight on 1 January there is numbered in the new year.
   */
  timeZone: string;
}

/**
 * Marks an intent paid and tops the wallet up, in one transaction with its event and its receipt number. Exactly
 * once: the intent row is locked, a paid intent answers `already_paid`, the provider event id is claimed in the same
 * transaction, and the ledger entry's idempotency key is derived from the intent.
 */
export async function settlePaidIntent(db: Database, options: SettleIntentOptions): Promise<SettleOutcome> {
  return db.transaction(async (tx): Promise<SettleOutcome> => {
    const intent = await lockIntent(tx, options.intentId);
    if (!(await claimEvent(tx, options.event, intent?.id ?? null, options.details ?? {}))) {
      return { kind: 'duplicate_event' };
    }
    if (!intent) return { kind: 'unknown_intent' };
    if (paidStatuses.includes(intent.status)) return { kind: 'already_paid', intent };
    if (options.amount !== intent.amount || options.currency.toUpperCase() !== intent.currency) {
      const reason = `paid ${options.amount} ${options.currency.toUpperCase()}, expected ${intent.amount} ${intent.currency}`;
      await tx.insert(paymentEvents).values({
        intentId: intent.id,
        type: 'amount_mismatch',
        cause: options.cause,
        details: { reason },
      });
      return { kind: 'mismatch', intent, reason };
    }
    const paidAt = new Date();
    const updated = await changeStatus(tx, intent, 'paid', {
      cause: options.cause,
      actorId: options.actorId,
      details: { ...options.details, ...(options.event ? { eventId: options.event.eventId } : {}) },
      set: { paidAt, providerPaymentId: options.providerPaymentId ?? intent.providerPaymentId },
    });
    await postEntry(tx as unknown as Database, {
      walletId: intent.walletId,
      kind: 'top_up',
      amount: intent.credits,
      idempotencyKey: `payment:${intent.id}:top_up`,
      references: { paymentId: intent.id },
      details: { amount: intent.amount, currency: intent.currency, provider: intent.provider },
    });
    const receiptNumber = await issueReceiptNumber(tx, intent.id, paidAt, options.timeZone);
    // Money the provider already reported taken back (its refund events came first and were kept): taken back now, in
    // this transaction, so the credits granted above never outlive a refund of the money that bought them. The intent
    // becomes paid only here, once, so each kept event is applied once.
    let current = updated;
    const refunds: AppliedRefund[] = [];
    for (const kept of await deferredRefunds(tx, intent.id)) {
      const outcome = await takeBack(tx, current, kept.size, requestedGrowth(current, kept.size), {
        cause: 'webhook',
        refundId: kept.refundId,
        reason: kept.reason,
        eventId: kept.eventId,
      });
      if (outcome.kind !== 'refunded') continue;
      current = outcome.intent;
      refunds.push({ ...outcome, size: kept.size, eventId: kept.eventId });
    }
    return { kind: 'paid', intent: current, receiptNumber, refunds };
  });
}

/**
 * The next number of the year (the calendar year in `timeZone` at `issuedAt`), under the counter row's lock: concurrent payments wait for each other here, so numbers
 * are gap-free and never repeat. Runs in the paying transaction, so a rolled-back payment takes no number.
 */
async function issueReceiptNumber(
  tx: Transaction,
  intentId: string,
  issuedAt: Date,
  timeZone: string,
): Promise<string> {
  const { year } = localTime(issuedAt, timeZone);
  const rows = await queryRows<{ last: unknown }>(
    tx as unknown as Database,
    sql`insert into payment_receipt_counters (year, last) values (${year}, 1)
        on conflict (year) do update set last = ${paymentReceiptCounters.last} + 1
        returning last`,
  );
  const sequence = Number(rows[0]!.last);
  const number = `WBX-${year}-${String(sequence).padStart(6, '0')}`;
  await tx.insert(paymentReceipts).values({ intentId, year, sequence, number, issuedAt });
  return number;
}

export async function getReceipt(db: Database, intentId: string) {
  const [row] = await db
    .select()
    .from(paymentReceipts)
    .where(eq(paymentReceipts.intentId, intentId))
    .limit(1);
  return row;
}

export type CloseOutcome =
  | { kind: 'closed'; intent: PaymentIntent }
  | { kind: 'unchanged'; intent: PaymentIntent }
  | { kind: 'duplicate_event' }
  | { kind: 'unknown_intent' };

/** Moves an unpaid intent to failed, canceled or expired; a paid intent is never un-paid by a late event. */
export async function closeUnpaidIntent(
  db: Database,
  options: {
    intentId: string;
    to: 'failed' | 'canceled' | 'expired';
    cause: PaymentCause;
    actorId?: string | undefined;
    reason?: string;
    event?: ProviderEventRef | undefined;
  },
): Promise<CloseOutcome> {
  return db.transaction(async (tx): Promise<CloseOutcome> => {
    const intent = await lockIntent(tx, options.intentId);
    if (!(await claimEvent(tx, options.event, intent?.id ?? null, { to: options.to }))) {
      return { kind: 'duplicate_event' };
    }
    if (!intent) return { kind: 'unknown_intent' };
    if (intent.status !== 'created' && intent.status !== 'pending') return { kind: 'unchanged', intent };
    const updated = await changeStatus(tx, intent, options.to, {
      cause: options.cause,
      actorId: options.actorId,
      details: options.reason ? { reason: options.reason } : {},
      set: { failureReason: options.reason ?? null },
    });
    return { kind: 'closed', intent: updated };
  });
}

export type RefundOutcome =
  | {
      kind: 'refunded';
      intent: PaymentIntent;
      creditsReversed: number;
      /** Credits the refund should have taken back but that were already spent (policy: they stay spent). */
      creditsUncollected: number;
    }
  | { kind: 'already_applied'; intent: PaymentIntent }
  /**
   * A provider's refund or chargeback of a payment not settled here (its paid event lost or late, or the provider
   * still processing it): kept on the intent, with its event, and applied when the payment settles.
   */
  | { kind: 'deferred'; intent: PaymentIntent }
  | { kind: 'not_paid'; intent: PaymentIntent }
  | { kind: 'duplicate_event' }
  | { kind: 'unknown_intent' };

/** What refunds and chargebacks have not taken back yet, in minor units. */
export function amountLeft(intent: PaymentIntent): number {
  return intent.amount - intent.refundedAmount - intent.chargedBackAmount;
}

/**
 * The refunds' total once `amount` more (default: all that is left) is refunded. Throws 409 when the intent is not
 * paid or already fully refunded, 400 when `amount` is not between 1 and what refunds and chargebacks left. Call it on
 * a locked (or otherwise serialised) read of the intent, or two refunds can both start from the same total.
 */
export function nextRefundTotal(intent: PaymentIntent, amount: number | undefined): number {
  if (!paidStatuses.includes(intent.status) || intent.status === 'refunded') {
    throw new AppError('conflict', `A ${intent.status} payment cannot be refunded.`);
  }
  const left = amountLeft(intent);
  const refund = amount ?? left;
  if (!Number.isSafeInteger(refund) || refund <= 0 || refund > left) {
    throw new AppError('validation_failed', `The refund must be between 1 and ${left} (minor units).`);
  }
  return intent.refundedAmount + refund;
}

/**
 * How much a refund is: the provider's cumulative refunded total, an admin's amount on top of what is refunded, what
 * a chargeback took back, or (PayPal) the cumulative total of everything taken back.
 */
export type RefundSize =
  /** The CUMULATIVE amount refunded so far, as Stripe reports it (refunds only, never chargebacks). */
  | { refundedTotal: number }
  /** Minor units refunded now (undefined: all that is left), added to the total read under the intent's lock. */
  | { amount: number | undefined }
  /**
   * Minor units a lost dispute or a reversal took back, added to the chargebacks' total read under the intent's lock
   * and capped at what is left: the provider already took the money, so there is nothing to refuse.
   */
  | { chargedBack: number }
  /**
   * The CUMULATIVE amount taken back so far, refunds and chargebacks together: PayPal's `total_refunded_amount`, since
   * its reversals are refunds of the capture too. What it adds to refunds plus chargebacks is a refund or, with
   * `chargeback`, a chargeback. Events that arrive late find their growth already counted (under the other kind,
   * when a refund reported after a reversal arrives first: the money and credits are right, the label is the first's).
   */
  | { takenBackTotal: number; chargeback: boolean };

/** Minor units the refund or chargeback would add to its own total, before the cap at what is left. */
function requestedGrowth(intent: PaymentIntent, size: RefundSize): number {
  if ('refundedTotal' in size) return size.refundedTotal - intent.refundedAmount;
  if ('chargedBack' in size) return size.chargedBack;
  if ('takenBackTotal' in size) return size.takenBackTotal - intent.refundedAmount - intent.chargedBackAmount;
  return nextRefundTotal(intent, size.amount) - intent.refundedAmount;
}

/** Whether the money went back by a lost dispute or a reversal rather than a refund. */
export function isChargeback(size: RefundSize): boolean {
  return 'chargedBack' in size || ('takenBackTotal' in size && size.chargeback);
}

/** What a refund event claims, as recorded with the provider event. */
function sizeDetails(size: RefundSize): Record<string, unknown> {
  if ('refundedTotal' in size) return { refundedTotal: size.refundedTotal };
  if ('chargedBack' in size) return { chargedBack: size.chargedBack };
  if ('takenBackTotal' in size) return { takenBackTotal: size.takenBackTotal, chargeback: size.chargeback };
  return { amount: size.amount };
}

/** A provider's refund size as `sizeDetails` recorded it; undefined for anything else. */
function sizeOfDetails(details: Record<string, unknown>): ProviderRefundSize | undefined {
  const count = (value: unknown) =>
    Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
  const refundedTotal = count(details.refundedTotal);
  if (refundedTotal !== undefined) return { refundedTotal };
  const chargedBack = count(details.chargedBack);
  if (chargedBack !== undefined) return { chargedBack };
  const takenBackTotal = count(details.takenBackTotal);
  if (takenBackTotal !== undefined) return { takenBackTotal, chargeback: details.chargeback === true };
  return undefined;
}

/** The refund sizes a provider event carries (an admin's `amount` is never deferred). */
export type ProviderRefundSize = Exclude<RefundSize, { amount: number | undefined }>;

/** A refund or chargeback kept on an intent until its payment settles (see `applyRefund`). */
interface DeferredRefund {
  eventId: string;
  size: ProviderRefundSize;
  refundId: string | undefined;
  reason: string | undefined;
}

/** A refund or chargeback applied when its payment settled: what it did, and which provider event reported it. */
export type AppliedRefund = Extract<RefundOutcome, { kind: 'refunded' }> & {
  size: ProviderRefundSize;
  eventId: string;
};

/** The provider events kept on the intent by `applyRefund` while it was not paid, oldest first. */
async function deferredRefunds(tx: Transaction, intentId: string): Promise<DeferredRefund[]> {
  const rows = await tx
    .select({ eventId: paymentEvents.providerEventId, details: paymentEvents.details })
    .from(paymentEvents)
    .where(
      and(eq(paymentEvents.intentId, intentId), sql`${paymentEvents.details} @> '{"deferred": true}'::jsonb`),
    )
    .orderBy(paymentEvents.id);
  const kept: DeferredRefund[] = [];
  for (const row of rows) {
    const size = row.eventId ? sizeOfDetails(row.details) : undefined;
    if (!size || !row.eventId) continue;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    kept.push({
      eventId: row.eventId,
      size,
      refundId: text(row.details.refundId),
      reason: text(row.details.reason),
    });
  }
  return kept;
}

/**
 * Applies a refund reported by the provider given the CUMULATIVE amount refunded so far, so refund events can arrive
 * twice or out of order: only growth of the refunds' total does anything. An admin's refund made by hand passes its
 * `amount` instead: the total is computed under the intent's row lock, so two admins refunding at once add up, and a
 * refund beyond what is left is refused (see `nextRefundTotal`) with nothing changed. A chargeback (`chargedBack`) is
 * added to the chargebacks' own total under the lock, and the intent gets a `chargeback` event besides its status
 * change. Refunds and chargebacks are kept apart (a Stripe refund total is compared with refunds only, PayPal's total
 * of both with both) and together never take back more than was paid: whatever would go beyond is not applied.
 *
 * Refund policy: the credits the money taken back bought (pro rata, rounded down; all of them once everything is taken
 * back) are taken back, but never more than the wallet has available. Credits already spent stay spent and the wallet
 * never goes negative; the shortfall is recorded on the event as `creditsUncollected`. Credits reserved by holds of
 * requests in flight are not available: they count as spent (uncollected), and are not taken back later when a hold
 * settles for less. What is available is read under the wallet's row lock, in the transaction that writes the entry,
 * so a hold racing the refund lands wholly before it (its credits stay with it) or after it (and finds them gone).
 *
 * A provider's event (`event` given) for an intent that is not paid here is not dropped: the provider may report the
 * money going back before the payment (its paid event lost or late, a SEPA debit or a PayPal capture still pending).
 * The event is claimed on the intent with what it says and `deferred: true`, the outcome is `deferred`, and
 * `settlePaidIntent` applies it in the transaction that grants the credits, whichever path settles the payment. Both
 * hold the intent's row lock, so a refund event racing the paid event is applied either way exactly once.
 */
export async function applyRefund(
  db: Database,
  options: {
    intentId: string;
    cause: PaymentCause;
    actorId?: string | undefined;
    refundId?: string | undefined;
    reason?: string | undefined;
    event?: ProviderEventRef | undefined;
  } & RefundSize,
): Promise<RefundOutcome> {
  return db.transaction(async (tx): Promise<RefundOutcome> => {
    const intent = await lockIntent(tx, options.intentId);
    const deferred =
      options.event !== undefined &&
      !('amount' in options) &&
      intent !== undefined &&
      !paidStatuses.includes(intent.status);
    const claimed = await claimEvent(
      tx,
      options.event,
      intent?.id ?? null,
      deferred
        ? { ...sizeDetails(options), refundId: options.refundId, reason: options.reason, deferred: true }
        : sizeDetails(options),
    );
    if (!claimed) return { kind: 'duplicate_event' };
    if (!intent) return { kind: 'unknown_intent' };
    if (deferred) return { kind: 'deferred', intent };
    const requested = requestedGrowth(intent, options);
    if (!paidStatuses.includes(intent.status)) return { kind: 'not_paid', intent };
    return takeBack(tx, intent, options, requested, options);
  });
}

/** The `refund_requested` event an admin refund with this key left on the intent, if any. */
export async function findAdminRefund(db: Database, intentId: string, idempotencyKey: string) {
  const [row] = await db
    .select({ details: paymentEvents.details })
    .from(paymentEvents)
    .where(
      and(
        eq(paymentEvents.intentId, intentId),
        eq(paymentEvents.idempotencyKey, idempotencyKey),
        eq(paymentEvents.type, 'refund_requested'),
      ),
    )
    .limit(1);
  return row;
}

/**
 * Records that an admin refund with this key was made, and what it did. The key is unique per intent: a second
 * record of it fails (23505) rather than letting one submission refund twice.
 */
export async function recordAdminRefund(
  db: Database,
  options: { intentId: string; actorId: string; idempotencyKey: string; details: Record<string, unknown> },
): Promise<void> {
  await db.insert(paymentEvents).values({
    intentId: options.intentId,
    type: 'refund_requested',
    cause: 'admin',
    actorId: options.actorId,
    idempotencyKey: options.idempotencyKey,
    details: options.details,
  });
}

/**
 * Takes back from a paid intent, locked in `tx`, the money `size` reports (`requested` more than its own total, capped
 * at what is left) and the credits it bought, under the refund policy described at `applyRefund`.
 */
async function takeBack(
  tx: Transaction,
  intent: PaymentIntent,
  size: RefundSize,
  requested: number,
  meta: {
    cause: PaymentCause;
    actorId?: string | undefined;
    refundId?: string | undefined;
    reason?: string | undefined;
    /** The provider event kept until the payment settled, when it is that. */
    eventId?: string | undefined;
  },
): Promise<Extract<RefundOutcome, { kind: 'refunded' | 'already_applied' }>> {
  const chargeback = isChargeback(size);
  const added = Math.min(requested, amountLeft(intent));
  if (!(added > 0)) return { kind: 'already_applied', intent };
  const refundedAmount = intent.refundedAmount + (chargeback ? 0 : added);
  const chargedBackAmount = intent.chargedBackAmount + (chargeback ? added : 0);
  // What the credits follow: all the money taken back, whichever way it went.
  const takenBack = refundedAmount + chargedBackAmount;

  const target =
    takenBack === intent.amount
      ? intent.credits
      : Number((BigInt(intent.credits) * BigInt(takenBack)) / BigInt(intent.amount));
  const owed = Math.max(0, target - intent.creditsReversed);
  // Read under the wallet's row lock, held until this transaction commits with the entry: a hold landing meanwhile
  // waits, so what is available cannot shrink between this read and the debit (which would refuse it with a 402
  // although the provider already sent the money back).
  const { available } = await lockBalance(tx as unknown as Database, intent.walletId);
  const taken = Math.min(owed, Math.max(0, available));
  if (taken > 0) {
    await postEntry(tx as unknown as Database, {
      walletId: intent.walletId,
      kind: 'adjustment',
      amount: -taken,
      // The total taken back only grows, so the key is new for each change (and the same as before chargebacks
      // had their own column, when it was the refunded total).
      idempotencyKey: `payment:${intent.id}:${chargeback ? 'chargeback' : 'refund'}:${takenBack}`,
      reason: `${chargeback ? 'chargeback' : 'refund'} of payment ${intent.id}`,
      references: { paymentId: intent.id },
      details: {
        refundedTotal: refundedAmount,
        chargedBackTotal: chargedBackAmount,
        currency: intent.currency,
      },
    });
  }
  const change = {
    refundedTotal: refundedAmount,
    chargedBackTotal: chargedBackAmount,
    refundId: meta.refundId,
    reason: meta.reason,
    creditsReversed: taken,
    creditsUncollected: owed - taken,
    ...(meta.eventId ? { deferredEventId: meta.eventId } : {}),
  };
  if (chargeback) {
    // Its own event, so the intent's history says the money was taken back by a dispute, not refunded by us.
    await tx.insert(paymentEvents).values({
      intentId: intent.id,
      type: 'chargeback',
      cause: meta.cause,
      actorId: meta.actorId ?? null,
      details: { ...change, chargedBack: added },
    });
  }
  const updated = await changeStatus(
    tx,
    intent,
    takenBack === intent.amount ? 'refunded' : 'partially_refunded',
    {
      cause: meta.cause,
      actorId: meta.actorId,
      details: chargeback ? { ...change, chargeback: true } : change,
      set: { refundedAmount, chargedBackAmount, creditsReversed: intent.creditsReversed + owed },
    },
  );
  return { kind: 'refunded', intent: updated, creditsReversed: taken, creditsUncollected: owed - taken };
}

/** Records something that happened to an intent without changing its status (proof uploaded, refund asked). */
export async function recordIntentEvent(
  db: Database,
  options: {
    intentId: string;
    type: string;
    cause: PaymentCause;
    actorId?: string | null;
    details?: Record<string, unknown>;
  },
): Promise<void> {
  await db.insert(paymentEvents).values({
    intentId: options.intentId,
    type: options.type,
    cause: options.cause,
    actorId: options.actorId ?? null,
    details: options.details ?? {},
  });
}

/** Expires unpaid intents past their deadline (a job runs it; a late payment can still settle them). */
export async function expireIntents(db: Database, now: Date = new Date()): Promise<number> {
  const due = await db
    .select({ id: paymentIntents.id })
    .from(paymentIntents)
    .where(and(inArray(paymentIntents.status, ['created', 'pending']), lt(paymentIntents.expiresAt, now)))
    .limit(500);
  let expired = 0;
  for (const { id } of due) {
    const outcome = await closeUnpaidIntent(db, { intentId: id, to: 'expired', cause: 'system' });
    if (outcome.kind === 'closed') expired += 1;
  }
  return expired;
}

/** True when the error is the unique bank reference colliding (retry with a new one). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}
