/**
 * WeBox as the benchmark runs it: the real server entry (packages/server/src/server.ts) does everything but choose
 * how /v1 is paid for, so this entry builds the same app from the same services and picks the metering:
 *
 *   --billing on   the ledger-backed metering of the billing module (`app.billing.metering`): quota check,
 *                  hold, settle, ledger entries
 *   --billing off  `meteringOff` (self-hosted use without credits)
 *
 * Everything else is as in production: virtual-key auth, per-key RPM/TPM limits, the usage writer, request logs at
 * LOG_LEVEL, metrics. Settings come from the environment exactly as for the server (PORT, DATABASE_URL, REDIS_URL,
 * WEBOX_CONFIG, ADMIN_EMAIL/ADMIN_PASSWORD, WEBOX_WORKERS…). Prints `listening <port>` once serving.
 *
 * It runs the compiled server (packages/server/dist, as `npm start` does; bench/run.ts builds it first), or the
 * TypeScript sources with --source.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import type { Metering } from '../../packages/server/src/modules/gateway/metering.js';

const { values } = parseArgs({
  options: {
    billing: { type: 'string', default: 'on' },
    // Run the TypeScript sources instead of the compiled server in packages/server/dist (what `npm start` runs).
    source: { type: 'boolean', default: false },
    'profile-file': { type: 'string' },
    // Replaces the engine's default upstream pools (128 connections per origin) to test a larger one.
    'upstream-connections': { type: 'string' },
    // The listen backlog; by default the one `npm start` serves with (LISTEN_BACKLOG).
    backlog: { type: 'string' },
  },
});

// The types are the sources'; what runs is the compiled server unless --source (same modules, same API).
const root = values.source ? '../../packages/server/src' : '../../packages/server/dist';
const load = <T>(module: string): Promise<T> => import(`${root}/${module}`) as Promise<T>;
const { buildApp, LISTEN_BACKLOG } = await load<typeof import('../../packages/server/src/app.js')>('app.js');
const { isClusterWorker, openWorkerServices, runClusterPrimary } =
  await load<typeof import('../../packages/server/src/cluster.js')>('cluster.js');
const { loadConfigFile } =
  await load<typeof import('../../packages/server/src/config/config-file.js')>('config/config-file.js');
const { loadEnv } = await load<typeof import('../../packages/server/src/config/env.js')>('config/env.js');
const { weboxConfigSchema } =
  await load<typeof import('../../packages/server/src/config/webox-config.js')>('config/webox-config.js');
const { ensureAdmin } = await load<typeof import('../../packages/server/src/modules/accounts/service.js')>(
  'modules/accounts/service.js',
);
const { meteringOff } = await load<typeof import('../../packages/server/src/modules/gateway/metering.js')>(
  'modules/gateway/metering.js',
);
const { openServices } = await load<typeof import('../../packages/server/src/services.js')>('services.js');

const billing = values.billing === 'on';

const env = loadEnv(process.env);
const config = await loadConfigFile(env.WEBOX_CONFIG, weboxConfigSchema, process.env);

if (env.WEBOX_WORKERS > 1 && !isClusterWorker) {
  await runClusterPrimary({
    workers: env.WEBOX_WORKERS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    async prepare() {
      const services = await openServices(env);
      await ensureAdmin(services.database.db, {
        email: env.ADMIN_EMAIL,
        password: env.ADMIN_PASSWORD,
        setupTokenTtlMinutes: env.SETUP_TOKEN_TTL_MINUTES,
        pubSub: services.stores.pubSub,
      });
      await services.close();
      process.stdout.write('cluster prepared\n');
    },
  });
} else {
  await serve();
}

/** The billing module's metering, looked up once the app exists (it is created inside buildApp). */
function ledgerMetering(app: () => FastifyInstance | undefined): Metering {
  return {
    enabled: true,
    begin(options) {
      const metering = (app() as unknown as { billing?: { metering?: Metering } } | undefined)?.billing
        ?.metering;
      if (!metering) throw new Error('the billing module provides no metering');
      return metering.begin(options);
    },
  };
}

async function serve() {
  const services = isClusterWorker ? await openWorkerServices(env) : await openServices(env);
  let built: FastifyInstance | undefined;
  const app = await buildApp({
    env,
    database: services.database,
    stores: services.stores,
    gatewayConfig: config,
    metering: billing ? ledgerMetering(() => built) : meteringOff,
    ...(values['upstream-connections']
      ? {
          upstreamDispatcher: new Agent({
            keepAliveTimeout: 30_000,
            keepAliveMaxTimeout: 600_000,
            connections: Number(values['upstream-connections']),
          }),
        }
      : {}),
    // Request logs are kept at LOG_LEVEL but go nowhere: the terminal is the benchmark's.
    logStream: { write() {} },
  });
  built = app;
  if (billing && !(app as unknown as { billing?: { metering?: unknown } }).billing?.metering) {
    process.stderr.write('billing unavailable: this build has no app.billing.metering\n');
    process.exit(3);
  }
  if (!isClusterWorker) {
    await ensureAdmin(services.database.db, {
      email: env.ADMIN_EMAIL,
      password: env.ADMIN_PASSWORD,
      setupTokenTtlMinutes: env.SETUP_TOKEN_TTL_MINUTES,
      pubSub: services.stores.pubSub,
    });
  }
  const stop = async () => {
    await app.close();
    await services.close();
    process.exit(0);
  };
  if (values['profile-file']) profileOnSignal(values['profile-file']);
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await app.listen({
    port: env.PORT,
    host: '127.0.0.1',
    backlog: values.backlog ? Number(values.backlog) : LISTEN_BACKLOG,
  });
  const address = app.server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : env.PORT}\n`);
}

/**
 * SIGUSR2 starts the CPU profiler, the next SIGUSR2 writes the profile to `file`: the benchmark profiles only its
 * load window, not the start-up (module loading, migrations).
 */
function profileOnSignal(file: string) {
  let session: Session | undefined;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!session) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
        process.stdout.write('profiling\n');
        return;
      }
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
      process.stdout.write('profile written\n');
    })();
  });
}
