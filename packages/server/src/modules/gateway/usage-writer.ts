import type { Database } from '../../db/client.js';
import { usageRecords } from './tables.js';

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
 */
export class UsageWriter {
  #buffer: UsageRecord[] = [];
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
    this.#buffer.push(record);
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
          await this.db.insert(usageRecords).values(slice);
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
