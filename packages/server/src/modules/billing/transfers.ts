import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { AppError } from '../../errors.js';
import { getBalance, insufficientCreditsError, MAX_WALLET_BALANCE, walletFullError } from './ledger.js';
import { queryRows, toCredits } from './sql.js';
import { ledgerEntries } from './tables.js';

export interface TransferCreditsOptions {
  /** The customer wallet the credits leave (its available credits, balance − held, must cover `amount`). */
  fromWalletId: string;
  /** The customer wallet the credits go to. */
  toWalletId: string;
  /** Credits moved; a positive integer. */
  amount: number;
  /** One key per movement: a retry with the same key, wallets and amount returns the first result. */
  idempotencyKey: string;
  /** Who moved the credits (recorded as `member_user_id` on the entry). */
  actorUserId?: string;
  reason?: string;
}

export interface TransferResult {
  entryId: number;
  amount: number;
  /** The source wallet's balance right after the movement. */
  fromBalance: number;
  /** The destination wallet's balance right after the movement. */
  toBalance: number;
  /** True when this key had already moved these credits; nothing was written this time. */
  duplicate: boolean;
}

function assertAmount(amount: number) {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new AppError('validation_failed', 'amount must be a positive integer.', {
      details: [{ path: 'amount', message: 'must be a positive integer amount of credits' }],
    });
  }
}

/**
 * Moves credits between two customer wallets as one `transfer` entry whose legs are both customer wallets:
 * `wallet_id` (the destination) gains `amount`, `counter_wallet_id` (the source) loses it. One statement updates
 * both cached balances and writes the entry, so it is all or nothing; the source update is conditional on
 * `balance - held >= amount` under its row lock, so concurrent transfers never take more than is available.
 * The entry's `details.counterBalanceAfter` is the source's balance after it (statements show that leg too).
 * Throws 402 `insufficient_credits`, 404 for an unknown or system wallet, 409 when the key was used for another
 * movement.
 */
export async function transferCredits(
  db: Database,
  options: TransferCreditsOptions,
): Promise<TransferResult> {
  assertAmount(options.amount);
  if (options.fromWalletId === options.toWalletId) {
    throw new AppError('validation_failed', 'A transfer needs two different wallets.');
  }
  const existing = await findTransfer(db, options);
  if (existing) return existing;

  let rows: Array<{ id: unknown; to_balance: unknown; from_balance: unknown }>;
  try {
    rows = await queryRows(
      db,
      sql`
        with source as (
          update wallets set balance = balance - ${options.amount}::bigint, updated_at = now()
          where id = ${options.fromWalletId} and owner_type <> 'system'
            and balance - held >= ${options.amount}::bigint
            -- Never take credits unless the destination leg is sure to be written in this same statement.
            and exists (select 1 from wallets d where d.id = ${options.toWalletId} and d.owner_type <> 'system'
              and d.balance + ${options.amount}::bigint <= ${MAX_WALLET_BALANCE}::bigint)
          returning id, balance
        ),
        destination as (
          update wallets set balance = wallets.balance + ${options.amount}::bigint, updated_at = now()
          from source
          where wallets.id = ${options.toWalletId}
          returning wallets.id, wallets.balance
        )
        insert into ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
          member_user_id, reason, details)
        select ${options.idempotencyKey}, 'transfer', destination.id, source.id, ${options.amount}::bigint,
          destination.balance, ${options.actorUserId ?? null}, ${options.reason?.trim() || null},
          jsonb_build_object('counterBalanceAfter', source.balance)
        from source, destination
        returning id, balance_after as to_balance, (select balance from source) as from_balance`,
    );
  } catch (error) {
    // A concurrent transfer with the same key won: this whole statement (both balances included) rolled back.
    if (sqlState(error) === '23505') {
      const raced = await findTransfer(db, options);
      if (raced) return raced;
    }
    throw error;
  }
  const row = rows[0];
  if (row) {
    return {
      entryId: toCredits(row.id),
      amount: options.amount,
      fromBalance: toCredits(row.from_balance),
      toBalance: toCredits(row.to_balance),
      duplicate: false,
    };
  }
  const [from, to] = await Promise.all([
    walletKind(db, options.fromWalletId),
    walletKind(db, options.toWalletId),
  ]);
  if (from !== 'customer' || to !== 'customer') throw new AppError('not_found', 'No such wallet.');
  const destination = await getBalance(db, options.toWalletId);
  if (destination.balance + options.amount > MAX_WALLET_BALANCE) {
    throw walletFullError(destination.balance, options.amount);
  }
  throw insufficientCreditsError(await getBalance(db, options.fromWalletId), options.amount);
}

async function walletKind(db: Database, walletId: string): Promise<'customer' | 'system' | 'missing'> {
  const [row] = await queryRows<{ owner_type: string }>(
    db,
    sql`select owner_type from wallets where id = ${walletId}`,
  );
  if (!row) return 'missing';
  return row.owner_type === 'system' ? 'system' : 'customer';
}

async function findTransfer(
  db: Database,
  options: TransferCreditsOptions,
): Promise<TransferResult | undefined> {
  const [entry] = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, options.idempotencyKey))
    .limit(1);
  if (!entry) return undefined;
  if (
    entry.kind !== 'transfer' ||
    entry.walletId !== options.toWalletId ||
    entry.counterWalletId !== options.fromWalletId ||
    entry.amount !== options.amount
  ) {
    throw new AppError('conflict', 'This idempotency key was already used for another ledger entry.');
  }
  return {
    entryId: entry.id,
    amount: entry.amount,
    fromBalance: toCredits(entry.details?.counterBalanceAfter),
    toBalance: entry.balanceAfter,
    duplicate: true,
  };
}
