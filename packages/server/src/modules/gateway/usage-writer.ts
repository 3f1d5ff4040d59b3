import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { DatabaseConnection } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { queryRows } from '../billing/sql.js';
import type { usageRecords } from './tables.js';

/** What the writer needs of the database: Drizzle, and PGlite's COPY when there is one. */
export type UsageDatabase = Pick<DatabaseConnection, 'db' | 'copyFrom'>;

export type UsageRecord = typeof usageRecords.$inferInsert;

export interface UsageWriterOptions {
  /** Flush when this many records wait (default 500). */
  maxBatch?: number;
  /** Flush at least this often (default 250 ms). */
  intervalMs?: number;
  /** After the database refused a write, the first wait before trying again; it doubles up to 30 s (default 1 s). */
  retryMs?: number;
  /** Records kept while the database refuses writes; past this, new ones are dropped (default 20,000, ≈ 8 MB). */
  maxWaiting?: number;
  /** Told of each refused write: `lost` records are given up on, `waiting` are kept to be tried again. */
  onError?: (error: unknown, outcome: { lost: number; waiting: number }) => void;
}

/**
 * Collects usage records off the response path and writes them as multi-row inserts, so a request never
 * waits for its record. `close()` flushes what is left (graceful shutdown).
 *
 * A record waits as its row, one string: a quarter of a second of records kept as objects outlived the young
 * generation of the garbage collector, which then had to copy and later trace every one of them. On PGlite the row is
 * a line of COPY's text format and a batch is one COPY, which costs PGlite's worker about half of what an insert from
 * JSON does per row; on PostgreSQL it is a JSON object and a batch one `insert … select` from the JSON array.
 *
 * When the database refuses a batch:
 * - because of what is in it (SQLSTATE class 22 or 23: a value out of range, a constraint), the batch is split in
 *   halves until the rows at fault are alone; only those are lost, never their neighbours;
 * - for any other reason (the database restarting, the connection lost), everything waits and is tried again after
 *   1 s, 2 s, 4 s… up to 30 s, keeping at most `maxWaiting` records.
 *
 * Each row carries its id from the moment it is recorded and the insert skips ids already there (a COPY refused for
 * an id already there is made again without those rows), so a batch whose commit was made but never acknowledged is
 * not written twice when it is tried again: usage counts stay exact.
 */
export class UsageWriter {
  #buffer: string[] = [];
  /** Rows the database refused for a reason other than their content, to write first when it answers again. */
  #waiting: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = 0;
  #dropped = 0;
  #flushing: Promise<void> = Promise.resolve();
  readonly #maxBatch: number;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  readonly #maxWaiting: number;
  readonly #row: (record: UsageRecord) => string;

  constructor(
    private readonly database: UsageDatabase,
    private readonly options: UsageWriterOptions = {},
  ) {
    this.#row = database.copyFrom ? copyLine : jsonRow;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#intervalMs = options.intervalMs ?? 250;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#maxWaiting = options.maxWaiting ?? 20_000;
  }

