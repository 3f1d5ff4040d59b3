import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { adminLimit, adminLimitNote } from '../accounts/rate-limits.js';

const providerHealth = z.object({
  provider: z.string(),
  configured: z.boolean(),
  samples: z.number().int(),
  successRate: z.number(),
  latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number() }),
  lastErrorCode: z.string().optional(),
  lastErrorAt: z.number().optional(),
});

/** Passive health of each provider as this server process has seen it (recent calls only). */
export async function gatewayAdminRoutes(app: FastifyInstance) {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/admin/gateway/health',
    {
      schema: {
        tags: ['admin'],
        summary: 'Per provider: success rate and latency percentiles over recent calls seen by this process.',
        description: adminLimitNote('reads'),
        response: {
          200: z.object({ process: z.number().int(), providers: z.array(providerHealth) }),
          ...errorResponses(401, 403, 429),
        },
      },
      preHandler: [authenticate({ roles: ['admin', 'support'] }), adminLimit(app, 'reads')],
    },
    async () => ({ process: process.pid, providers: app.gateway.health() }),
  );
}
