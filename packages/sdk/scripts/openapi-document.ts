import { fileURLToPath } from 'node:url';
import { buildApp } from '../../server/src/app.js';
import { loadConfigFile } from '../../server/src/config/config-file.js';
import { loadEnv } from '../../server/src/config/env.js';
import { weboxConfigSchema } from '../../server/src/config/webox-config.js';
import { connectDatabase } from '../../server/src/db/client.js';
import { runMigrations } from '../../server/src/db/migrate.js';
import { createStores } from '../../server/src/stores/index.js';

/** The server's current OpenAPI document, built from a throwaway in-memory app. */
export async function currentOpenApiDocument(): Promise<Record<string, unknown>> {
  const database = await connectDatabase({ dataDir: 'memory://' });
  await runMigrations(database);
  const stores = createStores({ prefix: 'sdk:' });
  // The shipped config, with no provider key set, so the /v1 routes are part of the document.
  const shipped = fileURLToPath(new URL('../../../webox.config.yaml', import.meta.url));
  const gatewayConfig = await loadConfigFile(shipped, weboxConfigSchema, {});
  const app = await buildApp({
    env: loadEnv({ LOG_LEVEL: 'silent' }),
    database,
    stores,
    gatewayConfig,
    logStream: false,
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
    await stores.close();
    await database.close();
  }
}
