import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AppOptions, buildApp } from '../app.js';
import { type Env, loadEnv } from '../config/env.js';
import type { DatabaseConnection } from '../db/client.js';
import type { Stores } from '../stores/index.js';
import type { DatabaseBackend, StoreBackend } from './backends.js';

export interface TestApp {
  app: FastifyInstance;
  database: DatabaseConnection;
  stores: Stores;
  close(): Promise<void>;
}

/**
 * A full app on the given backends, logging silenced, driven with `app.inject()`. Files (avatars, proofs) go to a
 * fresh temporary DATA_DIR removed on close, unless the caller names one.
 */
export async function createTestApp(
  backends: { database: DatabaseBackend; stores: StoreBackend },
  overrides: Partial<Record<keyof Env, string>> = {},
  options: Pick<
    AppOptions,
    'webRoot' | 'gatewayConfig' | 'metering' | 'cachedAliases' | 'pdfWorkerSetup' | 'now' | 'ownKeysTtlMs'
  > & {
    logStream?: { write(line: string): void };
    configure?: (app: FastifyInstance) => void;
  } = {},
): Promise<TestApp> {
  const dataDir = overrides.DATA_DIR ? undefined : await mkdtemp(path.join(tmpdir(), 'webox-test-'));
  const env = loadEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...overrides,
  });
  const database = await backends.database.open();
  const stores = await backends.stores.open();
  const app = await buildApp({
    env,
    database,
    stores,
    ...(options.webRoot ? { webRoot: options.webRoot } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.gatewayConfig ? { gatewayConfig: options.gatewayConfig } : {}),
    ...(options.metering ? { metering: options.metering } : {}),
    ...(options.cachedAliases ? { cachedAliases: options.cachedAliases } : {}),
    ...(options.pdfWorkerSetup ? { pdfWorkerSetup: options.pdfWorkerSetup } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.ownKeysTtlMs !== undefined ? { ownKeysTtlMs: options.ownKeysTtlMs } : {}),
  });
  options.configure?.(app);
  await app.ready();
  return {
    app,
    database,
    stores,
    async close() {
      await app.close();
      await stores.close();
      await database.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
