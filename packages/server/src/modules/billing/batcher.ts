import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  DEFAULT_HOLD_TTL_SECONDS,
  expireHolds,
  getBalance,
  type HoldCreditsOptions,
  holdCredits,
  insufficientCreditsError,
  type SettleHoldOptions,
  type SettleResult,
  settleHold,
  systemWalletId,
} from './ledger.js';
import { queryRows, toCredits } from './sql.js';

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: while a batch is being written, new calls queue up and go together in the next one. A lone call
 * goes at once, so batching adds no latency when the server is quiet and saves a statement per call when it is busy.
 */
class GroupCommit<Item, Result> {
  readonly #queue: Array<Pending<Item, Result>> = [];
  #inFlight = 0;

  constructor(
    private readonly write: (batch: Array<Pending<Item, Result>>) => Promise<void>,
    private readonly maxBatchSize: number,
    private readonly maxInFlight: number,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  #pump() {
    while (this.#inFlight < this.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.maxBatchSize);
      this.#inFlight++;
      this.write(batch)
        .catch((error: unknown) => {
          for (const pending of batch) pending.reject(error);
        })
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }
}

export interface LedgerBatcherOptions {
  /** Most calls written by one statement (default 200). */
  maxBatchSize?: number;
  /** Batches written at the same time: 1 suits PGlite (one connection); a few suit a PostgreSQL pool (default 1). */
  maxInFlight?: number;
}

type HoldResult = Awaited<ReturnType<typeof holdCredits>>;

/**
 * holdCredits and settleHold with group commit, same contract as the single-call functions. A batch only takes the
 * easy cases in one statement (holds that fit in order; settles of an active hold at or below the hold); anything
 * else in it (a hold refused in the batch, an expired or already settled hold, an overage, a duplicate, a batch
 * that failed) is retried through the single-call function, which decides exactly as it always does.
 */
export class LedgerBatcher {
  /** How calls were written: in a batch, or one by one (alone, or decided singly after a batch). */
  readonly stats = { batchedHolds: 0, singleHolds: 0, batchedSettles: 0, singleSettles: 0, failedBatches: 0 };
  readonly #holds: GroupCommit<HoldCreditsOptions, HoldResult>;
  readonly #settles: GroupCommit<SettleHoldOptions, SettleResult>;

  constructor(
    private readonly db: Database,
    options: LedgerBatcherOptions = {},
  ) {
    const size = options.maxBatchSize ?? 200;
    const inFlight = options.maxInFlight ?? 1;
    this.#holds = new GroupCommit((batch) => this.#writeHolds(batch), size, inFlight);
    this.#settles = new GroupCommit((batch) => this.#writeSettles(batch), size, inFlight);
  }

  holdCredits(options: HoldCreditsOptions): Promise<HoldResult> {
    return this.#holds.submit(options);
  }

  settleHold(options: SettleHoldOptions): Promise<SettleResult> {
    return this.#settles.submit(options);
  }

