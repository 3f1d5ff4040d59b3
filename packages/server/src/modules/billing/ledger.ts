import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { AppError } from '../../errors.js';
import { queryRows, toCredits } from './sql.js';
import { type LedgerEntryKind, ledgerEntries, type WalletOwnerType, wallets } from './tables.js';

/** Holds live this long unless the caller says otherwise: longer than any request, shorter than an outage. */
export const DEFAULT_HOLD_TTL_SECONDS = 15 * 60;

export interface Wallet {
  id: string;
  ownerType: WalletOwnerType;
  ownerId: string;
  balance: number;
  held: number;
  available: number;
}

export interface Balance {
  balance: number;
  held: number;
  /** balance − held: what a new hold or a debit may use. */
  available: number;
}

/** What a ledger entry points at. All optional; `priceVersion` is the `prices.id` used to price usage. */
export interface EntryReferences {
  requestId?: string | undefined;
  model?: string | undefined;
  keyId?: string | undefined;
  memberUserId?: string | undefined;
  priceVersion?: number | undefined;
  paymentId?: string | undefined;
  orderId?: string | undefined;
}

/** The system counter-accounts. They absorb the other leg of every movement and may go negative. */
export const systemAccounts = ['revenue', 'top_ups', 'grants', 'plan_credits', 'adjustments'] as const;
export type SystemAccount = (typeof systemAccounts)[number];

// Transfers have a customer wallet on both legs (transfers.ts), so they have no system account.
const counterAccount: Record<Exclude<LedgerEntryKind, 'transfer'>, SystemAccount> = {
  top_up: 'top_ups',
  grant: 'grants',
  plan_credit: 'plan_credits',
  usage: 'revenue',
  refund: 'revenue',
  adjustment: 'adjustments',
};

function assertCredits(name: string, value: number, options: { allowZero?: boolean; signed?: boolean } = {}) {
  const valid =
    Number.isSafeInteger(value) && (options.signed || value >= 0) && (options.allowZero || value !== 0);
  if (!valid) {
    throw new AppError(
      'validation_failed',
      `${name} must be a${options.allowZero ? '' : ' non-zero'} integer.`,
      {
        details: [{ path: name, message: 'must be an integer amount of credits' }],
      },
    );
  }
}

function toWallet(row: typeof wallets.$inferSelect): Wallet {
  return {
    id: row.id,
    ownerType: row.ownerType,
    ownerId: row.ownerId,
    balance: row.balance,
    held: row.held,
    available: row.balance - row.held,
  };
}

/** Returns the owner's wallet, creating it (empty) the first time. Safe under concurrent calls. */
export async function ensureWallet(
  db: Database,
  options: { ownerType: WalletOwnerType; ownerId: string },
): Promise<Wallet> {
  const where = and(eq(wallets.ownerType, options.ownerType), eq(wallets.ownerId, options.ownerId));
  const [existing] = await db.select().from(wallets).where(where).limit(1);
  if (existing) return toWallet(existing);
  await db
    .insert(wallets)
    .values({ ownerType: options.ownerType, ownerId: options.ownerId })
    .onConflictDoNothing();
  const [created] = await db.select().from(wallets).where(where).limit(1);
  return toWallet(created!);
}

export async function getWallet(db: Database, walletId: string): Promise<Wallet> {
  const [row] = await db.select().from(wallets).where(eq(wallets.id, walletId)).limit(1);
  if (!row) throw new AppError('not_found', 'No such wallet.');
  return toWallet(row);
}

export async function getBalance(db: Database, walletId: string): Promise<Balance> {
  const { balance, held, available } = await getWallet(db, walletId);
  return { balance, held, available };
}

/**
 * The wallet's balance read under its row lock, for a decision that must still hold when its transaction writes (a
 * refund taking back what is available). Call it inside a transaction: until that ends, holds, settles and debits of
 * the wallet wait for it, so what it answers cannot change under the caller.
 */
export async function lockBalance(db: Database, walletId: string): Promise<Balance> {
  const [row] = await db.select().from(wallets).where(eq(wallets.id, walletId)).for('update').limit(1);
  if (!row) throw new AppError('not_found', 'No such wallet.');
  const { balance, held, available } = toWallet(row);
  return { balance, held, available };
}

// System wallet ids never change once created, so each database handle looks them up once.
const systemWalletIds = new WeakMap<Database, Map<SystemAccount, Promise<string>>>();

