import type { Env } from './config/env.js';
import { connectDatabase, type DatabaseConnection } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { createStores, type Stores } from './stores/index.js';

export interface Services {
  database: DatabaseConnection;
  stores: Stores;
  close(): Promise<void>;
}

/** Opens the database (migrated) and the shared-state stores that the env selects. */
export async function openServices(
  env: Env,
  options: { onJobFailure?: (failure: unknown) => void } = {},
): Promise<Services> {
  const database = await connectDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    await runMigrations(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  const stores = createStores({
    redisUrl: env.REDIS_URL,
    prefix: env.REDIS_PREFIX,
    jobs: options.onJobFailure ? { onFailure: options.onJobFailure } : {},
  });
  return {
    database,
    stores,
    async close() {
      await stores.close();
      await database.close();
    },
  };
}
