import { and, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { periodOf } from './periods.js';
import { queryRows, toCredits } from './sql.js';
import { type LedgerEntryKind, ledgerEntries } from './tables.js';

export interface StatementEntry {
  id: number;
  kind: LedgerEntryKind;
  /** Signed change to the wallet. */
  amount: number;
  balanceAfter: number;
  createdAt: Date;
  requestId: string | null;
  model: string | null;
  keyId: string | null;
  memberUserId: string | null;
  priceVersion: number | null;
  paymentId: string | null;
  orderId: string | null;
  reason: string | null;
  details: Record<string, number | string> | null;
}

/**
 * A page of a wallet's entries, newest first. `cursor` is the last id of the previous page. A transfer out of the
 * wallet (where it is the counter-account) is listed from this wallet's side: negative, with its balance after.
 * `memberUserId` keeps only the entries of one organisation member.
 */
export async function listLedgerEntries(
  db: Database,
  options: {
    walletId: string;
    cursor?: number | undefined;
    limit: number;
    memberUserId?: string | undefined;
  },
): Promise<{ entries: StatementEntry[]; nextCursor: number | null }> {
  // Two index-ordered reads merged here, rather than one OR that would sort every entry of a large wallet.
  const page = (leg: SQL) =>
    db
      .select()
      .from(ledgerEntries)
      .where(
        and(
          leg,
          options.memberUserId === undefined
            ? undefined
            : eq(ledgerEntries.memberUserId, options.memberUserId),
          options.cursor === undefined ? undefined : lt(ledgerEntries.id, options.cursor),
        ),
      )
      .orderBy(desc(ledgerEntries.id))
      .limit(options.limit + 1);
  const [own, outgoing] = await Promise.all([
    page(eq(ledgerEntries.walletId, options.walletId)),
    page(and(eq(ledgerEntries.counterWalletId, options.walletId), eq(ledgerEntries.kind, 'transfer'))!),
  ]);
  const rows = [...own, ...outgoing].sort((left, right) => right.id - left.id).slice(0, options.limit + 1);
  const kept = rows.slice(0, options.limit);
  const entries = kept.map((row) => {
    const isOutgoing = row.walletId !== options.walletId;
    return {
      id: row.id,
      kind: row.kind,
      amount: isOutgoing ? -row.amount : row.amount,
      balanceAfter: isOutgoing ? Number(row.details?.counterBalanceAfter ?? 0) : row.balanceAfter,
      createdAt: row.createdAt,
      requestId: row.requestId,
      model: row.model,
      keyId: row.keyId,
      memberUserId: row.memberUserId,
      priceVersion: row.priceVersion,
      paymentId: row.paymentId,
      orderId: row.orderId,
      reason: row.reason,
      details: row.details ?? null,
    };
  });
  return { entries, nextCursor: rows.length > options.limit ? kept.at(-1)!.id : null };
}

const csvColumns = [
  'id',
  'created_at',
  'kind',
  'amount',
  'balance_after',
  'request_id',
  'model',
  'key_id',
  'price_version',
  'payment_id',
  'order_id',
  'reason',
  'requests',
] as const;

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  // A leading =, +, - or @ would be run as a formula by spreadsheets: neutralise it.
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Every entry of a wallet as CSV (RFC 4180), oldest first, read in pages so a long history stays cheap. */
export async function exportLedgerCsv(db: Database, walletId: string): Promise<string> {
  const lines: string[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await listLedgerEntries(db, { walletId, cursor, limit: 1_000 });
    for (const entry of page.entries) {
      lines.push(
        [
          entry.id,
          entry.createdAt,
          entry.kind,
          entry.amount,
          entry.balanceAfter,
          entry.requestId,
          entry.model,
          entry.keyId,
          entry.priceVersion,
          entry.paymentId,
          entry.orderId,
          entry.reason,
          // A leased batch's usage entry stands for several calls (their detail is in the usage records).
          entry.kind === 'usage' ? (entry.details?.requests ?? 1) : null,
        ]
          .map(csvField)
          .join(','),
      );
    }
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  return `${[csvColumns.join(','), ...lines.reverse()].join('\r\n')}\r\n`;
}

export const usageGroupings = ['day', 'model', 'key'] as const;
export type UsageGrouping = (typeof usageGroupings)[number];

export interface UsageRow {
  /** The day (YYYY-MM-DD in the billing time zone), model id or key id ('' for calls without a key). */
  group: string;
  requests: number;
  credits: number;
}

/** Credits spent by a wallet between two instants, grouped by local day, model or key. */
export async function summariseUsage(
  db: Database,
  options: { walletId: string; from: Date; to: Date; groupBy: UsageGrouping; timeZone: string },
): Promise<UsageRow[]> {
  const group =
    options.groupBy === 'day'
      ? sql`to_char(created_at at time zone ${options.timeZone}, 'YYYY-MM-DD')`
      : options.groupBy === 'model'
        ? sql`coalesce(model, '')`
        : sql`coalesce(key_id, '')`;
  const rows = await queryRows<{ group: string; requests: unknown; credits: unknown }>(
    db,
    sql`
      select ${group} as "group", sum(coalesce((details->>'requests')::bigint, 1)) as requests,
        -sum(amount) as credits
      from ledger_entries
      where wallet_id = ${options.walletId} and kind = 'usage'
        and created_at >= ${options.from.toISOString()}::timestamptz and created_at < ${options.to.toISOString()}::timestamptz
      group by 1 order by 1`,
  );
  return rows.map((row) => ({
    group: row.group,
    requests: toCredits(row.requests),
    credits: toCredits(row.credits),
  }));
}

/** The default report window: the last 30 local days up to the end of today. */
export function defaultUsageWindow(now: Date, timeZone: string): { from: Date; to: Date } {
  const today = periodOf(now, 'day', timeZone);
  const from = periodOf(new Date(today.start.getTime() - 29 * 86_400_000 + 3_600_000 * 12), 'day', timeZone);
  return { from: from.start, to: today.end };
}
