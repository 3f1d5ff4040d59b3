import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { releaseHold, systemWalletId } from './ledger.js';
import { queryRows, toCredits } from './sql.js';

/**
 * Credit leases: the fast path of metering for wallets far from empty.
 *
 * Holding and settling every request with its own statements costs a database round trip before and after each
 * provider call (on PGlite, a message to its worker thread and back, and its single connection queues them).
 * Instead, a process reserves a block of a wallet's credits as one ordinary hold (the lease: a `credit_holds` row
 * counted in `wallets.held`, with the usual TTL), then takes each request's worst case from it in memory and gives
 * back what the request did not use. The usage entries are written in batches a few milliseconds later, each batch
 * in one statement that inserts the entries, charges the wallet and shrinks the lease together; a batch holds one
 * entry for all its calls of the same lease, model, key, member and price version (`PendingEntry`).
 *
 * What still holds:
 * - No overspending: a request is only admitted against credits the database already holds for this process;
 *   a lease takes at most a quarter of what the wallet has available, so several processes share a wallet.
 * - Exactly once: every entry has its own idempotency key and every charge is in one entry; a batch retried after a
 *   lost answer skips entries already written, and the whole batch commits or none of it does.
 * - Crashes: the lease row has the hold TTL (renewed while the process lives), so `expireHolds` returns a dead
 *   process's lease like any hold. What a killed process had served but not yet written (at most one flush
 *   interval) is not charged: the books stay balanced and nobody is charged twice.
 * - Small wallets: when a quarter of the available credits would not cover `minRequests` worst cases, no lease is
 *   taken and the caller uses per-request holds, which decide every request exactly at the edge of a wallet.
 */
export interface CreditLeaseOptions {
  db: Database;
  /** Lifetime of a lease row without renewal (the hold TTL). */
  ttlSeconds: number;
  /** Pending charges are written at most this long after the answer (default 250 ms, as usage records). */
  flushEveryMs?: number;
  /** A lease is sized for this many concurrent worst cases (default 128). */
  requestsPerLease?: number;
  /** No lease is taken unless it covers at least this many worst cases (default 32). */
  minRequests?: number;
  /** An unused lease is given back after this long (default 2 s). */
  idleMs?: number;
  onError?: (error: unknown, context: string) => void;
}

/** A request's worst case, taken from a lease. */
export interface LeaseReservation {
  readonly walletId: string;
  readonly holdId: string;
  readonly amount: number;
}

export interface LeaseCharge {
  requestId: string;
  idempotencyKey: string;
  model?: string | undefined;
  keyId?: string | undefined;
  memberUserId?: string | undefined;
  priceVersion?: number | undefined;
  details: LeaseUsageDetails;
}

/** The tokens a leased usage entry records in its `details`, with what was requested and left uncollected. */
export interface LeaseUsageDetails {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
}

interface Lease {
  walletId: string;
  holdId: string;
  /** Leased and not reserved by any request. */
  remaining: number;
  /** Reserved by requests in flight. */
  outstanding: number;
  /** The wallet's balance as last read, minus what was charged here since. */
  balance: number;
  lastUsedAt: number;
}

/**
 * The charges of one batch that share a wallet, lease, model, key, member and price version: written as ONE usage
 * entry (amount and tokens summed, `details.requests` calls; a lone call's names its request). The per-call detail is in
 * the usage records; the ledger keeps what moves money. Its idempotency key is its first charge's.
 */
interface PendingEntry {
  walletId: string;
  holdId: string;
  /** Credits charged (> 0). */
  amount: number;
  idempotencyKey: string;
  /** The first charge's request: named by the entry when it stands for that call alone. */
  requestId: string;
  model: string | null;
  keyId: string | null;
  memberUserId: string | null;
  priceVersion: number | null;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  requested: number;
  uncollected: number;
}

const LEASE_SHARE_DIVISOR = 4;
const MAX_BATCH = 1_000;

