import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../http/schemas.js';
import { rateLimit } from '../../plugins/rate-limit.js';
import { adminSecurityRoutes } from '../admin/routes.js';
import { accountRoutes } from './account-routes.js';
import { authRoutes } from './auth-routes.js';
import { oauthRoutes } from './oauth-routes.js';
import { profileRoutes } from './profile-routes.js';
import { completeSetup } from './service.js';

const publicUser = z.object({
  id: z.uuid(),
  email: z.email(),
  name: z.string(),
  role: z.enum(['user', 'support', 'admin']),
});

export const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(256, 'must be at most 256 characters');

export async function accountsRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  await app.register(authRoutes);
  await app.register(accountRoutes);
  await app.register(profileRoutes);
  await app.register(oauthRoutes);
  await app.register(adminSecurityRoutes);

  routes.post(
    '/api/setup',
    {
      config: { public: 'proven by the one-time setup token printed at first start' },
      schema: {
        tags: ['accounts'],
        summary: 'Create the first administrator from the one-time setup link printed at first start.',
        body: z.object({
          token: z.string().min(20).max(200),
          name: z.string().trim().min(1).max(120),
          email: z.email().max(254),
          password: passwordSchema,
        }),
        response: { 201: z.object({ user: publicUser }), ...errorResponses(400, 404, 409, 429) },
      },
      preHandler: rateLimit(app.stores.rateLimiters, { name: 'setup', points: 10 }),
    },
    async (request, reply) => {
      const user = await completeSetup(app.db, app.stores.pubSub, request.body);
      request.log.info({ userId: user.id }, 'first administrator created');
      return reply.code(201).send({ user });
    },
  );
}