export function systemWalletId(db: Database, account: SystemAccount): Promise<string> {
  let cache = systemWalletIds.get(db);
  if (!cache) {
    cache = new Map();
    systemWalletIds.set(db, cache);
  }
  let id = cache.get(account);
  if (!id) {
    id = ensureWallet(db, { ownerType: 'system', ownerId: account }).then((wallet) => wallet.id);
    id.catch(() => cache.delete(account));
    cache.set(account, id);
  }
  return id;
}

/** The 402 a refused hold answers with: the balance, what is available and what was needed. */
export function insufficientCreditsError(
  wallet: { balance: number; available: number },
  needed: number,
): AppError {
  return new AppError(
    'insufficient_credits',
    `Not enough credits: ${needed} needed, ${wallet.available} available.`,
    { details: { balance: wallet.balance, available: wallet.available, needed } },
  );
}

/**
 * The most credits a wallet may hold: balances are read as JavaScript numbers, so a balance past 2^53 - 1 could not
 * be read back exactly (and every read of that wallet would fail). An entry or transfer that would go past it is
 * refused with 422 `unprocessable`, changing nothing.
 */
export const MAX_WALLET_BALANCE = Number.MAX_SAFE_INTEGER;

/**
 * The most credits one pack, grant, adjustment or transfer may name: 10^12 (ten billion dinars at 100 credits a
 * dinar). Far below `MAX_WALLET_BALANCE`, so a mistyped figure is refused where it is typed (400) rather than saved:
 * a pack past what a wallet can take would be paid for and then refused at settlement (422).
 */
export const MAX_CREDITS_PER_ENTRY = 1_000_000_000_000;

export function walletFullError(balance: number, amount: number): AppError {
  return new AppError(
    'unprocessable',
    `A wallet holds at most ${MAX_WALLET_BALANCE} credits: ${amount} more would take this one past it.`,
    { details: { balance, amount, most: MAX_WALLET_BALANCE } },
  );
}

async function insufficientCredits(db: Database, walletId: string, needed: number): Promise<AppError> {
  return insufficientCreditsError(await getBalance(db, walletId), needed);
}

export interface HoldCreditsOptions {
  walletId: string;
  /** The worst-case cost of the request, in credits (0 is allowed: a free model still leaves a trace). */
  amount: number;
  requestId: string;
  /** Seconds until the hold lapses on its own if never settled (default 900). */
  ttlSeconds?: number;
  /** The organisation member spending, when the wallet is an organisation's. */
  memberUserId?: string;
  /** Clock for tests (default now). */
  now?: Date;
}

/**
 * Reserves `amount` credits in one statement: a conditional UPDATE of the wallet (available ≥ amount, re-checked on
 * the latest row version under its lock) feeding the INSERT of the hold, so concurrent holds can never reserve more
 * than the wallet has. Throws `insufficient_credits` (402) with `{ balance, available, needed }`.
 */
export async function holdCredits(
  db: Database,
  options: HoldCreditsOptions,
): Promise<{ holdId: string; available: number; expiresAt: Date }> {
  assertCredits('amount', options.amount, { allowZero: true });
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS;
  if (!(ttlSeconds > 0)) throw new AppError('validation_failed', 'ttlSeconds must be positive.');
  const now = options.now ?? new Date();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  const tryHold = () =>
    queryRows<{ id: string; available: unknown }>(
      db,
      sql`
      with w as (
        update wallets set held = held + ${options.amount}::bigint, updated_at = now()
        where id = ${options.walletId} and owner_type <> 'system' and balance - held >= ${options.amount}::bigint
        returning id, balance - held as available
      )
      insert into credit_holds (wallet_id, amount, request_id, member_user_id, expires_at)
      select w.id, ${options.amount}::bigint, ${options.requestId}, ${options.memberUserId ?? null}, ${expiresAt.toISOString()}::timestamptz
      from w
      returning id, (select available from w) as available`,
    );
  let [row] = await tryHold();
  // Before refusing, return this wallet's holds that are past their TTL but not yet swept by the periodic job,
  // so a crashed process's holds stop counting exactly at their TTL.
  if (!row && (await expireHolds(db, now, { walletId: options.walletId })) > 0) [row] = await tryHold();
  if (!row) throw await insufficientCredits(db, options.walletId, options.amount);
  return { holdId: row.id, available: toCredits(row.available), expiresAt };
}

export interface SettleHoldOptions {
  holdId: string;
  /** The real cost in credits. Above the hold, at most the hold plus what the wallet has available is charged. */
  amount: number;
  description?: string;
  references?: EntryReferences;
  /** Measured quantities kept on the entry (tokens, images, seconds). */
  details?: Record<string, number | string>;
  /** One key per settle; a retry with the same key answers the first result and charges nothing more. */
  idempotencyKey: string;
}

