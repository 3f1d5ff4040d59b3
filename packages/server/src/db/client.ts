import { access, mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { ConfigError } from '../config/env.js';
import { PgliteThread, type WorkerCrash } from './pglite-thread.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** The Drizzle handle every service uses; the same type over PGlite and node-postgres. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseConnection {
  db: Database;
  kind: 'pglite' | 'postgres';
  /** Runs `fn` holding a database-wide lock, so only one process migrates at a time. */
  withMigrationLock<T>(fn: (db: Database) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  /**
   * PGlite only: loads `text`, rows in COPY's text format, with `copy <target> from …` (`target`: a table and its
   * columns). COPY inserts through PostgreSQL's bulk path, which in PGlite's worker costs about half of what an
   * `insert … select` does per row. Absent on PostgreSQL, where node-postgres streams COPY only with another library.
   */
  copyFrom?(target: string, text: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Hears of each crash of the embedded database's worker, and whether it was reopened (see `PgliteThread.open`).
   * PostgreSQL's pool replaces a failed connection by itself and never calls it.
   */
  onCrash(listener: (crash: WorkerCrash) => void): void;
}

export interface DatabaseOptions {
  /** postgres:// URL; when absent the embedded PGlite database is used. */
  url?: string | undefined;
  /** Folder for PGlite's files; `memory://` keeps them in memory (tests). */
  dataDir: string;
  /** Connections in the node-postgres pool (default 10). */
  poolSize?: number;
  /**
   * A `memory://` PGlite database only: a file from PGlite's `dumpDataDir` to start from, instead of an empty
   * database. Tests start from one migrated database this way (see `testing/pglite-template.ts`).
   */
  startFrom?: string | undefined;
}

export async function connectDatabase(options: DatabaseOptions): Promise<DatabaseConnection> {
  if (options.url) return connectPostgres(options.url, options.poolSize ?? 10);
  if (options.startFrom && !options.dataDir.startsWith('memory://'))
    throw new Error('startFrom applies to a memory:// database only');
  return connectPglite(options.dataDir, options.startFrom);
}

async function connectPostgres(url: string, poolSize: number): Promise<DatabaseConnection> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = drizzleNodePostgres(pool, { schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    async withMigrationLock(fn) {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock(7283514001)');
        try {
          return await fn(drizzleNodePostgres(client, { schema }) as unknown as Database);
        } finally {
          await client.query('select pg_advisory_unlock(7283514001)');
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    close: () => pool.end(),
    onCrash() {},
  };
}

/** Whether a PGlite folder already holds a database (initdb writes `PG_VERSION` into it). */
async function holdsDatabase(directory: string): Promise<boolean> {
  return access(path.join(directory, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

async function connectPglite(dataDir: string, startFrom: string | undefined): Promise<DatabaseConnection> {
  const inMemory = dataDir.startsWith('memory://');
  const directory = inMemory ? dataDir : path.resolve(dataDir, 'pglite');
  const releaseLock = inMemory ? async () => {} : await lockDataDirectory(directory);
  let client: PgliteThread;
  const crashListeners: Array<(crash: WorkerCrash) => void> = [];
  try {
    // A WebAssembly memory only grows: creating the database (initdb) would leave the worker ≈ 500 MiB it never
    // needs again (a new server measured ≈ 950 MiB RSS against ≈ 460 MiB once restarted on the same folder). So a
    // worker of its own creates a new folder's database and exits, and the server's worker opens it afresh.
    if (!inMemory && !(await holdsDatabase(directory))) await (await PgliteThread.open(directory)).close();
    // PGlite runs in a worker thread, so its synchronous WebAssembly work never blocks the event loop.
    client = await PgliteThread.open(directory, {
      onCrash: (crash) => {
        for (const listener of crashListeners) listener(crash);
      },
      ...(startFrom ? { startFrom } : {}),
    });
  } catch (error) {
    await releaseLock();
    throw error;
  }
  // Drizzle's pglite driver only calls the part of PGlite's client that PgliteThread implements.
  const db = drizzlePglite(client as unknown as PGlite, { schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    withMigrationLock: (fn) => fn(db),
    async ping() {
      await client.query('select 1');
    },
    copyFrom: (target, text) => client.copyFrom(`copy ${target} from '/dev/blob'`, text),
    onCrash: (listener) => crashListeners.push(listener),
    async close() {
      try {
        await client.close();
      } finally {
        await releaseLock();
      }
    },
  };
}

/**
 * PGlite is a single-process database: two processes writing one folder corrupt it.
 * A lock file holding our PID refuses a second process with a clear message, and is taken over when stale.
 */
async function lockDataDirectory(directory: string): Promise<() => Promise<void>> {
  await mkdir(directory, { recursive: true });
  const lockPath = `${directory}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new ConfigError(
          `Invalid setting DATA_DIR: ${directory} is in use by process ${holder}; the embedded database serves one process, set DATABASE_URL to share a PostgreSQL server`,
        );
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new ConfigError(`Invalid setting DATA_DIR: could not lock ${directory}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