  record(record: UsageRecord) {
    if (this.#retryTimer) {
      // The database refuses writes: keep what fits, and write nothing until the retry.
      if (this.#waiting.length + this.#buffer.length >= this.#maxWaiting) this.#dropped++;
      else this.#buffer.push(this.#row(record));
      return;
    }
    this.#buffer.push(this.#row(record));
    if (this.#buffer.length >= this.#maxBatch) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Writes everything buffered so far (and what waits for a retry); resolves when it is in the database or refused. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const rows = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#flushing.then(() => this.#write(rows));
    return this.#flushing;
  }

  /** Flushes once more; what the database still refuses is lost (and reported). */
  async close(): Promise<void> {
    await this.flush();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const lost = this.#waiting.length + this.#buffer.length + this.#dropped;
    if (lost > 0) {
      this.options.onError?.(new Error('the database refused usage records until the server stopped'), {
        lost,
        waiting: 0,
      });
    }
    this.#waiting = [];
    this.#buffer = [];
    this.#dropped = 0;
  }

  async #write(fresh: string[]) {
    const rows = this.#waiting.length ? [...this.#waiting, ...fresh] : fresh;
    this.#waiting = [];
    let refused: unknown;
    for (let start = 0; start < rows.length; start += this.#maxBatch) {
      const batch = rows.slice(start, start + this.#maxBatch);
      if (refused) {
        this.#waiting.push(...batch);
        continue;
      }
      try {
        await this.#insertIsolating(batch);
      } catch (error) {
        refused = error;
        this.#waiting.push(...batch);
      }
    }
    if (!refused) {
      this.#retryDelayMs = 0;
      this.#reportDropped();
      return;
    }
    const lost = Math.max(0, this.#waiting.length - this.#maxWaiting);
    if (lost > 0) this.#waiting.splice(0, lost);
    this.#dropped += lost;
    this.options.onError?.(refused, { lost: this.#dropped, waiting: this.#waiting.length });
    this.#dropped = 0;
    this.#retryDelayMs = Math.min(30_000, this.#retryDelayMs ? this.#retryDelayMs * 2 : this.#retryMs);
    // A flush queued behind this one may have failed too: one retry is enough.
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.flush(), this.#retryDelayMs);
    this.#retryTimer.unref();
  }

  /** Records dropped while the database refused writes, told once it accepts them again. */
  #reportDropped() {
    if (this.#dropped === 0) return;
    this.options.onError?.(new Error('usage records dropped while the database refused writes'), {
      lost: this.#dropped,
      waiting: 0,
    });
    this.#dropped = 0;
  }

  /**
   * Inserts the rows; when the database refuses them for their content, inserts each half on its own, down to the
   * single rows at fault, which are reported lost. Throws only for a refusal that is not about content.
   */
  async #insertIsolating(rows: string[]): Promise<void> {
    try {
      await insertBatch(this.database, rows);
    } catch (error) {
      const state = sqlState(error);
      if (!state || !/^2[23]/.test(state)) throw error;
      if (rows.length === 1) {
        this.options.onError?.(error, { lost: 1, waiting: 0 });
        return;
      }
      const half = Math.ceil(rows.length / 2);
      await this.#insertIsolating(rows.slice(0, half));
      await this.#insertIsolating(rows.slice(half));
    }
  }
}

const columns = [
  ['id', 'id'],
  ['requestId', 'request_id'],
  ['userId', 'user_id'],
  ['keyId', 'key_id'],
  ['operation', 'operation'],
  ['requestedModel', 'requested_model'],
  ['servedModel', 'served_model'],
  ['provider', 'provider'],
  ['attempts', 'attempts'],
  ['inputTokens', 'input_tokens'],
  ['outputTokens', 'output_tokens'],
  ['cachedInputTokens', 'cached_input_tokens'],
  ['reasoningTokens', 'reasoning_tokens'],
  ['credits', 'credits'],
  ['timeToFirstTokenMs', 'time_to_first_token_ms'],
  ['latencyMs', 'latency_ms'],
  ['status', 'status'],
  ['errorCode', 'error_code'],
  ['stream', 'stream'],
  ['cacheHit', 'cache_hit'],
  ['createdAt', 'created_at'],
] as const satisfies ReadonlyArray<readonly [keyof UsageRecord, string]>;

const columnNames = columns.map(([, column]) => column).join(', ');
const columnList = sql.raw(columnNames);
// Columns the table defaults when a record leaves them out (json_populate_recordset yields null for them).
const selectList = sql.raw(
  columns
    .map(([, column]) => {
      if (
        [
          'attempts',
          'input_tokens',
          'output_tokens',
          'cached_input_tokens',
          'reasoning_tokens',
          'credits',
        ].includes(column)
      ) {
        return `coalesce(${column}, 0)`;
      }
      if (column === 'stream' || column === 'cache_hit') return `coalesce(${column}, false)`;
      if (column === 'created_at') return 'coalesce(created_at, now())';
      return column;
    })
    .join(', '),
);

/**
 * A record as a row of json_populate_recordset: the table's column names, null where the record has nothing. A literal
 * of a fixed shape (its type holds its keys to `columns`): filled key by key in a loop, the row became a dictionary
 * object that cost more to build and to serialize than the rest of recording a call.
 */
function jsonRow(record: UsageRecord): string {
  return JSON.stringify({
    id: record.id ?? randomUUID(),
    request_id: record.requestId,
    user_id: record.userId ?? null,
    key_id: record.keyId ?? null,
    operation: record.operation,
    requested_model: record.requestedModel,
    served_model: record.servedModel ?? null,
    provider: record.provider ?? null,
    attempts: record.attempts ?? null,
    input_tokens: record.inputTokens ?? null,
    output_tokens: record.outputTokens ?? null,
    cached_input_tokens: record.cachedInputTokens ?? null,
    reasoning_tokens: record.reasoningTokens ?? null,
    credits: record.credits ?? null,
    time_to_first_token_ms: record.timeToFirstTokenMs ?? null,
    latency_ms: record.latencyMs,
    status: record.status,
    error_code: record.errorCode ?? null,
    stream: record.stream ?? null,
    cache_hit: record.cacheHit ?? null,
    created_at: record.createdAt ?? new Date(),
  } satisfies Record<(typeof columns)[number][1], unknown>);
}

/**
 * A record as a line of COPY's text format, its fields in the order of `columns`: tab-separated, `\N` for null, the
 * table's defaults written out (as the JSON insert's `coalesce` does), numbers that are not finite as null (as JSON
 * writes them). Joined from an array rather than made by a template: a template's result is a rope of some forty
 * pieces (≈ 1.8 KB) that would wait a quarter of a second for its batch as such, outliving the young generation; a
 * joined line is one flat string (≈ 250 bytes).
 */
function copyLine(record: UsageRecord): string {
  return [
    copyText(record.id ?? randomUUID()),
    copyText(record.requestId),
    copyText(record.userId),
    copyText(record.keyId),
    copyText(record.operation),
    copyText(record.requestedModel),
    copyText(record.servedModel),
    copyText(record.provider),
    copyNumber(record.attempts, '0'),
    copyNumber(record.inputTokens, '0'),
    copyNumber(record.outputTokens, '0'),
    copyNumber(record.cachedInputTokens, '0'),
    copyNumber(record.reasoningTokens, '0'),
    copyNumber(record.credits, '0'),
    copyNumber(record.timeToFirstTokenMs, NULL),
    copyNumber(record.latencyMs, NULL),
    copyNumber(record.status, NULL),
    copyText(record.errorCode),
    record.stream ? 't' : 'f',
    record.cacheHit ? 't' : 'f',
    `${copyTime(record.createdAt)}\n`,
  ].join('\t');
}

const NULL = '\\N';
/** The characters COPY's text format gives a meaning to: the delimiter, line ends and its escape character. */
const copySpecial = /[\t\n\r\\]/;
const copySpecialAll = new RegExp(copySpecial.source, 'g');
const copyEscapes: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };

function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return NULL;
  return copySpecial.test(value)
    ? value.replace(copySpecialAll, (character) => copyEscapes[character]!)
    : value;
}

function copyNumber(value: number | null | undefined, absent: string): string {
  return value === null || value === undefined || !Number.isFinite(value) ? absent : String(value);
}

/** A valid time as ISO 8601; else now, as the column's default (JSON writes an invalid Date as null). */
function copyTime(value: Date | null | undefined): string {
  return (value && !Number.isNaN(value.getTime()) ? value : new Date()).toISOString();
}

const copyTarget = `usage_records (${columnNames})`;

/**
 * The whole batch as one statement: COPY on PGlite; elsewhere one parameter (a JSON array), which costs far less per
 * row than a multi-row VALUES list built and bound column by column.
 */
async function insertBatch(database: UsageDatabase, rows: string[]): Promise<void> {
  if (database.copyFrom) return copyBatch(database, database.copyFrom, rows);
  await database.db.execute(
    sql`insert into usage_records (${columnList}) select ${selectList} from json_populate_recordset(null::usage_records, ${`[${rows.join(',')}]`}::json) on conflict (id) do nothing`,
  );
}

/**
 * COPY has no `on conflict`: when it is refused for an id already there (23505, a batch tried again after its commit's
 * answer was lost), the rows whose id is in the table, or earlier in the batch, are left out and the rest copied, which
 * writes what `on conflict (id) do nothing` would.
 */
async function copyBatch(database: UsageDatabase, copyFrom: CopyFrom, rows: string[]): Promise<void> {
  try {
    await copyFrom(copyTarget, rows.join(''));
    return;
  } catch (error) {
    if (sqlState(error) !== '23505') throw error;
  }
  const ids = rows.map((row) => row.slice(0, row.indexOf('\t')));
  const written = await queryRows<{ id: string }>(
    database.db,
    sql`select value as id from json_array_elements_text(${JSON.stringify(ids)}::json)
        where exists (select 1 from usage_records where usage_records.id = value::uuid)`,
  );
  const seen = new Set(written.map((row) => row.id));
  const fresh = rows.filter((_, index) => {
    if (seen.has(ids[index]!)) return false;
    seen.add(ids[index]!);
    return true;
  });
  if (fresh.length > 0) await copyFrom(copyTarget, fresh.join(''));
}

type CopyFrom = NonNullable<UsageDatabase['copyFrom']>;
