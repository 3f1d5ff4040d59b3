import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { clientOf } from './audit.js';
import { accountsContext } from './context.js';
import { cancelAccountDeletion, exportAccountData, scheduleAccountDeletion } from './privacy.js';
import {
  AVATAR_MAX_BYTES,
  isTimeZone,
  readAvatar,
  removeAvatar,
  setAvatar,
  updateProfile,
} from './profile.js';
import {
  deleteProviderKey,
  listProviderKeys,
  PROVIDER_KEYS_CHANNEL,
  saveProviderKey,
  setProviderKeyUse,
} from './provider-keys.js';
import { userLimit } from './rate-limits.js';
import { accountSchema, nameSchema } from './schemas.js';
import { locales, themes } from './tables.js';

const providerKeySchema = z.object({
  id: z.uuid(),
  providerId: z.string(),
  label: z.string(),
  masked: z.string(),
  useForGateway: z.boolean(),
  createdAt: z.string(),
});

/** Profile, preferences, avatar, bring-your-own provider keys, and privacy (export, deletion). */
export async function profileRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['account'];
  const signedIn = authenticate();
  const reads = userLimit(app, 'reads');
  const writes = userLimit(app, 'writes');
  const sensitive = userLimit(app, 'auth', 'account-sensitive');

  // Avatars arrive as the raw image body; only these types are parsed, anything else is a 415.
  app.addContentTypeParser(
    ['image/jpeg', 'image/png', 'image/webp', 'image/gif'],
    { parseAs: 'buffer', bodyLimit: AVATAR_MAX_BYTES },
    (_request, body, done) => done(null, body),
  );

  routes.patch(
    '/api/account/profile',
    {
      schema: {
        tags,
        summary: 'Update name and preferences: theme, language (fr/en/ar), time zone, notification choices.',
        body: z
          .object({
            name: nameSchema.optional(),
            locale: z.enum(locales).optional(),
            theme: z.enum(themes).optional(),
            timeZone: z
              .string()
              .max(64)
              .refine(isTimeZone, 'must be an IANA time zone such as Africa/Algiers')
              .optional(),
            notificationPreferences: z
              .object({ product: z.boolean(), billing: z.boolean(), marketing: z.boolean() })
              .partial()
              .strict()
              .optional(),
          })
          .strict(),
        response: { 200: z.object({ user: accountSchema }), ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request) => ({
      user: await updateProfile(app.db, {
        userId: request.auth.userId,
        changes: request.body,
        ...clientOf(request),
      }),
    }),
  );

  routes.put(
    '/api/account/avatar',
    {
      schema: {
        tags,
        summary:
          'Upload an avatar as the raw body (image/jpeg, png, webp or gif, at most 5 MB); stored re-encoded, without metadata.',
        response: { 200: z.object({ user: accountSchema }), ...errorResponses(400, 401, 403, 413, 415, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body)) {
        throw new AppError('unsupported_media_type', 'Send the image bytes with an image content type.');
      }
      return {
        user: await setAvatar(app.db, {
          userId: request.auth.userId,
          dataDir: app.env.DATA_DIR,
          contentType: String(request.headers['content-type'] ?? ''),
          data: request.body,
        }),
      };
    },
  );

  routes.delete(
    '/api/account/avatar',
    {
      schema: {
        tags,
        summary: 'Remove the avatar.',
        response: { 204: z.null(), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request, reply) => {
      await removeAvatar(app.db, { userId: request.auth.userId, dataDir: app.env.DATA_DIR });
      return reply.code(204).send(null);
    },
  );

  routes.get(
    '/api/account/avatar/:key',
    {
      config: { public: 'images shown in pages; the key is unguessable' },
      schema: {
        tags,
        summary: 'An avatar image (WebP) by its unguessable key.',
        params: z.object({ key: z.string().max(80) }),
        response: { 200: z.unknown(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const image = await readAvatar(app.env.DATA_DIR, request.params.key);
      if (!image) throw new AppError('not_found', 'No such avatar.');
      reply.header('content-type', 'image/webp');
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      reply.header('x-content-type-options', 'nosniff');
      return reply.send(image);
    },
  );

  routes.get(
    '/api/account/provider-keys',
    {
      schema: {
        tags,
        summary: 'Your own provider keys, masked.',
        response: { 200: z.object({ keys: z.array(providerKeySchema) }), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, reads],
    },
    async (request) => ({ keys: await listProviderKeys(app.db, request.auth.userId) }),
  );

  routes.put(
    '/api/account/provider-keys/:providerId',
    {
      schema: {
        tags,
        summary:
          'Save your key for one provider (replaces the previous one); stored encrypted, shown masked.',
        params: z.object({
          providerId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a provider id such as openai'),
        }),
        body: z.object({
          key: z
            .string()
            .trim()
            .min(8)
            .max(512)
            .regex(/^[\x21-\x7e]+$/, 'printable characters without spaces'),
          label: nameSchema.optional(),
          useForGateway: z.boolean().default(true),
        }),
        response: { 200: z.object({ key: providerKeySchema }), ...errorResponses(400, 401, 403, 429) },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request) => {
      const key = await saveProviderKey(app.db, {
        userId: request.auth.userId,
        providerId: request.params.providerId,
        key: request.body.key,
        useForGateway: request.body.useForGateway,
        ...(request.body.label !== undefined ? { label: request.body.label } : {}),
        ...clientOf(request),
      });
      await app.stores.pubSub.publish(PROVIDER_KEYS_CHANNEL, request.auth.userId);
      return { key };
    },
  );

  routes.patch(
    '/api/account/provider-keys/:keyId',
    {
      schema: {
        tags,
        summary: 'Choose whether the gateway uses this key for your calls.',
        params: z.object({ keyId: z.uuid() }),
        body: z.object({ useForGateway: z.boolean() }),
        response: { 200: z.object({ key: providerKeySchema }), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request) => {
      const key = await setProviderKeyUse(app.db, {
        userId: request.auth.userId,
        keyId: request.params.keyId,
        useForGateway: request.body.useForGateway,
      });
      await app.stores.pubSub.publish(PROVIDER_KEYS_CHANNEL, request.auth.userId);
      return { key };
    },
  );

  routes.delete(
    '/api/account/provider-keys/:keyId',
    {
      schema: {
        tags,
        summary: 'Delete one of your provider keys.',
        params: z.object({ keyId: z.uuid() }),
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      await deleteProviderKey(app.db, {
        userId: request.auth.userId,
        keyId: request.params.keyId,
        ...clientOf(request),
      });
      await app.stores.pubSub.publish(PROVIDER_KEYS_CHANNEL, request.auth.userId);
      return reply.code(204).send(null);
    },
  );

  routes.get(
    '/api/account/export',
    {
      schema: {
        tags,
        summary: 'Download everything kept about you as one JSON document.',
        response: { 200: z.record(z.string(), z.unknown()), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      const data = await exportAccountData(app.db, { userId: request.auth.userId, ...clientOf(request) });
      reply.header('content-disposition', 'attachment; filename="webox-my-data.json"');
      reply.header('cache-control', 'no-store');
      return data;
    },
  );

  routes.post(
    '/api/account/deletion',
    {
      schema: {
        tags,
        summary:
          'Delete your account after the grace period (signing in before then cancels it); 409 for the last active admin.',
        body: z.object({ password: z.string().max(256).optional() }),
        response: {
          202: z.object({ deletionScheduledFor: z.string() }),
          ...errorResponses(400, 401, 403, 409, 429),
        },
      },
      preHandler: [signedIn, sensitive],
    },
    async (request, reply) => {
      const result = await scheduleAccountDeletion(accountsContext(app), {
        userId: request.auth.userId,
        password: request.body.password,
        ...clientOf(request),
      });
      return reply.code(202).send(result);
    },
  );

  routes.delete(
    '/api/account/deletion',
    {
      schema: {
        tags,
        summary: 'Cancel a scheduled deletion.',
        response: { 204: z.null(), ...errorResponses(401, 403, 429) },
      },
      preHandler: [signedIn, writes],
    },
    async (request, reply) => {
      await cancelAccountDeletion(app.db, { userId: request.auth.userId, ...clientOf(request) });
      return reply.code(204).send(null);
    },
  );
}
