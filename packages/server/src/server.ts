import { buildApp, LISTEN_BACKLOG } from './app.js';
import { isClusterWorker, openWorkerServices, runClusterPrimary } from './cluster.js';
import { loadConfigFile } from './config/config-file.js';
import { ConfigError, type Env, loadEnv, publicUrl } from './config/env.js';
import { weboxConfigSchema } from './config/webox-config.js';
import { ensureAdmin } from './modules/accounts/service.js';
import { openServices, type Services } from './services.js';

/** Starts WeBox: validate settings, open and migrate the database, serve, and shut down gracefully. */
async function main() {
  const env = loadEnv(process.env);
  const config = await loadConfigFile(env.WEBOX_CONFIG, weboxConfigSchema, process.env);
  if (env.WEBOX_WORKERS > 1 && !isClusterWorker) {
    // The primary migrates and ensures the admin once, then only supervises; the workers serve.
    return runClusterPrimary({
      workers: env.WEBOX_WORKERS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      async prepare() {
        const services = await openServices(env);
        try {
          printSetupLink(env, await ensureFirstAdmin(env, services));
        } finally {
          await services.close();
        }
      },
    });
  }
  const services = isClusterWorker ? await openWorkerServices(env) : await openServices(env);
  const app = await buildApp({
    env,
    database: services.database,
    stores: services.stores,
    gatewayConfig: config,
    ...(config.cache ? { cachedAliases: config.cache.aliases } : {}),
    ...(config.payments ? { payments: config.payments } : {}),
  });

  const admin = isClusterWorker ? undefined : await ensureFirstAdmin(env, services);
  if (admin?.kind === 'created' || admin?.kind === 'promoted') {
    app.log.info({ userId: admin.user.id }, `administrator ${admin.kind} from ADMIN_EMAIL`);
  }

  let stopping = false;
  const shutdown = async (reason: string, failed = false) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ reason }, 'shutting down: finishing in-flight requests');
    // Past the bound, open streams are cut so the database can still close cleanly.
    const force = setTimeout(() => {
      app.log.warn('shutdown bound reached: closing remaining connections');
      app.server.closeAllConnections();
    }, env.SHUTDOWN_TIMEOUT_MS);
    // And if closing itself hangs (a store that never answers), the process still ends.
    const deadline = setTimeout(() => {
      app.log.error('shutdown did not finish in time: exiting');
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS + 10_000);
    let code = failed ? 1 : 0;
    try {
      await app.close();
      await services.close();
      app.log.info('stopped');
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      code = 1;
    } finally {
      clearTimeout(force);
      clearTimeout(deadline);
    }
    // Exit explicitly: idle keep-alive sockets to providers would otherwise hold the process for minutes.
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  services.database.onCrash(({ error, restarted }) => {
    if (restarted) {
      app.log.error(
        { err: error },
        'the embedded database crashed and was reopened; the calls it was running failed',
      );
      return;
    }
    // Serving with no database would only answer errors: stop, so that whatever supervises WeBox restarts it.
    app.log.fatal({ err: error }, 'the embedded database crashed and cannot be reopened: stopping');
    void shutdown('database lost', true);
  });

  const address = await app.listen({ port: env.PORT, host: env.HOST, backlog: LISTEN_BACKLOG });
  app.log.info(
    { address, database: services.database.kind, stores: services.stores.kind },
    'WeBox is serving',
  );
  if (admin) printSetupLink(env, admin);
}

function ensureFirstAdmin(env: Env, services: Pick<Services, 'database' | 'stores'>) {
  return ensureAdmin(services.database.db, {
    email: env.ADMIN_EMAIL,
    password: env.ADMIN_PASSWORD,
    setupTokenTtlMinutes: env.SETUP_TOKEN_TTL_MINUTES,
    pubSub: services.stores.pubSub,
  });
}

function printSetupLink(env: Env, admin: Awaited<ReturnType<typeof ensureAdmin>>) {
  if (admin.kind !== 'setup_token') return;
  // Printed for the person at the console, deliberately not through the logger: the token must not reach log storage.
  process.stdout.write(
    `\n  No administrator yet. Open this one-time link to create one (valid until ${admin.expiresAt.toISOString()}):\n  ${publicUrl(env)}/setup?token=${admin.token}\n\n`,
  );
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
