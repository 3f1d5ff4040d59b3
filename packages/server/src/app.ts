import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { GatewayConfig } from '@webox/gateway';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Env } from './config/env.js';
import type { Database, DatabaseConnection } from './db/client.js';
import { registerAccounts } from './modules/accounts/plugin.js';
import { accountsRoutes } from './modules/accounts/routes.js';
import { registerBilling } from './modules/billing/plugin.js';
import { billingRoutes } from './modules/billing/routes.js';
import { type Metering, meteringOff } from './modules/gateway/metering.js';
import { registerGatewayModule } from './modules/gateway/plugin.js';
import { monitoringRoutes } from './modules/monitoring/routes.js';
import { registerOrganizations } from './modules/organizations/plugin.js';
import { type PaymentsConfig, registerPaymentsModule } from './modules/payments/index.js';
import { studioRoutes } from './modules/studio/routes.js';
import { registerAuthentication } from './plugins/authenticate.js';
import { registerErrorHandling } from './plugins/error-handler.js';
import { lazyRequestLogger, loggerOptions, OneLinePerRequest, requestId } from './plugins/logging.js';
import { registerMetrics } from './plugins/metrics.js';
import { registerSecurity } from './plugins/security.js';
import type { Stores } from './stores/index.js';

export type { Env } from './config/env.js';

declare module 'fastify' {
  interface FastifyInstance {
    env: Env;
    /** The database connection (kind, ping, close); services use `db`. */
    database: DatabaseConnection;
    db: Database;
    stores: Stores;
    /** Milliseconds since the epoch, as `buildApp`'s `now` reads them (default `Date.now`). */
    now: () => number;
  }
}

/**
 * The listen backlog `npm start` serves with (Node's default is 511): a burst of new connections (thousands of streams
 * opening at once) waits in the kernel's accept queue instead of being dropped, then reset once established.
 */
export const LISTEN_BACKLOG = 4096;

export interface AppOptions {
  env: Env;
  database: DatabaseConnection;
  stores: Stores;
  /** Folder of the built web app (default packages/web/dist); not served when missing. */
  webRoot?: string;
  /** Providers, models and routes for the /v1 API; without it the /v1 routes are not registered. */
  gatewayConfig?: GatewayConfig;
  /** How /v1 calls are paid for (default: the billing module's ledger, or nothing when BILLING=off). */
  metering?: Metering;
  /** Upstream HTTP dispatcher for provider calls (tests use it to reach local fake providers). */
  upstreamDispatcher?: import('undici').Dispatcher;
  /** Aliases whose answers are cached without the client asking, with their TTL in seconds. */
  cachedAliases?: Record<string, number>;
  /** Credit packs and bank details (the `payments:` section of webox.config.yaml). */
  payments?: PaymentsConfig;
  /** Where JSON log lines go (default stdout); `false` turns logging off. */
  logStream?: false | { write(line: string): void };
  /** A module each PDF export's worker thread imports first (tests reach PDFKit there through it). */
  pdfWorkerSetup?: URL;
  /**
   * The wall clock two-factor codes are checked against and sign-in waits are measured with, in milliseconds since the
   * epoch (default `Date.now`). Tests fix it, so a code they compute cannot move into the next 30-second step, nor a
   * wait run out, while a loaded machine carries their requests.
   */
  now?: () => number;
  /** How long /v1 caches a user's own provider keys (default 30 s); a change announced by accounts evicts them. */
  ownKeysTtlMs?: number;
}

const defaultWebRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));
const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Prefixes the SPA never owns: unknown paths under them are JSON 404s. */
const API_PREFIXES = ['/api/', '/v1/', '/docs', '/openapi.json', '/health', '/ready', '/metrics'];

/**
 * Builds the whole application without listening, so tests drive it with `inject()`.
 * It owns no connections: the caller opens the database and stores and closes them after `app.close()`.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { env } = options;
  const app = Fastify({
    logger:
      options.logStream === false
        ? false
        : { ...loggerOptions(env.LOG_LEVEL), ...(options.logStream ? { stream: options.logStream } : {}) },
    genReqId: requestId,
    logController: new OneLinePerRequest(),
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: env.BODY_LIMIT,
    trustProxy: env.TRUST_PROXY,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.decorate('env', env);
  app.decorate('database', options.database);
  app.decorate('db', options.database.db);
  app.decorate('stores', options.stores);
  app.decorate('now', options.now ?? Date.now);

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  registerMetrics(app);
  await registerSecurity(app);

  const webRoot = options.webRoot ?? defaultWebRoot;
  const indexHtml = path.join(webRoot, 'index.html');
  const hasWeb = existsSync(indexHtml);
  registerErrorHandling(app, { spaFallback: hasWeb ? spaFallback : undefined });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'WeBox API',
        version,
        description:
          'One OpenAI- and Anthropic-compatible API in front of many AI providers, and the WeBox platform API. Errors on /v1/* use the OpenAI shape; errors on /api/* use { error: { code, message, details? } }.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A virtual API key or an access token.' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await registerAuthentication(app);
  // Accounts first: cookies, `authenticate` and the mailer are on the root instance before any route uses them.
  await registerAccounts(app);
  await app.register(monitoringRoutes);
  await app.register(accountsRoutes);
  // Billing before the gateway module: /v1 pays through `app.billing.metering`.
  await registerBilling(app, { models: options.gatewayConfig?.models });
  await app.register(billingRoutes);
  // After billing: an organisation's keys pay from its wallet through billing's metering hooks.
  await registerOrganizations(app);
  await app.register(studioRoutes, options.pdfWorkerSetup ? { pdfWorkerSetup: options.pdfWorkerSetup } : {});
  await registerPaymentsModule(app, { config: options.payments });
  if (options.gatewayConfig) {
    await registerGatewayModule(app, {
      config: options.gatewayConfig,
      metering: options.metering ?? (env.BILLING === 'on' ? app.billing.metering : meteringOff),
      ...(options.upstreamDispatcher ? { dispatcher: options.upstreamDispatcher } : {}),
      ...(options.cachedAliases ? { cachedAliases: options.cachedAliases } : {}),
      ...(options.ownKeysTtlMs !== undefined ? { ownKeysTtlMs: options.ownKeysTtlMs } : {}),
    });
  }

  if (hasWeb) {
    await app.register(fastifyStatic, {
      root: webRoot,
      wildcard: false,
      index: false,
      // Vite fingerprints everything under /assets, so those files never change: cache them for a year.
      setHeaders(reply, filePath) {
        const immutable = filePath.includes(`${path.sep}assets${path.sep}`);
        reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }

  function spaFallback(request: FastifyRequest, reply: FastifyReply): boolean {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const pathname = request.url.split('?')[0] ?? '/';
    if (API_PREFIXES.some((prefix) => pathname.startsWith(prefix))) return false;
    if (path.extname(pathname)) return false;
    reply.header('cache-control', 'no-cache');
    reply.sendFile('index.html', webRoot);
    return true;
  }

  return app;
}