export interface SettleResult {
  /** Credits actually charged (≤ amount asked). */
  charged: number;
  /** The wallet's balance after the charge. */
  balance: number;
  available: number;
  /** amount − charged: what the wallet could not cover (overdraft is never allowed). */
  uncollected: number;
  /** True when this call was a retry of a settle already done. */
  replayed: boolean;
}

/**
 * Charges the real cost of a held request and releases the rest, in one statement: the hold moves from active
 * (or expired) to settled at most once, the wallet loses the charge and the hold, and one usage entry is written.
 *
 * Overdraft policy: a wallet never goes below zero. A cost above the hold (a provider that ignored max_tokens)
 * is charged up to the hold plus the credits still available; the rest is reported as `uncollected` and recorded
 * on the entry. A hold that expired before its settle (the TTL was too short) is still charged from what is
 * available, so late usage is not lost.
 */
export async function settleHold(db: Database, options: SettleHoldOptions): Promise<SettleResult> {
  assertCredits('amount', options.amount, { allowZero: true });
  const references = options.references ?? {};
  const revenue = await systemWalletId(db, 'revenue');
  const details = { ...options.details, requested: options.amount };
  let rows: Array<{ charged: unknown; balance: unknown; held: unknown }>;
  try {
    rows = await queryRows(
      db,
      sql`
        with h as (
          update credit_holds
          set status = 'settled', finished_at = now(), settle_key = ${options.idempotencyKey},
              held_at_finish = case when status = 'active' then amount else 0 end
          where id = ${options.holdId} and status in ('active', 'expired')
          returning id, wallet_id, held_at_finish, request_id, member_user_id
        ),
        c as (
          select h.id as hold_id, h.wallet_id, h.held_at_finish as unheld, h.request_id, h.member_user_id,
                 least(${options.amount}::bigint, h.held_at_finish + wl.balance - wl.held) as charged
          from h join wallets wl on wl.id = h.wallet_id
          for update of wl
        ),
        w as (
          update wallets
          set balance = wallets.balance - c.charged, held = wallets.held - c.unheld, updated_at = now()
          from c where wallets.id = c.wallet_id
          returning wallets.id, wallets.balance, wallets.held, c.charged, c.hold_id, c.request_id, c.member_user_id
        ),
        e as (
          insert into ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
            hold_id, request_id, model, key_id, member_user_id, price_version, reason, details)
          select ${options.idempotencyKey}, 'usage', w.id, ${revenue}::uuid, -w.charged, w.balance,
            w.hold_id, coalesce(${references.requestId ?? null}, w.request_id), ${references.model ?? null},
            ${references.keyId ?? null}, coalesce(${references.memberUserId ?? null}, w.member_user_id),
            ${references.priceVersion ?? null}::int, ${options.description ?? null},
            ${JSON.stringify(details)}::jsonb || jsonb_build_object('uncollected', ${options.amount}::bigint - w.charged)
          from w where w.charged > 0
          returning id
        )
        select w.charged, w.balance, w.held, (select count(*) from e) as entries from w`,
    );
  } catch (error) {
    if (sqlState(error) === '23505') {
      throw new AppError('conflict', 'This idempotency key was already used for another ledger entry.');
    }
    throw error;
  }
  const row = rows[0];
  if (row) {
    const charged = toCredits(row.charged);
    const balance = toCredits(row.balance);
    return {
      charged,
      balance,
      available: balance - toCredits(row.held),
      uncollected: options.amount - charged,
      replayed: false,
    };
  }
  return replaySettle(db, options);
}

async function replaySettle(db: Database, options: SettleHoldOptions): Promise<SettleResult> {
  const [hold] = await queryRows<{
    status: string;
    settle_key: string | null;
    wallet_id: string;
    entry_amount: unknown;
    entry_details: Record<string, unknown> | null;
  }>(
    db,
    sql`
      select h.status, h.settle_key, h.wallet_id, e.amount as entry_amount, e.details as entry_details
      from credit_holds h
      left join ledger_entries e on e.idempotency_key = h.settle_key
      where h.id = ${options.holdId}`,
  );
  if (!hold) throw new AppError('not_found', 'No such hold.');
  if (hold.status !== 'settled') {
    throw new AppError('conflict', `The hold was ${hold.status}; it can no longer be settled.`);
  }
  if (hold.settle_key !== options.idempotencyKey) {
    throw new AppError('conflict', 'The hold was already settled with another idempotency key.');
  }
  const charged = hold.entry_amount === null ? 0 : -toCredits(hold.entry_amount);
  const requested = hold.entry_details ? toCredits(hold.entry_details.requested) : options.amount;
  const { balance, available } = await getBalance(db, hold.wallet_id);
  return { charged, balance, available, uncollected: Math.max(0, requested - charged), replayed: true };
}

