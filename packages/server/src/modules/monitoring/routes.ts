import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { migrationStatus } from '../../db/migrate.js';
import { AppError } from '../../errors.js';
import { bearerToken } from '../../plugins/authenticate.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** A request carrying any of these came through a proxy, whatever address the socket shows. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * /metrics tells how the service runs (routes, rates, memory). With METRICS_TOKEN set, every scrape sends
 * `Authorization: Bearer <METRICS_TOKEN>`, from this host too: behind nginx or Caddy on the same machine every
 * request arrives from 127.0.0.1, so the socket address cannot tell a local scraper from the internet. Without a
 * token, only a direct connection from this host reads it; one carrying a proxy's forwarding header never does.
 */
function metricsGuard(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return async function metricsAccess(request: FastifyRequest) {
    if (expected) {
      const presented = bearerToken(request);
      // Comparing fixed-length digests keeps the time taken independent of the token and of what was sent.
      if (presented && timingSafeEqual(digest(presented), expected)) return;
      throw new AppError('forbidden', 'Metrics are readable with the metrics token.');
    }
    const forwarded = FORWARDING_HEADERS.some((name) => request.headers[name] !== undefined);
    if (!forwarded && LOOPBACK.has(request.socket.remoteAddress ?? '')) return;
    throw new AppError('forbidden', 'Metrics are readable from this host, or with the metrics token.');
  };
}

const check = z.object({ ok: z.boolean(), message: z.string().optional() });
const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ database: check, migrations: check, redis: check.optional() }),
});

async function probe(run: () => Promise<string | undefined>): Promise<z.infer<typeof check>> {
  try {
    const problem = await run();
    return problem ? { ok: false, message: problem } : { ok: true };
  } catch {
    // The reason stays in our logs; a probe endpoint is public and must not describe our infrastructure.
    return { ok: false, message: 'unreachable' };
  }
}

export async function monitoringRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/health',
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Liveness: the process is up and serving.',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
      logLevel: 'warn',
      config: { public: 'liveness probe for load balancers and orchestrators' },
    },
    async () => ({ status: 'ok' as const }),
  );

  routes.get(
    '/ready',
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Readiness: database reachable, migrations applied, Redis reachable when configured.',
        response: { 200: readiness, 503: readiness },
      },
      logLevel: 'warn',
      config: { public: 'readiness probe; says only ok or unreachable per dependency' },
    },
    async (request, reply) => {
      const [database, migrations, redis] = await Promise.all([
        probe(async () => {
          await app.database.ping();
          return undefined;
        }),
        probe(async () => {
          const status = await migrationStatus(app.database);
          return status.applied >= status.expected
            ? undefined
            : `${status.expected - status.applied} pending`;
        }),
        app.stores.kind === 'redis'
          ? probe(async () => {
              await app.stores.ping();
              return undefined;
            })
          : undefined,
      ]);
      const checks = { database, migrations, ...(redis ? { redis } : {}) };
      const ready = Object.values(checks).every((item) => item.ok);
      if (!ready) request.log.warn({ checks }, 'not ready');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: { hide: true },
      logLevel: 'warn',
      config: { public: 'Prometheus scrape: with Bearer METRICS_TOKEN when set, else only from this host' },
      onRequest: metricsGuard(app.env.METRICS_TOKEN),
    },
    async (_request, reply) => {
      reply.header('content-type', app.metrics.contentType);
      return app.metrics.metrics();
    },
  );
}
