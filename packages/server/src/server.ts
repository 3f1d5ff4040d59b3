import { buildApp } from './app.js';
import { loadConfigFile } from './config/config-file.js';
import { ConfigError, loadEnv, publicUrl } from './config/env.js';
import { weboxConfigSchema } from './config/webox-config.js';
import { ensureAdmin } from './modules/accounts/service.js';
import { openServices } from './services.js';

/** Starts WeBox: validate settings, open and migrate the database, serve, and shut down gracefully. */
async function main() {
  const env = loadEnv(process.env);
  const config = await loadConfigFile(env.WEBOX_CONFIG, weboxConfigSchema, process.env);
  const services = await openServices(env);
  const app = await buildApp({
    env,
    database: services.database,
    stores: services.stores,
    gatewayConfig: config,
    ...(config.cache ? { cachedAliases: config.cache.aliases } : {}),
  });

  const admin = await ensureAdmin(services.database.db, {
    email: env.ADMIN_EMAIL,
    password: env.ADMIN_PASSWORD,
    setupTokenTtlMinutes: env.SETUP_TOKEN_TTL_MINUTES,
  });
  if (admin.kind === 'created' || admin.kind === 'promoted') {
    app.log.info({ userId: admin.user.id }, `administrator ${admin.kind} from ADMIN_EMAIL`);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    // Past the bound, open streams are cut so the database can still close cleanly.
    const force = setTimeout(() => {
      app.log.warn('shutdown bound reached: closing remaining connections');
      app.server.closeAllConnections();
    }, env.SHUTDOWN_TIMEOUT_MS);
    try {
      await app.close();
      await services.close();
      app.log.info('stopped');
      process.exitCode = 0;
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    } finally {
      clearTimeout(force);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  const address = await app.listen({ port: env.PORT, host: env.HOST });
  app.log.info(
    { address, database: services.database.kind, stores: services.stores.kind },
    'WeBox is serving',
  );
  if (admin.kind === 'setup_token') {
    // Printed for the person at the console, deliberately not through the logger: the token must not reach log storage.
    process.stdout.write(
      `\n  No administrator yet. Open this one-time link to create one (valid until ${admin.expiresAt.toISOString()}):\n  ${publicUrl(env)}/setup?token=${admin.token}\n\n`,
    );
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `WeBox failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  process.exit(1);
});
