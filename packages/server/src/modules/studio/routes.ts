import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { onClientGone } from '../../http/client-gone.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { userLimit } from '../accounts/rate-limits.js';
import { exportFileName, exportFormats, toExport, toMarkdown } from './export.js';
import {
  type ExportClaims,
  exportLimits,
  MemoryExportClaims,
  RedisExportClaims,
  RenderSlots,
} from './export-limits.js';
import { type PdfRender, PdfThreads } from './pdf-threads.js';
import {
  addMessage,
  type Conversation,
  createConversation,
  createFolder,
  createPreset,
  deleteConversation,
  deleteFolder,
  deletePreset,
  findMeasuredUsage,
  getActiveBranch,
  getConversation,
  listConversations,
  listFolders,
  listPresets,
  type Message,
  renameFolder,
  updateConversation,
} from './service.js';
import { imageMediaTypes, messageRoles, messageStatuses } from './tables.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f]/;
const shortText = (max: number, min = 0) =>
  z
    .string()
    .trim()
    .min(min)
    .max(max)
    .refine((value) => !controlCharacters.test(value), 'must not contain control characters');
/** A model name is shown in headings and exports on one line: no line breaks or other control characters. */
const modelId = shortText(200, 1);
/** A message can be long (pasted documents, long answers) but not unbounded. */
const MAX_CONTENT = 200_000;
/** Inline images: a few, each small enough that a conversation stays quick to load. */
const MAX_IMAGES = 4;
const MAX_IMAGE_DATA_URL = 1_500_000;
/** Token counts are `integer` columns: a larger claim would fail in the database instead of being refused here. */
const MAX_TOKENS = 2_147_483_647;

const conversationSchema = z.object({
  id: z.uuid(),
  title: z.string(),
  model: z.string().nullable(),
  systemPrompt: z.string(),
  folderId: z.uuid().nullable(),
  pinned: z.boolean(),
  activeLeafId: z.uuid().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const attachmentSchema = z.object({
  type: z.literal('image'),
  mediaType: z.enum(imageMediaTypes),
  dataUrl: z
    .string()
    .max(MAX_IMAGE_DATA_URL)
    .regex(/^data:image\/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/=]+$/, 'must be a base64 image data URL'),
});

const messageSchema = z.object({
  id: z.uuid(),
  parentId: z.uuid().nullable(),
  role: z.enum(messageRoles),
  content: z.string(),
  attachments: z.array(attachmentSchema),
  model: z.string().nullable(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  credits: z.number().int(),
  status: z.enum(messageStatuses),
  createdAt: z.string(),
});

const folderSchema = z.object({ id: z.uuid(), name: z.string(), createdAt: z.string() });
const presetSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  model: z.string().nullable(),
  systemPrompt: z.string(),
  createdAt: z.string(),
});

