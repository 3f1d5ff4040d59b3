import { ConfigError, loadEnv } from '../../config/env.js';
import { connectDatabase } from '../../db/client.js';
import { runMigrations } from '../../db/migrate.js';
import { rotateMasterKeys } from './provider-keys.js';

/**
 * `npm run accounts:rotate-master-key -w @webox/server`: re-seals stored provider keys and TOTP secrets under the
 * newest master key (the first of MASTER_KEYS, or a newly generated one when the keys live in the database).
 */
async function main() {
  const env = loadEnv(process.env);
  const database = await connectDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    await runMigrations(database);
    const result = await rotateMasterKeys(database.db, { masterKeys: env.MASTER_KEYS });
    process.stdout.write(
      `Master key v${result.version} is current; ${result.resealed} secret(s) re-sealed. Restart running servers.\n`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
