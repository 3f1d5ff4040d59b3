import { Worker } from 'node:worker_threads';
import type { QueryOptions, Results } from '@electric-sql/pglite';
import { pgliteWorkerSource } from './pglite-worker.js';

/**
 * PGlite in a worker thread, behind the part of PGlite's client that Drizzle's pglite driver and migrator use
 * (`query`, `exec`, `transaction`, `close`). PGlite's WebAssembly runs every statement synchronously; on the
 * main thread each batch of writes stalled HTTP for 10–15 ms. Here the event loop only posts and receives.
 *
 * Protocol, over the worker's one message port: the main thread posts
 * `{ id, op: 'query' | 'exec' | 'begin' | 'commit' | 'rollback' | 'close', txId?, sql?, params?, rowMode?, rawTypes?,
 * copyText? }`
 * and the worker answers `{ id, result }` or `{ id, error }` (an Error's name, message and plain own fields);
 * `id` 0 is the answer to PGlite opening. Messages run as concurrent promises on the PGlite instance, which
 * queues them and makes a transaction exclusive, as it does in-process.
 */
export class PgliteThread {
  #worker: Worker;
  readonly #dataDir: string;
  readonly #startFrom: string | undefined;
  readonly #onCrash: ((crash: WorkerCrash) => void) | undefined;
  readonly #pending = new Map<number, Pending>();
  #lastId = 0;
  #failure: Error | undefined;
  #closing = false;
  /** PGlite opened once: from then on a crashed worker is replaced. */
  #serving = false;
  /** When the worker crashed lately (a worker that keeps crashing is not restarted forever). */
  #crashes: number[] = [];
  #crashCause: Error | undefined;

  /**
   * Starts the worker and opens PGlite on `dataDir` (a folder, or `memory://`); rejects when PGlite cannot.
   *
   * A worker that dies (PGlite's WebAssembly aborting, out of memory) fails the calls it was running, as a crashed
   * database server would; a folder is then opened again in a new worker, which recovers it as PostgreSQL recovers
   * after a crash, and later calls go there. A memory database cannot be reopened, nor a worker that crashed more
   * than three times in a minute or whose folder no longer opens: then every call fails from then on.
   * `onCrash` hears of each crash, and whether the database was reopened. `startFrom` (a `memory://` database only)
   * is a file from PGlite's `dumpDataDir`: the database starts as a copy of those files instead of an empty one.
   */
  static async open(
    dataDir: string,
    options: { onCrash?: (crash: WorkerCrash) => void; startFrom?: string } = {},
  ): Promise<PgliteThread> {
    const thread = new PgliteThread(dataDir, options.onCrash, options.startFrom);
    try {
      await thread.#opened();
      thread.#serving = true;
    } catch (error) {
      thread.#closing = true;
      await thread.#worker.terminate();
      throw error;
    }
    return thread;
  }

  private constructor(
    dataDir: string,
    onCrash: ((crash: WorkerCrash) => void) | undefined,
    startFrom: string | undefined,
  ) {
    this.#dataDir = dataDir;
    this.#onCrash = onCrash;
    this.#startFrom = startFrom;
    this.#worker = this.#start();
  }

  #start(): Worker {
    const worker = new Worker(pgliteWorkerSource, {
      eval: true,
      // The worker needs nothing the main thread preloads (tsx, instrumentation): it imports PGlite by URL.
      execArgv: [],
      workerData: {
        dataDir: this.#dataDir,
        pgliteUrl: import.meta.resolve('@electric-sql/pglite'),
        startFrom: this.#startFrom,
      },
    });
    // A replaced worker's late answers belong to calls that were already failed.
    worker.on('message', (reply: Reply) => {
      if (worker === this.#worker) this.#settle(reply);
    });
    // An uncaught error is followed by the exit, which handles the crash.
    worker.on('error', (error) => {
      this.#crashCause = error;
    });
    worker.on('exit', (code) => this.#exited(worker, code));
    return worker;
  }

  /** Resolves when the current worker has opened PGlite (it answers id 0). */
  #opened(): Promise<unknown> {
    return new Promise((resolve, reject) => this.#pending.set(0, { resolve, reject, parsers: undefined }));
  }

  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.#request('query', 0, sql, params, options) as Promise<Results<T>>;
  }

  exec(sql: string, options?: QueryOptions): Promise<Results[]> {
    return this.#request('exec', 0, sql, undefined, options) as Promise<Results[]>;
  }

  /**
   * Runs a `copy … from '/dev/blob'` statement over `text`: PGlite feeds COPY from a file, /dev/blob, that holds the
   * query's blob while it runs (the worker makes the blob; a string crosses the thread cheaply).
   */
  async copyFrom(sql: string, text: string): Promise<void> {
    await this.#request('query', 0, sql, undefined, undefined, text);
  }