function conversationView(row: Conversation) {
  return {
    id: row.id,
    title: row.title,
    model: row.model,
    systemPrompt: row.systemPrompt,
    folderId: row.folderId,
    pinned: row.pinnedAt !== null,
    activeLeafId: row.activeLeafId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function messageView(row: Message) {
  return {
    id: row.id,
    parentId: row.parentId,
    role: row.role,
    content: row.content,
    attachments: row.attachments,
    model: row.model,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    credits: row.credits,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
  };
}

const dated = <T extends { createdAt: Date }>(row: T) => ({ ...row, createdAt: row.createdAt.toISOString() });

/** Aborts when the client goes away before its answer is sent (an export it no longer waits for). */
function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const disconnected = new AbortController();
  onClientGone(reply, () => disconnected.abort());
  return disconnected.signal;
}

/** Options of `studioRoutes`. */
export interface StudioRoutesOptions {
  /** A module each PDF worker thread imports first (`PdfThreadsOptions.setup`: tests only). */
  pdfWorkerSetup?: URL;
}

/** The chat studio's storage: conversations with branching messages, folders, pins, search, presets, export. */
export async function studioRoutes(app: FastifyInstance, options: StudioRoutesOptions = {}) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['studio'];
  const signedIn = authenticate();
  const reads = [signedIn, userLimit(app, 'reads')];
  const writes = [signedIn, userLimit(app, 'writes')];
  const conversationParams = z.object({ conversationId: z.uuid() });
  // Per process: a PDF renders in one of this process's worker threads, one each. Per person: across processes,
  // through Redis when set.
  const renderSlots = new RenderSlots(exportLimits);
  const pdfThreads = new PdfThreads({
    threads: exportLimits.renders,
    ...(options.pdfWorkerSetup ? { setup: options.pdfWorkerSetup } : {}),
  });
  app.addHook('onClose', () => pdfThreads.close());
  const exportClaims: ExportClaims = app.stores.redis
    ? new RedisExportClaims(app.stores.redis, app.stores.prefix)
    : new MemoryExportClaims();

  routes.get(
    '/api/studio/conversations',
    {
      schema: {
        tags,
        summary:
          'Your conversations, pinned first then most recent, a page at a time; `search` matches titles and messages. Pass `nextCursor` back as `cursor` for the next page; it is null on the last.',
        querystring: z.object({
          search: z.string().max(200).optional(),
          folderId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().min(1).max(500).optional(),
        }),
        response: {
          200: z.object({ conversations: z.array(conversationSchema), nextCursor: z.string().nullable() }),
          ...errorResponses(400, 401, 429),
        },
      },
      preHandler: reads,
    },
    async (request) => {
      const page = await listConversations(app.db, { userId: request.auth.userId, ...request.query });
      return { conversations: page.conversations.map(conversationView), nextCursor: page.nextCursor };
    },
  );

  routes.post(
    '/api/studio/conversations',
    {
      schema: {
        tags,
        summary: 'Start a conversation (title, model and system prompt are optional).',
        body: z.object({
          title: shortText(200).optional(),
          model: modelId.nullable().optional(),
          systemPrompt: z.string().max(20_000).optional(),
          folderId: z.uuid().nullable().optional(),
        }),
        response: {
          201: z.object({ conversation: conversationSchema }),
          ...errorResponses(400, 401, 404, 429),
        },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      const conversation = await createConversation(app.db, { userId: request.auth.userId, ...request.body });
      return reply.code(201).send({ conversation: conversationView(conversation) });
    },
  );

  routes.get(
    '/api/studio/conversations/:conversationId',
    {
      schema: {
        tags,
        summary: 'A conversation with every message of every branch; `activeLeafId` is the branch shown.',
        params: conversationParams,
        response: {
          200: z.object({ conversation: conversationSchema, messages: z.array(messageSchema) }),
          ...errorResponses(400, 401, 404, 429),
        },
      },
      preHandler: reads,
    },
    async (request) => {
      const { conversation, messages } = await getConversation(app.db, {
        userId: request.auth.userId,
        conversationId: request.params.conversationId,
      });
      return { conversation: conversationView(conversation), messages: messages.map(messageView) };
    },
  );

  routes.patch(
    '/api/studio/conversations/:conversationId',
    {
      schema: {
        tags,
        summary: 'Rename, pin, file, change model or system prompt, or show another branch.',
        params: conversationParams,
        body: z
          .object({
            title: shortText(200),
            model: modelId.nullable(),
            systemPrompt: z.string().max(20_000),
            pinned: z.boolean(),
            folderId: z.uuid().nullable(),
            activeLeafId: z.uuid(),
          })
          .partial()
          .strict(),
        response: {
          200: z.object({ conversation: conversationSchema }),
          ...errorResponses(400, 401, 404, 429),
        },
      },
      preHandler: writes,
    },
    async (request) => ({
      conversation: conversationView(
        await updateConversation(app.db, {
          userId: request.auth.userId,
          conversationId: request.params.conversationId,
          changes: request.body,
        }),
      ),
    }),
  );

  routes.delete(
    '/api/studio/conversations/:conversationId',
    {
      schema: {
        tags,
        summary: 'Delete a conversation and all its messages.',
        params: conversationParams,
        response: { 204: z.null(), ...errorResponses(400, 401, 404, 429) },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      await deleteConversation(app.db, {
        userId: request.auth.userId,
        conversationId: request.params.conversationId,
      });
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/api/studio/conversations/:conversationId/messages',
    {
      schema: {
        tags,
        summary:
          'Store a message. An answer names the /v1 request that produced it: its tokens and cost are then taken from what the gateway measured. A conversation holds at most 2,000 messages (409 past it) and 50 MB of text and images (413).',
        params: conversationParams,
        body: z.object({
          parentId: z.uuid().nullable(),
          role: z.enum(messageRoles),
          content: z.string().max(MAX_CONTENT),
          attachments: z.array(attachmentSchema).max(MAX_IMAGES).optional(),
          model: modelId.nullable().optional(),
          requestId: z.string().min(1).max(200).optional(),
          status: z.enum(messageStatuses).optional(),
          usage: z
            .object({
              inputTokens: z.number().int().min(0).max(MAX_TOKENS),
              outputTokens: z.number().int().min(0).max(MAX_TOKENS),
              // A bigint column read back as a JS number: exact only up to 2^53 - 1.
              credits: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
            })
            .optional()
            .describe('What the page saw in the stream; used only when the gateway has no record of it.'),
        }),
        response: {
          201: z.object({ message: messageSchema }),
          ...errorResponses(400, 401, 404, 409, 413, 429),
        },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      const { userId } = request.auth;
      const { requestId, ...body } = request.body;
      let usage = body.usage;
      let model = body.model;
      if (body.role === 'assistant' && requestId) {
        // Usage records are written in batches: flush this process's batch so the answer's record is there.
        if (app.hasDecorator('usageWriter')) await app.usageWriter.flush();
        const measured = await findMeasuredUsage(app.db, { userId, requestId });
        if (measured) {
          usage = measured;
          model = measured.model ?? model;
        }
      }
      const message = await addMessage(app.db, {
        userId,
        conversationId: request.params.conversationId,
        ...body,
        model,
        usage,
        requestId,
      });
      return reply.code(201).send({ message: messageView(message) });
    },
  );

  routes.get(
    '/api/studio/conversations/:conversationId/export',
    {
      schema: {
        tags,
        summary:
          'Download the branch shown as Markdown, JSON or PDF. One export at a time per person (429 while one runs); 503 when too many PDFs are being prepared. Both carry Retry-After.',
        params: conversationParams,
        querystring: z.object({ format: z.enum(exportFormats).default('markdown') }),
        response: { ...errorResponses(400, 401, 404, 429, 503) },
      },
      preHandler: reads,
    },
    async (request, reply) => {
      const release = await exportClaims.claim(request.auth.userId);
      if (!release) {
        throw new AppError(
          'rate_limited',
          'An export of yours is still being prepared; ask again once it is done.',
          { retryAfterSeconds: exportLimits.retryAfterSeconds },
        );
      }
      try {
        const { conversation, messages } = await getActiveBranch(app.db, {
          userId: request.auth.userId,
          conversationId: request.params.conversationId,
        });
        const exported = toExport(conversation, messages);
        const { format } = request.query;
        const headers = {
          'cache-control': 'no-store',
          'content-disposition': `attachment; filename="${exportFileName(conversation.title, format)}"`,
        };
        if (format === 'pdf') {
          const disconnected = abortOnDisconnect(reply);
          let pdf: PdfRender;
          try {
            const releaseSlot = await renderSlots.acquire(disconnected);
            pdf = pdfThreads.render(exported, { signal: disconnected });
            // The slot is the worker's until it has rendered (or failed, or was stopped), not until the client
            // has read the bytes: a slow reader holds none.
            pdf.done.then(releaseSlot, releaseSlot);
            await pdf.started;
          } catch (error) {
            // Nobody reads the answer: the render stopped (or never began) because the client went away.
            if (disconnected.aborted)
              throw new AppError('client_closed_request', 'The client closed the connection.');
            throw error;
          }
          // The bytes go out as the worker makes them; a render that fails from here on cuts the download short.
          reply
            .headers(headers)
            .type('application/pdf')
            .send(pdf.body as never);
          // The person's claim (released in `finally`) lasts as long as the render.
          await pdf.done.catch((error: unknown) => {
            if (!disconnected.aborted)
              request.log.error({ err: error }, 'PDF export failed while it was sent');
          });
          return reply;
        }
        reply.headers(headers);
        if (format === 'json') {
          return reply
            .type('application/json; charset=utf-8')
            .send(JSON.stringify(exported, null, 2) as never);
        }
        return reply.type('text/markdown; charset=utf-8').send(toMarkdown(exported) as never);
      } finally {
        await release();
      }
    },
  );

  routes.get(
    '/api/studio/folders',
    {
      schema: {
        tags,
        summary: 'Your folders.',
        response: { 200: z.object({ folders: z.array(folderSchema) }), ...errorResponses(401, 429) },
      },
      preHandler: reads,
    },
    async (request) => ({ folders: (await listFolders(app.db, request.auth.userId)).map(dated) }),
  );

  const folderBody = z.object({ name: shortText(100).pipe(z.string().min(1)) });

  routes.post(
    '/api/studio/folders',
    {
      schema: {
        tags,
        summary: 'Create a folder.',
        body: folderBody,
        response: { 201: z.object({ folder: folderSchema }), ...errorResponses(400, 401, 429) },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      const folder = await createFolder(app.db, { userId: request.auth.userId, name: request.body.name });
      return reply.code(201).send({ folder: dated(folder) });
    },
  );

  const folderParams = z.object({ folderId: z.uuid() });

  routes.patch(
    '/api/studio/folders/:folderId',
    {
      schema: {
        tags,
        summary: 'Rename a folder.',
        params: folderParams,
        body: folderBody,
        response: { 200: z.object({ folder: folderSchema }), ...errorResponses(400, 401, 404, 429) },
      },
      preHandler: writes,
    },
    async (request) => ({
      folder: dated(
        await renameFolder(app.db, {
          userId: request.auth.userId,
          folderId: request.params.folderId,
          name: request.body.name,
        }),
      ),
    }),
  );

  routes.delete(
    '/api/studio/folders/:folderId',
    {
      schema: {
        tags,
        summary: 'Delete a folder; its conversations stay, unfiled.',
        params: folderParams,
        response: { 204: z.null(), ...errorResponses(400, 401, 404, 429) },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      await deleteFolder(app.db, { userId: request.auth.userId, folderId: request.params.folderId });
      return reply.code(204).send(null);
    },
  );

  routes.get(
    '/api/studio/presets',
    {
      schema: {
        tags,
        summary: 'Your saved presets (model and system prompt).',
        response: { 200: z.object({ presets: z.array(presetSchema) }), ...errorResponses(401, 429) },
      },
      preHandler: reads,
    },
    async (request) => ({ presets: (await listPresets(app.db, request.auth.userId)).map(dated) }),
  );

  routes.post(
    '/api/studio/presets',
    {
      schema: {
        tags,
        summary: 'Save a preset.',
        body: z.object({
          name: shortText(100).pipe(z.string().min(1)),
          model: modelId.nullable().default(null),
          systemPrompt: z.string().max(20_000).default(''),
        }),
        response: { 201: z.object({ preset: presetSchema }), ...errorResponses(400, 401, 429) },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      const preset = await createPreset(app.db, { userId: request.auth.userId, ...request.body });
      return reply.code(201).send({ preset: dated(preset) });
    },
  );

  routes.delete(
    '/api/studio/presets/:presetId',
    {
      schema: {
        tags,
        summary: 'Delete a preset.',
        params: z.object({ presetId: z.uuid() }),
        response: { 204: z.null(), ...errorResponses(400, 401, 404, 429) },
      },
      preHandler: writes,
    },
    async (request, reply) => {
      await deletePreset(app.db, { userId: request.auth.userId, presetId: request.params.presetId });
      return reply.code(204).send(null);
    },
  );
}
