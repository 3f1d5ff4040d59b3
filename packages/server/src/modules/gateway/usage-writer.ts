import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { usageRecords } from './tables.js';

export type UsageRecord = typeof usageRecords.$inferInsert;

export interface UsageWriterOptions {
  /** Flush when this many records wait (default 500). */
  maxBatch?: number;
  /** Flush at least this often (default 250 ms). */
  intervalMs?: number;
  onError?: (error: unknown, lost: number) => void;
}

/**
 * Collects usage records off the response path and writes them as multi-row inserts, so a request never
 * waits for its record. `close()` flushes what is left (graceful shutdown).
 *
 * A record waits as its JSON row, one string: a quarter of a second of records kept as objects outlived the young
 * generation of the garbage collector, which then had to copy and later trace every one of them.
 */
export class UsageWriter {
  #buffer: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #maxBatch: number;
  readonly #intervalMs: number;

  constructor(
    private readonly db: Database,
    private readonly options: UsageWriterOptions = {},
  ) {
    this.#maxBatch = options.maxBatch ?? 500;
    this.#intervalMs = options.intervalMs ?? 250;
  }

  record(record: UsageRecord) {
    this.#buffer.push(jsonRow(record));
    if (this.#buffer.length >= this.#maxBatch) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Writes everything buffered so far; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#flushing.then(async () => {
      for (let start = 0; start < batch.length; start += this.#maxBatch) {
        const slice = batch.slice(start, start + this.#maxBatch);
        try {
          await insertBatch(this.db, slice);
        } catch (error) {
          this.options.onError?.(error, slice.length);
        }
      }
    });
    return this.#flushing;
  }

  close(): Promise<void> {
    return this.flush();
  }
}

const columns = [
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

const columnList = sql.raw(columns.map(([, column]) => column).join(', '));
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
 * The whole batch as one statement with one parameter (a JSON array), which costs far less per row than a
 * multi-row VALUES list built and bound column by column.
 */
async function insertBatch(db: Database, rows: string[]): Promise<void> {
  await db.execute(
    sql`insert into usage_records (${columnList}) select ${selectList} from json_populate_recordset(null::usage_records, ${`[${rows.join(',')}]`}::json)`,
  );
}