  /** Runs `callback` in a transaction: committed when it resolves, rolled back when it throws (the error is rethrown). */
  async transaction<T>(callback: (tx: ThreadTransaction) => Promise<T>): Promise<T> {
    const txId = ++this.#lastId;
    await this.#request('begin', txId);
    const ensureOpen = () => {
      if (tx.closed) throw new Error('Transaction is closed');
    };
    const tx: ThreadTransaction = {
      closed: false,
      query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => {
        ensureOpen();
        return (await this.#request('query', txId, sql, params, options)) as Results<R>;
      },
      exec: async (sql: string, options?: QueryOptions) => {
        ensureOpen();
        return (await this.#request('exec', txId, sql, undefined, options)) as Results[];
      },
      rollback: async () => {
        ensureOpen();
        tx.closed = true;
        await this.#request('rollback', txId);
      },
    };
    let result: T;
    try {
      result = await callback(tx);
    } catch (error) {
      if (!tx.closed) {
        tx.closed = true;
        await this.#request('rollback', txId);
      }
      throw error;
    }
    if (!tx.closed) {
      tx.closed = true;
      await this.#request('commit', txId);
    }
    return result;
  }

  /** Closes PGlite (its files are complete on disk afterwards), then stops the worker. */
  async close(): Promise<void> {
    try {
      if (!this.#failure) await this.#request('close', 0);
    } finally {
      this.#closing = true;
      this.#fail(new Error('PGlite is closed'));
      await this.#worker.terminate();
    }
  }

  /** Test hook: stops the worker the way a crash would, without closing PGlite. */
  async terminateWorker(): Promise<void> {
    await this.#worker.terminate();
  }

  #request(
    op: Operation,
    txId: number,
    sql?: string,
    params?: unknown[],
    options?: QueryOptions,
    copyText?: string,
  ) {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = ++this.#lastId;
    const parsers = options?.parsers;
    return new Promise<unknown>((resolve, reject) => {
      const rawTypes = parsers && Object.keys(parsers).map(Number);
      this.#worker.postMessage({ id, op, txId, sql, params, rowMode: options?.rowMode, rawTypes, copyText });
      this.#pending.set(id, { resolve, reject, parsers });
      // An idle connection keeps the process alive no more than in-process PGlite did; a pending call does.
      if (this.#pending.size === 1) this.#worker.ref();
    });
  }

  #settle({ id, result, error }: Reply) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (error) return pending.reject(Object.assign(new Error(error.message), error));
    try {
      pending.resolve(
        pending.parsers ? applyParsers(result as Results | Results[], pending.parsers) : result,
      );
    } catch (parserError) {
      pending.reject(parserError as Error);
    }
  }

  #exited(worker: Worker, code: number) {
    if (worker !== this.#worker || this.#closing || this.#failure) return;
    const cause = this.#crashCause;
    this.#crashCause = undefined;
    const error = cause
      ? new Error(`The embedded database worker crashed: ${cause.message}`, { cause })
      : new Error(`The embedded database worker stopped unexpectedly (exit code ${code})`);
    // What the worker was running died with it (its open transactions are rolled back, as after any crash).
    this.#rejectPending(error);
    const now = Date.now();
    this.#crashes = [...this.#crashes.filter((at) => now - at < 60_000), now];
    if (!this.#serving || this.#dataDir.startsWith('memory://') || this.#crashes.length > 3) {
      this.#fail(error);
      if (this.#serving) this.#onCrash?.({ error, restarted: false });
      return;
    }
    const replacement = this.#start();
    this.#worker = replacement;
    this.#opened().then(
      () => this.#onCrash?.({ error, restarted: true }),
      (openError: Error) => {
        // A replacement that crashed while opening was handled as a crash of its own.
        if (replacement !== this.#worker || this.#failure || this.#closing) return;
        this.#fail(new Error(`The embedded database could not be reopened: ${openError.message}`));
        this.#onCrash?.({ error: openError, restarted: false });
      },
    );
  }

  #rejectPending(error: Error) {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #fail(error: Error) {
    if (this.#failure) return;
    this.#failure = error;
    this.#rejectPending(error);
    this.#worker.unref();
  }
}

/** A crash of the embedded database's worker, and whether the database was reopened in a new one. */
export interface WorkerCrash {
  error: Error;
  restarted: boolean;
}

/** The transaction handle passed to `PgliteThread.transaction`: PGlite's `Transaction`, minus `sql` and `listen`. */
export interface ThreadTransaction {
  closed: boolean;
  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>>;
  exec(sql: string, options?: QueryOptions): Promise<Results[]>;
  rollback(): Promise<void>;
}

type Operation = 'query' | 'exec' | 'begin' | 'commit' | 'rollback' | 'close';
type Parsers = NonNullable<QueryOptions['parsers']>;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  parsers: Parsers | undefined;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: { name: string; message: string };
}

/**
 * Functions cannot cross threads: the worker returned the columns of the caller's parser types as PGlite's raw
 * text, and the caller's parsers run here, as PGlite would have run them (never on null).
 */
function applyParsers(result: Results | Results[], parsers: Parsers) {
  for (const { rows, fields } of Array.isArray(result) ? result : [result]) {
    fields.forEach(({ name, dataTypeID }, column) => {
      // PGlite calls a parser with the type too, though its `Parser` type only declares the text.
      const parse = parsers[dataTypeID] as ((text: string, typeId: number) => unknown) | undefined;
      if (!parse) return;
      // In object rows a later column of the same name is the one that survived.
      const shadowed = fields.findLastIndex((field) => field.name === name) !== column;
      for (const row of rows as Array<Record<string | number, unknown>>) {
        const key = Array.isArray(row) ? column : shadowed ? undefined : name;
        if (key === undefined || row[key] === null) continue;
        row[key] = parse(row[key] as string, dataTypeID);
      }
    });
  }
  return result;
}
