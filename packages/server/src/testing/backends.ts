import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { createStores, type Stores } from '../stores/index.js';
import type { JobQueueOptions } from '../stores/job-queue.js';

/**
 * The backends a shared suite runs against: always the embedded defaults, plus PostgreSQL and Redis when
 * DATABASE_URL / REDIS_URL are set (as .ci/run does). Each test file gets a database and a key prefix of its own.
 */
export interface DatabaseBackend {
  name: 'pglite' | 'postgres';
  open(): Promise<DatabaseConnection & { url?: string }>;
}

export interface StoreBackend {
  name: 'memory' | 'redis';
  /** `jobs` overrides the job queue's options (a failure hook, a shorter backoff). */
  open(options?: { jobs?: JobQueueOptions }): Promise<Stores>;
}

const suffix = () => randomBytes(5).toString('hex');

export function databaseBackends(): DatabaseBackend[] {
  const backends: DatabaseBackend[] = [
    {
      name: 'pglite',
      async open() {
        // Under Vitest the database starts as a copy of the run's migrated one; migrating it again only checks.
        const startFrom = process.env.VITEST ? inject('pgliteTemplate') : undefined;
        const connection = await connectDatabase({ dataDir: 'memory://', startFrom });
        await runMigrations(connection);
        return connection;
      },
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) backends.push({ name: 'postgres', open: () => openFreshPostgres(url) });
  return backends;
}

/**
 * Creates `webox_t_<random>` on the server of `baseUrl`, migrates it (unless `migrate` is false: a migration test
 * migrates it its own way), and drops it on close.
 */
export async function openFreshPostgres(
  baseUrl: string,
  options: { migrate?: boolean } = {},
): Promise<DatabaseConnection & { url: string }> {
  const name = `webox_t_${suffix()}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const target = new URL(baseUrl);
  target.pathname = `/${name}`;
  const url = target.toString();
  const connection = await connectDatabase({ url, dataDir: 'unused', poolSize: 20 });
  if (options.migrate !== false) await runMigrations(connection);
  return {
    ...connection,
    url,
    async close() {
      await connection.close();
      const dropper = new pg.Client({ connectionString: baseUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [
    { name: 'memory', open: async (options = {}) => createStores({ prefix: 'test:', ...options }) },
  ];
  const url = process.env.REDIS_URL;
  if (url) backends.push({ name: 'redis', open: async (options = {}) => openFreshRedis(url, options.jobs) });
  return backends;
}

/** Redis stores under a random prefix; closing them deletes every key under it. */
export function openFreshRedis(url: string, jobs: JobQueueOptions = {}): Stores {
  const prefix = `webox_t_${suffix()}:`;
  const stores = createStores({ redisUrl: url, prefix, jobs: { backoffMs: 50, ...jobs } });
  return {
    ...stores,
    async close() {
      await stores.close();
      const cleaner = new Redis(url);
      let cursor = '0';
      do {
        const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await cleaner.del(...keys);
      } while (cursor !== '0');
      await cleaner.quit();
    },
  };
}