  async #writeHolds(batch: Array<Pending<HoldCreditsOptions, HoldResult>>) {
    if (batch.length === 1) {
      this.stats.singleHolds++;
      return settleOne(batch[0]!, () => holdCredits(this.db, batch[0]!.item));
    }
    const valid = batch.filter(
      ({ item }) => Number.isSafeInteger(item.amount) && item.amount >= 0 && (item.ttlSeconds ?? 1) > 0,
    );
    const requests = valid.map(({ item }, index) => ({
      i: index,
      id: randomUUID(),
      wallet_id: item.walletId,
      amount: item.amount,
      request_id: item.requestId,
      member_user_id: item.memberUserId ?? null,
      expires_at: new Date(
        (item.now ?? new Date()).getTime() + (item.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS) * 1000,
      ).toISOString(),
    }));
    let accepted = new Map<string, number>();
    // True once the batch statement ran: a request it did not accept was refused for want of credits.
    let decided =
      requests.length > 0 && requests.every((request) => /^[0-9a-f-]{36}$/i.test(request.wallet_id));
    if (requests.length > 0 && requests.every((request) => /^[0-9a-f-]{36}$/i.test(request.wallet_id))) {
      try {
        // Wallets are locked in id order, so concurrent batches (several processes) cannot deadlock each other.
        const rows = await queryRows<{ id: string; available: unknown }>(
          this.db,
          sql`
            with req as (
              select * from jsonb_to_recordset(${JSON.stringify(requests)}::jsonb)
                as r(i int, id uuid, wallet_id uuid, amount bigint, request_id text, member_user_id text, expires_at timestamptz)
            ),
            locked as (
              select id, balance - held as available from wallets
              where id in (select wallet_id from req) and owner_type <> 'system'
              order by id for update
            ),
            ranked as (
              select req.*, l.available - sum(req.amount) over (partition by req.wallet_id order by req.i) as left_after
              from req join locked l on l.id = req.wallet_id
            ),
            accepted as (select * from ranked where left_after >= 0),
            per_wallet as (select wallet_id, sum(amount)::bigint as total from accepted group by wallet_id),
            w as (
              update wallets set held = wallets.held + per_wallet.total, updated_at = now()
              from per_wallet where wallets.id = per_wallet.wallet_id
              returning wallets.id
            ),
            inserted as (
              insert into credit_holds (id, wallet_id, amount, request_id, member_user_id, expires_at)
              select id, wallet_id, amount, request_id, member_user_id, expires_at from accepted order by i
              returning id
            )
            select accepted.id, accepted.left_after as available
            from accepted join inserted on inserted.id = accepted.id`,
        );
        accepted = new Map(rows.map((row) => [row.id, toCredits(row.available)]));
      } catch {
        this.stats.failedBatches++;
        accepted = new Map();
        decided = false;
      }
    }
    const fallback: Array<Pending<HoldCreditsOptions, HoldResult>> = batch.filter(
      (pending) => !valid.includes(pending),
    );
    const refused = new Map<string, Array<Pending<HoldCreditsOptions, HoldResult>>>();
    valid.forEach((pending, index) => {
      const request = requests[index]!;
      const available = accepted.get(request.id);
      if (available !== undefined) {
        pending.resolve({ holdId: request.id, available, expiresAt: new Date(request.expires_at) });
      } else if (decided) {
        const list = refused.get(pending.item.walletId) ?? [];
        list.push(pending);
        refused.set(pending.item.walletId, list);
      } else fallback.push(pending);
    });
    this.stats.batchedHolds += batch.length - fallback.length;
    this.stats.singleHolds += fallback.length;
    // Refused by the batch for want of credits: decided together per wallet, never one by one in sequence (a burst
    // of refusals across processes would queue behind the wallet's row lock). One sweep of the wallet's expired
    // holds first (a crashed process's holds stop counting at their TTL); only a request the wallet can still
    // cover after it (a smaller one behind a larger one, or freed credits) is tried again alone.
    await Promise.all([
      ...[...refused].map(async ([walletId, pendings]) => {
        await expireHolds(this.db, new Date(), { walletId });
        const wallet = await getBalance(this.db, walletId);
        await Promise.all(
          pendings.map((pending) =>
            pending.item.amount <= wallet.available
              ? settleOne(pending, () => holdCredits(this.db, pending.item))
              : pending.reject(insufficientCreditsError(wallet, pending.item.amount)),
          ),
        );
      }),
      ...fallback.map((pending) => settleOne(pending, () => holdCredits(this.db, pending.item))),
    ]);
  }