/** Gives an active hold's credits back (the request failed before any usage). A no-op on a finished hold. */
export async function releaseHold(db: Database, options: { holdId: string }): Promise<void> {
  await db.execute(sql`
    with h as (
      update credit_holds set status = 'released', finished_at = now(), held_at_finish = amount
      where id = ${options.holdId} and status = 'active'
      returning wallet_id, amount
    )
    update wallets set held = wallets.held - h.amount, updated_at = now()
    from h where wallets.id = h.wallet_id`);
}

/**
 * Expires active holds whose TTL has passed (their process crashed or lost the request) and returns how many.
 * Works in batches with SKIP LOCKED so several processes can run it at once; run it from a periodic job.
 */
export async function expireHolds(
  db: Database,
  now: Date = new Date(),
  options: { walletId?: string; batchSize?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const onlyWallet = options.walletId ? sql`and wallet_id = ${options.walletId}` : sql``;
  let total = 0;
  for (;;) {
    const [row] = await queryRows<{ expired: unknown }>(
      db,
      sql`
        with due as (
          select id from credit_holds
          where status = 'active' and expires_at <= ${now.toISOString()}::timestamptz ${onlyWallet}
          order by expires_at limit ${batchSize}
          for update skip locked
        ),
        h as (
          update credit_holds set status = 'expired', finished_at = ${now.toISOString()}::timestamptz
          from due where credit_holds.id = due.id and credit_holds.status = 'active'
          returning credit_holds.wallet_id, credit_holds.amount
        ),
        per_wallet as (select wallet_id, sum(amount)::bigint as total, count(*) as holds from h group by wallet_id),
        w as (
          update wallets set held = wallets.held - per_wallet.total, updated_at = now()
          from per_wallet where wallets.id = per_wallet.wallet_id
          returning wallets.id
        )
        select coalesce(sum(holds), 0)::int as expired, (select count(*) from w) as wallets from per_wallet`,
    );
    const expired = toCredits(row?.expired);
    total += expired;
    if (expired < batchSize) return total;
  }
}

export interface PostEntryOptions {
  walletId: string;
  /** Any kind but `transfer`, which moves credits between two customer wallets (`transferCredits`). */
  kind: Exclude<LedgerEntryKind, 'transfer'>;
  /**
   * The signed change to the wallet's balance. Positive for top_up, grant, plan_credit and refund; negative for
   * usage; either sign for an adjustment (which needs a reason).
   */
  amount: number;
  idempotencyKey: string;
  references?: EntryReferences;
  reason?: string;
  details?: Record<string, number | string>;
}

export interface PostedEntry {
  entryId: number;
  balance: number;
  /** True when an entry with this idempotency key already existed; nothing was written. */
  duplicate: boolean;
}

/**
 * Writes one double-entry movement: the wallet gains `amount`, the kind's system counter-account loses it
 * (top-ups, grants, plan credits, revenue for usage and refunds, adjustments). A debit never takes the wallet below
 * what its holds reserve. Idempotent on `idempotencyKey`: a replay with the same wallet, kind and amount returns
 * the first entry; a different movement under a used key is a conflict.
 */
export async function postEntry(db: Database, options: PostEntryOptions): Promise<PostedEntry> {
  assertCredits('amount', options.amount, { signed: true });
  const positiveKinds: LedgerEntryKind[] = ['top_up', 'grant', 'plan_credit', 'refund'];
  if (positiveKinds.includes(options.kind) && options.amount < 0) {
    throw new AppError('validation_failed', `A ${options.kind} adds credits: amount must be positive.`);
  }
  if (options.kind === 'usage' && options.amount > 0) {
    throw new AppError('validation_failed', 'Usage spends credits: amount must be negative.');
  }
  if (options.kind === 'adjustment' && !options.reason?.trim()) {
    throw new AppError('validation_failed', 'An adjustment needs a reason.', {
      details: [{ path: 'reason', message: 'is required for adjustments' }],
    });
  }
  const existing = await findEntry(db, options);
  if (existing) return existing;

  const counter = await systemWalletId(db, counterAccount[options.kind]);
  const references = options.references ?? {};
  let rows: Array<{ id: unknown; balance: unknown }>;
  try {
    rows = await queryRows(
      db,
      sql`
        with w as (
          update wallets set balance = balance + ${options.amount}::bigint, updated_at = now()
          where id = ${options.walletId} and owner_type <> 'system' and balance + ${options.amount}::bigint >= held
            and balance + ${options.amount}::bigint <= ${MAX_WALLET_BALANCE}::bigint
          returning id, balance
        )
        insert into ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
          request_id, model, key_id, member_user_id, price_version, payment_id, order_id, reason, details)
        select ${options.idempotencyKey}, ${options.kind}, w.id, ${counter}::uuid, ${options.amount}::bigint, w.balance,
          ${references.requestId ?? null}, ${references.model ?? null}, ${references.keyId ?? null},
          ${references.memberUserId ?? null}, ${references.priceVersion ?? null}::int, ${references.paymentId ?? null},
          ${references.orderId ?? null}, ${options.reason?.trim() ?? null},
          ${options.details ? JSON.stringify(options.details) : null}::jsonb
        from w
        returning id, balance_after as balance`,
    );
  } catch (error) {
    // A concurrent post with the same key won: the whole statement (wallet update included) rolled back.
    if (sqlState(error) === '23505') {
      const raced = await findEntry(db, options);
      if (raced) return raced;
    }
    throw error;
  }
  const row = rows[0];
  if (!row) {
    const wallet = await getWallet(db, options.walletId);
    if (wallet.ownerType === 'system') throw new AppError('not_found', 'No such wallet.');
    if (options.amount > 0) throw walletFullError(wallet.balance, options.amount);
    throw insufficientCreditsError(wallet, -options.amount);
  }
  return { entryId: toCredits(row.id), balance: toCredits(row.balance), duplicate: false };
}

async function findEntry(db: Database, options: PostEntryOptions): Promise<PostedEntry | undefined> {
  const [entry] = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, options.idempotencyKey))
    .limit(1);
  if (!entry) return undefined;
  if (entry.walletId !== options.walletId || entry.kind !== options.kind || entry.amount !== options.amount) {
    throw new AppError('conflict', 'This idempotency key was already used for another ledger entry.');
  }
  return { entryId: entry.id, balance: entry.balanceAfter, duplicate: true };
}

