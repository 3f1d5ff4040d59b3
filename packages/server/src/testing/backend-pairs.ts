import { type DatabaseBackend, databaseBackends, type StoreBackend, storeBackends } from './backends.js';

/**
 * The embedded pair (PGlite + memory) always, and the scale-out pair (PostgreSQL + Redis) when both are configured,
 * so an integration suite runs once per deployment shape.
 */
export function backendPairs(): Array<{ name: string; database: DatabaseBackend; stores: StoreBackend }> {
  const databases = databaseBackends();
  const stores = storeBackends();
  const pairs = [{ name: 'pglite + memory', database: databases[0]!, stores: stores[0]! }];
  const postgres = databases.find((backend) => backend.name === 'postgres');
  const redis = stores.find((backend) => backend.name === 'redis');
  if (postgres && redis) pairs.push({ name: 'postgres + redis', database: postgres, stores: redis });
  return pairs;
}