  async #writeSettles(batch: Array<Pending<SettleHoldOptions, SettleResult>>) {
    if (batch.length === 1) {
      this.stats.singleSettles++;
      return settleOne(batch[0]!, () => settleHold(this.db, batch[0]!.item));
    }
    const seen = new Set<string>();
    const batched: Array<Pending<SettleHoldOptions, SettleResult>> = [];
    const fallback: Array<Pending<SettleHoldOptions, SettleResult>> = [];
    for (const pending of batch) {
      const { holdId, amount } = pending.item;
      // A hold settled twice in one batch would be charged twice by the join: the second one goes alone, after.
      if (
        seen.has(holdId) ||
        !Number.isSafeInteger(amount) ||
        amount < 0 ||
        !/^[0-9a-f-]{36}$/i.test(holdId)
      ) {
        fallback.push(pending);
      } else {
        seen.add(holdId);
        batched.push(pending);
      }
    }
    const done = new Map<number, SettleResult>();
    if (batched.length > 0) {
      const revenue = await systemWalletId(this.db, 'revenue');
      const requests = batched.map(({ item }, index) => ({
        i: index,
        hold_id: item.holdId,
        amount: item.amount,
        key: item.idempotencyKey,
        request_id: item.references?.requestId ?? null,
        model: item.references?.model ?? null,
        key_id: item.references?.keyId ?? null,
        member_user_id: item.references?.memberUserId ?? null,
        price_version: item.references?.priceVersion ?? null,
        reason: item.description ?? null,
        details: { ...item.details, requested: item.amount, uncollected: 0 },
      }));
      try {
        const rows = await queryRows<{ i: number; balance_after: unknown; available_after: unknown }>(
          this.db,
          sql`
            with req as (
              select * from jsonb_to_recordset(${JSON.stringify(requests)}::jsonb)
                as r(i int, hold_id uuid, amount bigint, key text, request_id text, model text, key_id text,
                     member_user_id text, price_version int, reason text, details jsonb)
            ),
            h as (
              update credit_holds
              set status = 'settled', finished_at = now(), settle_key = req.key, held_at_finish = credit_holds.amount
              from req
              where credit_holds.id = req.hold_id and credit_holds.status = 'active' and req.amount <= credit_holds.amount
              returning credit_holds.id, credit_holds.wallet_id, credit_holds.amount as unheld,
                        credit_holds.request_id, credit_holds.member_user_id
            ),
            j as (
              select req.*, h.wallet_id, h.unheld, h.request_id as hold_request_id, h.member_user_id as hold_member_user_id
              from req join h on h.id = req.hold_id
            ),
            per_wallet as (
              select wallet_id, sum(amount)::bigint as charged, sum(unheld)::bigint as unheld from j group by wallet_id
            ),
            locked as (
              select id from wallets where id in (select wallet_id from per_wallet) order by id for update
            ),
            w as (
              update wallets
              set balance = wallets.balance - per_wallet.charged, held = wallets.held - per_wallet.unheld, updated_at = now()
              from per_wallet, locked
              where wallets.id = per_wallet.wallet_id and locked.id = wallets.id
              returning wallets.id, wallets.balance, wallets.held
            ),
            after as (
              select j.*,
                w.balance + coalesce(sum(j.amount) over later, 0) as balance_after,
                w.balance + coalesce(sum(j.amount) over later, 0) - w.held - coalesce(sum(j.unheld) over later, 0)
                  as available_after
              from j join w on w.id = j.wallet_id
              window later as (partition by j.wallet_id order by j.i rows between 1 following and unbounded following)
            ),
            e as (
              insert into ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
                hold_id, request_id, model, key_id, member_user_id, price_version, reason, details)
              select key, 'usage', wallet_id, ${revenue}::uuid, -amount, balance_after, hold_id,
                coalesce(request_id, hold_request_id), model, key_id, coalesce(member_user_id, hold_member_user_id),
                price_version, reason, details
              from after where amount > 0 order by i
              returning id
            )
            select i, balance_after, available_after from after`,
        );
        for (const row of rows) {
          const item = batched[row.i]!.item;
          done.set(row.i, {
            charged: item.amount,
            balance: toCredits(row.balance_after),
            available: toCredits(row.available_after),
            uncollected: 0,
            replayed: false,
          });
        }
      } catch {
        // A duplicate idempotency key or a deadlock aborts the whole statement: nothing was written.
        this.stats.failedBatches++;
        done.clear();
      }
    }
    batched.forEach((pending, index) => {
      const result = done.get(index);
      if (result) pending.resolve(result);
      else fallback.push(pending);
    });
    this.stats.batchedSettles += batch.length - fallback.length;
    this.stats.singleSettles += fallback.length;
    for (const pending of fallback) await settleOne(pending, () => settleHold(this.db, pending.item));
  }
}

async function settleOne<Item, Result>(pending: Pending<Item, Result>, run: () => Promise<Result>) {
  try {
    pending.resolve(await run());
  } catch (error) {
    pending.reject(error);
  }
}