export interface LedgerMismatch {
  walletId: string;
  ownerType: WalletOwnerType;
  ownerId: string;
  balance: number;
  sumOfEntries: number;
  held: number;
  sumOfActiveHolds: number;
}

/**
 * Recomputes every customer wallet from the journal in one consistent snapshot and returns the wallets whose
 * cached balance or held amount disagrees (empty when the books balance). Entries whose counter-account is not a
 * wallet are reported with ownerType 'system' and ownerId 'missing'.
 */
export async function verifyLedger(db: Database): Promise<LedgerMismatch[]> {
  const rows = await queryRows<{
    id: string;
    owner_type: WalletOwnerType;
    owner_id: string;
    balance: unknown;
    sum_of_entries: unknown;
    held: unknown;
    sum_of_holds: unknown;
  }>(
    db,
    sql`
      with legs as (
        select wallet_id as id, amount from ledger_entries
        union all
        select counter_wallet_id as id, -amount from ledger_entries
      ),
      totals as (select id, sum(amount) as total from legs group by id),
      holds as (select wallet_id as id, sum(amount) as total from credit_holds where status = 'active' group by wallet_id)
      select w.id, w.owner_type, w.owner_id, w.balance, coalesce(t.total, 0) as sum_of_entries,
             w.held, coalesce(h.total, 0) as sum_of_holds
      from wallets w
      left join totals t on t.id = w.id
      left join holds h on h.id = w.id
      where w.owner_type <> 'system'
        and (w.balance <> coalesce(t.total, 0) or w.held <> coalesce(h.total, 0) or w.balance < 0 or w.held > w.balance)
      union all
      select t.id, 'system', 'missing', 0, t.total, 0, 0
      from totals t where not exists (select 1 from wallets w where w.id = t.id)
      order by 1`,
  );
  return rows.map((row) => ({
    walletId: row.id,
    ownerType: row.owner_type,
    ownerId: row.owner_id,
    balance: toCredits(row.balance),
    sumOfEntries: toCredits(row.sum_of_entries),
    held: toCredits(row.held),
    sumOfActiveHolds: toCredits(row.sum_of_holds),
  }));
}