export class CreditLeases {
  readonly stats = { leasesTaken: 0, extensions: 0, flushes: 0, entries: 0, lateEntries: 0, refusals: 0 };
  readonly #leases = new Map<string, Lease>();
  /** Wallets too small to lease, until the given time (ms). */
  readonly #noLeaseUntil = new Map<string, number>();
  readonly #growing = new Map<string, Promise<void>>();
  /** Charges not yet in a batch, by group (lease, model, key, member, price version). */
  #pending = new Map<string, PendingEntry>();
  /** A batch whose write failed: retried exactly as it was, before anything newer. */
  #failed: PendingEntry[] | undefined;
  /** The batch being written now. */
  #writing: PendingEntry[] = [];
  #flushing: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = 0;
  readonly #maintenance: NodeJS.Timeout;
  readonly #flushEveryMs: number;
  readonly #requestsPerLease: number;
  readonly #minRequests: number;
  readonly #idleMs: number;
  #closed = false;

  constructor(private readonly options: CreditLeaseOptions) {
    this.#flushEveryMs = options.flushEveryMs ?? 250;
    this.#requestsPerLease = options.requestsPerLease ?? 128;
    this.#minRequests = options.minRequests ?? 32;
    this.#idleMs = options.idleMs ?? 2_000;
    // Renew live leases well within their TTL; give idle ones back.
    const every = Math.min(this.#idleMs, (options.ttlSeconds * 1000) / 3);
    this.#maintenance = setInterval(() => {
      this.#maintain().catch((error) => options.onError?.(error, 'lease maintenance'));
    }, every);
    this.#maintenance.unref();
  }

  /**
   * Takes `amount` from this process's lease on the wallet, growing or taking the lease when needed. Undefined when
   * the wallet is too small to lease: the caller then holds the request on its own.
   */
  async reserve(walletId: string, amount: number): Promise<LeaseReservation | undefined> {
    if (this.#closed) return undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const lease = this.#leases.get(walletId);
      if (lease && lease.remaining >= amount) {
        lease.remaining -= amount;
        lease.outstanding += amount;
        lease.lastUsedAt = Date.now();
        return { walletId, holdId: lease.holdId, amount };
      }
      if ((this.#noLeaseUntil.get(walletId) ?? 0) > Date.now()) return undefined;
      let growing = this.#growing.get(walletId);
      if (!growing) {
        growing = this.#grow(walletId, amount).finally(() => this.#growing.delete(walletId));
        this.#growing.set(walletId, growing);
      }
      await growing;
    }
    return undefined;
  }

  /**
   * Charges a leased request (at most its reservation plus what the lease has left; the rest is uncollected) and
   * returns the rest to the lease. The entry is written with the next batch.
   */
  settle(
    reservation: LeaseReservation,
    cost: number,
    charge: LeaseCharge,
  ): { charged: number; balance: number; uncollected: number } {
    const lease = this.#leases.get(reservation.walletId);
    const sameLease = lease?.holdId === reservation.holdId ? lease : undefined;
    // A lease that lapsed meanwhile: the entry is charged from what the wallet has when it is written.
    const charged = sameLease ? Math.min(cost, reservation.amount + sameLease.remaining) : cost;
    if (sameLease) {
      sameLease.outstanding -= reservation.amount;
      sameLease.remaining += reservation.amount - charged;
      sameLease.balance -= charged;
      sameLease.lastUsedAt = Date.now();
    }
    if (charged > 0) {
      const model = charge.model ?? null;
      const keyId = charge.keyId ?? null;
      const memberUserId = charge.memberUserId ?? null;
      const priceVersion = charge.priceVersion ?? null;
      const group = `${reservation.holdId} ${model} ${keyId} ${memberUserId} ${priceVersion}`;
      const entry = this.#pending.get(group);
      if (entry) {
        entry.amount += charged;
        entry.requests++;
        entry.inputTokens += charge.details.inputTokens;
        entry.outputTokens += charge.details.outputTokens;
        entry.cachedInputTokens += charge.details.cachedInputTokens;
        entry.requested += cost;
        entry.uncollected += cost - charged;
      } else {
        this.#pending.set(group, {
          walletId: reservation.walletId,
          holdId: reservation.holdId,
          amount: charged,
          idempotencyKey: charge.idempotencyKey,
          requestId: charge.requestId,
          model,
          keyId,
          memberUserId,
          priceVersion,
          requests: 1,
          inputTokens: charge.details.inputTokens,
          outputTokens: charge.details.outputTokens,
          cachedInputTokens: charge.details.cachedInputTokens,
          requested: cost,
          uncollected: cost - charged,
        });
        this.#scheduleFlush();
      }
    }
    return { charged, balance: sameLease?.balance ?? 0, uncollected: cost - charged };
  }

  /** Gives a reservation back whole (the request failed before any usage). */
  release(reservation: LeaseReservation): void {
    const lease = this.#leases.get(reservation.walletId);
    if (lease?.holdId !== reservation.holdId) return;
    lease.outstanding -= reservation.amount;
    lease.remaining += reservation.amount;
  }

  /**
   * Gives back the unreserved part of this process's lease on a wallet (before a per-request hold is refused for
   * want of credits) and stops leasing it for a while. True when anything was given back.
   */
  async surrender(walletId: string): Promise<boolean> {
    this.#noLeaseUntil.set(walletId, Date.now() + this.#idleMs);
    const lease = this.#leases.get(walletId);
    if (!lease || lease.remaining === 0) return false;
    const amount = lease.remaining;
    lease.remaining = 0;
    await this.#shrink(lease.holdId, amount);
    return true;
  }

  /** Writes every pending entry now (reads of balances and statements call this first). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0 || this.#failed || this.#flushing) {
      if (this.#flushing) {
        await this.#flushing;
        continue;
      }
      this.#startFlush();
      await this.#flushing;
      if (this.#retryDelayMs > 0) return; // the database is failing; the timer keeps retrying
    }
  }

  /** Writes what is pending and gives every lease without requests in flight back. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#maintenance);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    await this.flush();
    for (const lease of [...this.#leases.values()]) {
      if (lease.outstanding > 0) continue; // the TTL returns it
      this.#leases.delete(lease.walletId);
      await releaseHold(this.options.db, { holdId: lease.holdId }).catch((error) =>
        this.options.onError?.(error, 'returning a lease'),
      );
    }
  }

  async #grow(walletId: string, amount: number): Promise<void> {
    const target = amount * this.#requestsPerLease;
    const minimum = Math.max(1, amount * this.#minRequests);
    const expiresAt = new Date(Date.now() + this.options.ttlSeconds * 1000).toISOString();
    const lease = this.#leases.get(walletId);
    if (lease) {
      const [row] = await queryRows<{ granted: unknown; balance: unknown; extended: string | null }>(
        this.options.db,
        sql`
          with g as (
            select id, least(${target}::bigint, (balance - held) / ${LEASE_SHARE_DIVISOR}) as granted
            from wallets where id = ${walletId} for update
          ),
          h as (
            update credit_holds set amount = credit_holds.amount + g.granted, expires_at = ${expiresAt}::timestamptz
            from g where credit_holds.id = ${lease.holdId} and credit_holds.status = 'active' and g.granted >= ${minimum}::bigint
            returning credit_holds.id, g.granted
          ),
          w as (
            update wallets set held = wallets.held + h.granted, updated_at = now()
            from h where wallets.id = ${walletId}
            returning wallets.balance
          )
          select (select granted from g) as granted, (select balance from w) as balance,
                 (select id::text from h) as extended`,
      );
      if (row?.extended) {
        lease.remaining += toCredits(row.granted);
        lease.balance = toCredits(row.balance) - this.#pendingFor(walletId);
        this.stats.extensions++;
        return;
      }
      if (toCredits(row?.granted) >= minimum) {
        // The lease row lapsed (expired by its TTL): its requests are charged late; start a new lease.
        this.#leases.delete(walletId);
      } else {
        this.#noLeaseUntil.set(walletId, Date.now() + this.#idleMs);
        return;
      }
    }
    const [row] = await queryRows<{ id: string; granted: unknown; balance: unknown }>(
      this.options.db,
      sql`
        with g as (
          select id, least(${target}::bigint, (balance - held) / ${LEASE_SHARE_DIVISOR}) as granted
          from wallets where id = ${walletId} and owner_type <> 'system' for update
        ),
        w as (
          update wallets set held = wallets.held + g.granted, updated_at = now()
          from g where wallets.id = g.id and g.granted >= ${minimum}::bigint
          returning wallets.id, wallets.balance, g.granted
        ),
        h as (
          insert into credit_holds (wallet_id, amount, request_id, expires_at)
          select w.id, w.granted, ${`lease:${process.pid}`}, ${expiresAt}::timestamptz from w
          returning id
        )
        select h.id, w.granted, w.balance from h, w`,
    );
    if (!row) {
      this.#noLeaseUntil.set(walletId, Date.now() + this.#idleMs);
      return;
    }
    this.stats.leasesTaken++;
    this.#leases.set(walletId, {
      walletId,
      holdId: row.id,
      remaining: toCredits(row.granted),
      outstanding: 0,
      balance: toCredits(row.balance) - this.#pendingFor(walletId),
      lastUsedAt: Date.now(),
    });
  }

  /** Credits charged here and not yet written (by default counting the batch being written). */
  #pendingFor(walletId: string, options: { writing: boolean } = { writing: true }): number {
    let total = 0;
    const lists = [this.#pending.values(), this.#failed ?? [], options.writing ? this.#writing : []];
    for (const list of lists)
      for (const entry of list) if (entry.walletId === walletId) total += entry.amount;
    return total;
  }

  #scheduleFlush() {
    if (this.#flushTimer || this.#flushing) return;
    const delay = this.#pending.size >= MAX_BATCH ? 0 : Math.max(this.#flushEveryMs, this.#retryDelayMs);
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#startFlush();
    }, delay);
  }

  /** Up to MAX_BATCH pending groups, out of the pending map (the oldest first). */
  #takePending(): PendingEntry[] {
    const batch: PendingEntry[] = [];
    for (const [group, entry] of this.#pending) {
      if (batch.length === MAX_BATCH) break;
      batch.push(entry);
      this.#pending.delete(group);
    }
    return batch;
  }

  #startFlush() {
    if (this.#flushing || (this.#pending.size === 0 && !this.#failed)) return;
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const retry = this.#failed !== undefined;
    const batch = this.#failed ?? this.#takePending();
    this.#failed = undefined;
    this.#writing = batch;
    this.#flushing = this.#write(batch, retry)
      .then(() => {
        this.#retryDelayMs = 0;
      })
      .catch((error: unknown) => {
        // Retried as it is: its statement may have committed (its answer lost, or a late entry's charge failing
        // after it), and a retry skips every entry already written, each by its own key.
        this.#failed = batch;
        this.#retryDelayMs = Math.min(5_000, Math.max(100, this.#retryDelayMs * 2));
        this.options.onError?.(error, 'writing usage entries');
      })
      .finally(() => {
        this.#writing = [];
        this.#flushing = undefined;
        if (this.#pending.size > 0 || this.#failed) this.#scheduleFlush();
      });
  }

  /**
   * Writes a batch. On a retry each entry is looked up by its own key, so what an earlier attempt wrote is skipped:
   * not by the first entry's key alone, since an entry whose lease lapsed is not written by the batch (it is charged
   * late, after it) and may come first. A first attempt checks nothing (its keys are new).
   */
  async #write(batch: PendingEntry[], retry: boolean): Promise<void> {
    const db = this.options.db;
    const revenue = await systemWalletId(db, 'revenue');
    const expiresAt = new Date(Date.now() + this.options.ttlSeconds * 1000).toISOString();
    const rows = JSON.stringify(batch.map((entry, ord) => usageRow(entry, ord)));
    // billing_write_usage_batch (migrations 0008, 0014) inserts the entries, charges the wallets and shrinks the leases.
    const result = await queryRows<{ kind: 'wallet' | 'late'; id: string; balance: unknown }>(
      db,
      sql`select * from billing_write_usage_batch(${rows}::json, ${retry ? batch[0]!.idempotencyKey : null}, ${revenue}::uuid, ${expiresAt}::timestamptz)`,
    );
    this.stats.flushes++;
    for (const row of result) {
      if (row.kind === 'wallet') {
        const lease = this.#leases.get(row.id);
        if (lease) lease.balance = toCredits(row.balance) - this.#pendingFor(row.id, { writing: false });
        continue;
      }
      const entry = batch.find((candidate) => candidate.idempotencyKey === row.id);
      if (entry) await this.#chargeLate(entry, revenue);
    }
    this.stats.entries += batch.length;
  }

  /** An entry whose lease lapsed before it was written: charged from what the wallet has available. */
  async #chargeLate(entry: PendingEntry, revenue: string): Promise<void> {
    this.stats.lateEntries++;
    if (this.#leases.get(entry.walletId)?.holdId === entry.holdId) this.#leases.delete(entry.walletId);
    const row = usageRow(entry, 0);
    const { details } = row;
    await this.options.db.execute(sql`
      with c as (
        select id, least(${entry.amount}::bigint, balance - held) as charged from wallets
        where id = ${entry.walletId} and balance - held > 0
          and not exists (select 1 from ledger_entries where idempotency_key = ${entry.idempotencyKey})
        for update
      ),
      w as (
        update wallets set balance = wallets.balance - c.charged, updated_at = now()
        from c where wallets.id = c.id
        returning wallets.id, wallets.balance, c.charged
      )
      insert into ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
        hold_id, request_id, model, key_id, member_user_id, price_version, details)
      select ${entry.idempotencyKey}, 'usage', w.id, ${revenue}::uuid, -w.charged, w.balance, ${entry.holdId}::uuid,
        ${row.request_id}, ${entry.model}, ${entry.keyId}, ${entry.memberUserId}, ${entry.priceVersion}::int,
        ${JSON.stringify(details)}::jsonb || jsonb_build_object('uncollected', ${entry.requested}::bigint - w.charged)
      from w where w.charged > 0`);
  }

  async #shrink(holdId: string, amount: number): Promise<void> {
    await this.options.db.execute(sql`
      with h as (
        update credit_holds set amount = amount - ${amount}::bigint
        where id = ${holdId} and status = 'active' and amount >= ${amount}::bigint
        returning wallet_id
      )
      update wallets set held = wallets.held - ${amount}::bigint, updated_at = now()
      from h where wallets.id = h.wallet_id`);
  }

  async #maintain(): Promise<void> {
    const now = Date.now();
    for (const [walletId, until] of this.#noLeaseUntil) if (until <= now) this.#noLeaseUntil.delete(walletId);
    const renew: string[] = [];
    for (const lease of [...this.#leases.values()]) {
      const busy =
        lease.outstanding > 0 || this.#flushing !== undefined || this.#pendingFor(lease.walletId) > 0;
      if (!busy && now - lease.lastUsedAt >= this.#idleMs && !this.#growing.has(lease.walletId)) {
        this.#leases.delete(lease.walletId);
        await releaseHold(this.options.db, { holdId: lease.holdId });
      } else renew.push(lease.holdId);
    }
    if (renew.length === 0) return;
    const expiresAt = new Date(Date.now() + this.options.ttlSeconds * 1000).toISOString();
    await this.options.db.execute(sql`
      update credit_holds set expires_at = ${expiresAt}::timestamptz
      where id in (select unnest(${`{${renew.join(',')}}`}::uuid[])) and status = 'active'`);
  }
}

/** A batch entry as `billing_write_usage_batch` (migrations 0008, 0014) reads it. */
function usageRow(entry: PendingEntry, ord: number) {
  return {
    ord,
    k: entry.idempotencyKey,
    wallet_id: entry.walletId,
    hold_id: entry.holdId,
    amount: entry.amount,
    request_id: entry.requests === 1 ? entry.requestId : null,
    model: entry.model,
    key_id: entry.keyId,
    member_user_id: entry.memberUserId,
    price_version: entry.priceVersion,
    details: {
      requests: entry.requests,
      inputTokens: entry.inputTokens,
      outputTokens: entry.outputTokens,
      cachedInputTokens: entry.cachedInputTokens,
      requested: entry.requested,
      uncollected: entry.uncollected,
    },
  };
}
