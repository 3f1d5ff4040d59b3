import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import {
  Abort,
  type AnthropicMessagesRequest,
  anthropicMessagesRequestSchema,
  anthropicRequestToChat,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatStreamResult,
  chatCompletionRequestSchema,
  chatResultToAnthropic,
  createAnthropicStreamEncoder,
  type EmbeddingsRequest,
  embeddingsRequestSchema,
  formatAnthropicEvent,
  type Gateway,
  GatewayError,
  type RequestMetadata,
  type ResolvedTarget,
  type Usage,
} from '@webox/gateway';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { onClientGone } from '../../http/client-gone.js';
import type { KeyLimits } from './limits.js';
import {
  type Charge,
  embeddingsTokenBound,
  largestContextWindow,
  type Metering,
  outputTokenCap,
  promptTokenBound,
} from './metering.js';
import type { OwnKeys } from './own-keys.js';
import type { CachedAnswer, ResponseCache } from './response-cache.js';
import type { UsageRecord, UsageWriter } from './usage-writer.js';
import type { V1Caller } from './v1-auth.js';

export interface V1RoutesOptions {
  gateway: Gateway;
  metering: Metering;
  limits: KeyLimits;
  cache: ResponseCache;
  usage: UsageWriter;
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /**
   * The caller's plan, for routes with plan conditions and the plan's allowed models (default: none, so such
   * conditions never match). Undefined when it could not be read.
   */
  planOf?: (caller: V1Caller) => Promise<CallerPlan | undefined>;
  /** Refuse models the caller's plan does not include (403 `model_not_allowed`); default false. */
  enforcePlanModels?: boolean;
  /** The caller's own provider keys, used instead of the platform's for the providers they cover. */
  ownKeysOf?: (userId: string) => Promise<OwnKeys>;
}

/** What /v1 needs of a billing plan. */
export interface CallerPlan {
  id: string;
  /** Model ids or aliases the plan may call; '*' for all. */
  allowedModels: '*' | readonly string[];
}

/**
 * A plan allows a model or alias it lists, and an alias whose every candidate for this caller it lists (so a plan
 * listing models need not list each alias that routes to them).
 */
export function planAllows(plan: CallerPlan, model: string, candidates: readonly ResolvedTarget[]): boolean {
  const allowed = plan.allowedModels;
  if (allowed === '*' || allowed.includes(model)) return true;
  return candidates.length > 0 && candidates.every((target) => allowed.includes(target.model));
}

const noOwnKeys: OwnKeys = Object.freeze({});
/** Marks a usage record served with the caller's own key: its provider column reads `<provider>:own-key`. */
export const OWN_KEY_PROVIDER_SUFFIX = ':own-key';

type Operation = UsageRecord['operation'];

/** Turns a stream's chunks into the client's wire format (OpenAI or Anthropic events). */
interface StreamEncoder {
  chunk(chunk: ChatCompletionChunk): string;
  finish(usage: Usage, settled: { charged: number; balance?: number }): string;
  error(error: GatewayError): string;
}

/** A streamed call being relayed to its client. */
interface RelayedStream {
  call: Call;
  reply: FastifyReply;
  stream: ChatStreamResult;
  charge: Charge;
  encode: StreamEncoder;
  /** Sent in x-webox-warnings, with the stream's own. */
  warnings?: string[];
  /** Given what was delivered once the stream completed (the response cache keeps it). */
  onComplete?: ((chunks: ChatCompletionChunk[], usage: Usage) => void) | undefined;
}

/** How a call ended, as its usage record tells it (the rest of the record comes from the call). */
interface Outcome {
  status: number;
  errorCode?: string | undefined;
  servedModel?: string;
  provider?: string;
  attempts?: number;
  usage?: Usage;
  credits?: number;
  timeToFirstTokenMs?: number | undefined;
  cacheHit?: boolean;
}

/** Per-request bookkeeping shared by every /v1 operation. */
interface Call {
  request: FastifyRequest;
  caller: V1Caller;
  operation: Operation;
  model: string;
  stream: boolean;
  startedAt: number;
  /** What routing sees: the request headers and, once admitted, the caller's plan. */
  metadata: RequestMetadata;
  /** The caller's own provider keys (once admitted); the calls they cover cost no credits. */
  ownKeys: OwnKeys;
  /** Aborted when the client went away before the answer was complete (set once a provider is called). */
  disconnected?: Abort;
}

const openAiResponse = z.looseObject({ id: z.string(), object: z.string() });
const modelInfo = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number(),
  owned_by: z.string(),
  kind: z.enum(['model', 'alias']),
  context_window: z.number(),
  max_output_tokens: z.number().optional(),
  capabilities: z.array(z.string()),
  price: z
    .object({
      inputPerMillion: z.number(),
      outputPerMillion: z.number(),
      cachedInputPerMillion: z.number().optional(),
    })
    .optional(),
});

/**
 * The /v1 bodies are provider-shaped interfaces (or SSE streams, which Fastify pipes without serializing);
 * their response schemas document the envelope only, so the payload is passed through as is.
 */
function passThrough(payload: unknown): never {
  return payload as never;
}
const v1Security = [{ bearer: [] }];
/**
 * Serializes a passed-through answer without checking it against its documentation schema: the schema type provider
 * would re-encode (copy) every provider answer through zod first, a measurable share of a proxied call.
 */
const passThroughSerializer = () => (payload: unknown) => JSON.stringify(payload);

function elapsed(call: Call): number {
  return Math.round(performance.now() - call.startedAt);
}

function totalTokens(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens;
}

export async function v1Routes(app: FastifyInstance, options: V1RoutesOptions) {
  const { gateway, metering, limits, cache, usage: usageWriter } = options;
  const routes = app.withTypeProvider<ZodTypeProvider>();

  /**
   * The calls being answered, until settled and recorded. A stop cuts the streams still open at its bound; their
   * settling runs after the connections are gone, and must end before the ledger and the usage writer close.
   */
  const inFlight = new Set<Promise<unknown>>();
  routes.addHook('onClose', async () => {
    await Promise.allSettled(inFlight);
  });
  function tracked<Request extends FastifyRequest, Result>(
    handler: (request: Request, reply: FastifyReply) => Promise<Result>,
  ) {
    return (request: Request, reply: FastifyReply): Promise<Result> => {
      const call = handler(request, reply);
      inFlight.add(call);
      const forget = () => inFlight.delete(call);
      call.then(forget, forget);
      return call;
    };
  }

  function begin(request: FastifyRequest, operation: Operation, model: string, stream: boolean): Call {
    return {
      request,
      caller: request.caller,
      operation,
      model,
      stream,
      startedAt: performance.now(),
      metadata: { headers: request.headers },
      ownKeys: noOwnKeys,
    };
  }

  /** Reads the caller's plan (cached by the plugin); with plan enforcement, an unreadable plan fails the call. */
  async function planOf(caller: V1Caller): Promise<CallerPlan | undefined> {
    const plan = await options.planOf?.(caller);
    if (!plan && options.enforcePlanModels) {
      throw new AppError('service_unavailable', 'The plan of this account could not be read; try again.');
    }
    return plan;
  }

  function assertPlanAllows(
    plan: CallerPlan | undefined,
    model: string,
    candidates: readonly ResolvedTarget[],
  ) {
    if (options.enforcePlanModels && plan && !planAllows(plan, model, candidates)) {
      throw new AppError('model_not_allowed', `Your plan does not include the model "${model}".`);
    }
  }

  /** Checks the key may use the model, resolves its targets, and spends the key's rate budget. */
  async function admit(call: Call): Promise<ResolvedTarget[]> {
    const { caller, model, request } = call;
    if (caller.allowedModels && !caller.allowedModels.includes(model)) {
      throw new AppError('model_not_allowed', `This API key may not use the model "${model}".`);
    }
    const [plan, ownKeys] = await Promise.all([planOf(caller), options.ownKeysOf?.(caller.userId)]);
    if (plan) call.metadata = { headers: request.headers, plan: plan.id };
    if (ownKeys) call.ownKeys = ownKeys;
    const candidates = gateway.resolve(model, call.metadata, call.ownKeys);
    if (!candidates || candidates.length === 0) {
      throw new AppError('model_not_found', `The model "${model}" does not exist or is not available here.`);
    }
    assertPlanAllows(plan, model, candidates);
    await limits.admit(caller);
    return candidates;
  }

  /**
   * Candidates the call is billed for: those the platform pays the provider for (the caller's own keys do not cover
   * them); none with billing off, so nothing is capped or held and the filter is not even run.
   */
  function platformPaid(call: Call, candidates: ResolvedTarget[]): ResolvedTarget[] {
    if (!metering.enabled) return [];
    return candidates.filter((target) => call.ownKeys[target.provider] === undefined);
  }

  /** The engine always uses the caller's key for a provider it covers, so the served provider tells. */
  function servedWithOwnKey(call: Call, served: { provider: string }): boolean {
    return call.ownKeys[served.provider] !== undefined;
  }

  function callContext(call: Call, reply: FastifyReply) {
    call.disconnected = abortOnDisconnect(reply);
    return {
      signal: call.disconnected,
      metadata: call.metadata,
      ...(Object.keys(call.ownKeys).length > 0 ? { keyOverrides: { ...call.ownKeys } } : {}),
    };
  }

  /** Writes the call's usage record: one literal of a fixed shape, no spreads (this runs once per call). */
  function record(call: Call, outcome: Outcome) {
    const { usage } = outcome;
    usageWriter.record({
      requestId: call.request.id,
      userId: call.caller.userId,
      keyId: call.caller.keyId,
      operation: call.operation,
      requestedModel: call.model,
      servedModel: outcome.servedModel ?? null,
      provider: outcome.provider ?? null,
      attempts: outcome.attempts ?? 0,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cachedInputTokens: usage?.cachedInputTokens ?? 0,
      reasoningTokens: usage?.reasoningTokens ?? 0,
      credits: outcome.credits ?? 0,
      timeToFirstTokenMs: outcome.timeToFirstTokenMs ?? null,
      latencyMs: elapsed(call),
      status: outcome.status,
      errorCode: outcome.errorCode ?? null,
      stream: call.stream,
      cacheHit: outcome.cacheHit ?? false,
      createdAt: new Date(),
    });
  }

  /**
   * Releases the hold and records a failed call, with the provider that failed it when one did (one that accepted the
   * call and then sent an unreadable answer may bill the platform for it); the error then goes to the error handler.
   */
  async function fail(call: Call, charge: Charge | undefined, error: unknown): Promise<never> {
    await charge?.release();
    const status = error instanceof GatewayError || error instanceof AppError ? error.status : 500;
    const code = error instanceof GatewayError || error instanceof AppError ? error.code : 'internal_error';
    const provider = error instanceof GatewayError ? error.provider : undefined;
    record(call, {
      status,
      errorCode: code,
      ...(provider === undefined
        ? {}
        : {
            provider: servedWithOwnKey(call, { provider })
              ? `${provider}${OWN_KEY_PROVIDER_SUFFIX}`
              : provider,
          }),
    });
    throw error;
  }

  function setServedHeaders(
    reply: FastifyReply,
    served: { provider: string; model: string },
    warnings: string[],
    ownKey = false,
  ) {
    reply.header('x-webox-provider', served.provider);
    if (ownKey) reply.header('x-webox-provider-key', 'own');
    reply.header('x-webox-served-model', served.model);
    if (warnings.length)
      reply.header(
        'x-webox-warnings',
        warnings
          .join('; ')
          .replace(/[\r\n]+/g, ' ')
          // A header carries Latin-1 only: a parameter named in another script would make the answer fail.
          .replace(/[^\x20-\x7e]+/g, encodeURIComponent)
          .slice(0, 2_000),
      );
  }

  function setCostHeaders(reply: FastifyReply, settled: { charged: number; balance?: number }) {
    if (!metering.enabled) return;
    reply.header('x-webox-credits-charged', String(settled.charged));
    if (settled.balance !== undefined) reply.header('x-webox-credits-balance', String(settled.balance));
  }

  /**
   * Charges what a call used (priced for the model that served), counts its tokens against the key's TPM window
   * and records it. Every finished call goes through here, streamed or not, failed or not. A call served with the
   * caller's own provider key costs no credits (its hold, if any, is released) and is recorded as such.
   */
  async function settleAndRecord(
    call: Call,
    charge: Charge,
    result: { usage: Usage; served: { provider: string; model: string }; attempts: unknown[] },
    outcome: { status: number; errorCode?: string; timeToFirstTokenMs?: number },
  ) {
    const ownKey = servedWithOwnKey(call, result.served);
    let settled: { charged: number; balance?: number };
    if (ownKey) {
      await charge.release();
      settled = { charged: 0 };
    } else {
      settled = await charge.settle({ usage: result.usage, model: result.served.model });
    }
    // Counted for the requests that follow, so the answer does not wait for it (the store keeps the order of one
    // connection's commands, so the caller's next request sees it).
    limits
      .recordTokens(call.caller, totalTokens(result.usage))
      ?.catch((error: unknown) => call.request.log.warn({ err: error }, 'tokens not counted'));
    record(call, {
      status: outcome.status,
      errorCode: outcome.errorCode,
      timeToFirstTokenMs: outcome.timeToFirstTokenMs,
      servedModel: result.served.model,
      provider: ownKey ? `${result.served.provider}${OWN_KEY_PROVIDER_SUFFIX}` : result.served.provider,
      attempts: result.attempts.length,
      usage: result.usage,
      credits: settled.charged,
    });
    return settled;
  }

  /** Settles and records a finished non-streamed call and sets the answer's headers. */
  async function complete(
    call: Call,
    reply: FastifyReply,
    charge: Charge,
    result: {
      usage: Usage;
      served: { provider: string; model: string };
      attempts: unknown[];
      warnings: string[];
    },
  ) {
    const settled = await settleAndRecord(call, charge, result, { status: 200 });
    setServedHeaders(reply, result.served, result.warnings, servedWithOwnKey(call, result.served));
    setCostHeaders(reply, settled);
  }

  /**
   * Holds the worst case over the candidates the platform pays for (`platformPaid`) before any provider is called;
   * with none (the caller's own keys cover them all), the request only counts against the quotas. The token bounds
   * (a walk over the prompt, the engine's output bound) are worked out only when something is held.
   */
  async function hold(call: Call, paid: ResolvedTarget[], bounds: () => { prompt: number; output: number }) {
    const { prompt, output } = paid.length > 0 ? bounds() : { prompt: 0, output: 0 };
    return metering.begin({
      caller: call.caller,
      requestId: call.request.id,
      candidates: paid,
      maxPromptTokens: prompt,
      maxOutputTokens: output,
    });
  }

  /** The bounds of a call that holds nothing (they are not even asked for). */
  const noTokens = () => ({ prompt: 0, output: 0 });

  /**
   * A chat's bounds for its hold: the prompt with each media part at the most it costs on the paid candidates, never
   * past the largest context window among them, and the engine's output bound of the request as sent (the cap, a
   * thinking budget an adapter adds, times `n`).
   */
  function chatBounds(prompt: ChatCompletionRequest, sent: ChatCompletionRequest, paid: ResolvedTarget[]) {
    return () => ({
      prompt: promptTokenBound(
        prompt,
        (part) => gateway.mediaTokenBound(part, paid),
        largestContextWindow(paid),
      ),
      output: gateway.outputTokenBound(sent, paid),
    });
  }

  /** Aborts the upstream call when the client goes away before the answer is complete. */
  function abortOnDisconnect(reply: FastifyReply): Abort {
    const disconnected = new Abort();
    onClientGone(reply, () => disconnected.abort());
    return disconnected;
  }

  /**
   * Relays a streamed chat call as SSE text, written straight to the response: each network read's events in one
   * write, waiting for a slow client to drain (Fastify's stream path would pipe an object stream made from an async
   * generator: several promises and buffers per write). Usage is settled exactly once: when the stream ends, when it
   * fails after the first byte (an error event, never a silent end), or when the client goes away. Never throws: the
   * reply is hijacked, so nothing after this could answer an error.
   */
  async function relayStream(relayed: RelayedStream): Promise<void> {
    const { call, reply, stream } = relayed;
    sseHeaders(reply);
    setServedHeaders(
      reply,
      stream.served,
      relayed.warnings ? [...relayed.warnings, ...stream.warnings] : stream.warnings,
      servedWithOwnKey(call, stream.served),
    );
    const response = reply.raw;
    reply.hijack();
    try {
      await relay(relayed);
    } catch (error) {
      call.request.log.error({ err: error }, 'a streamed call failed');
    } finally {
      // The reply is hijacked: if the relay could not end it, nothing else will.
      if (!response.writableEnded) response.destroy();
    }
  }

  async function relay({ call, reply, stream, charge, encode, onComplete }: RelayedStream): Promise<void> {
    const response = reply.raw;
    // Written with the first batch, inside the loop: if it throws, leaving the loop still closes the upstream.
    const writeHead = () => {
      if (!response.headersSent) response.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders);
    };
    const delivered: ChatCompletionChunk[] | undefined = onComplete ? [] : undefined;
    let failure: unknown;
    try {
      for await (const batch of stream.batches) {
        writeHead();
        let text = '';
        for (const chunk of batch) {
          // The usage chunk is sent last, after settling, so it can carry the cost.
          if (chunk.choices.length === 0) continue;
          delivered?.push(chunk);
          text += encode.chunk(chunk);
        }
        if (text && !response.write(text)) await drained(response);
      }
      writeHead();
    } catch (error) {
      failure = error;
    }
    // A client that went away also makes the upstream read fail (it is aborted): that is still the client's doing.
    const clientGone = call.disconnected?.aborted === true;
    const outcome = clientGone
      ? { status: 499, errorCode: 'client_disconnected' }
      : failure instanceof GatewayError
        ? { status: failure.status, errorCode: failure.code }
        : failure
          ? { status: 500, errorCode: 'internal_error' }
          : { status: 200 };
    const usage = stream.usage();
    let settled: { charged: number; balance?: number };
    try {
      settled = await settleAndRecord(
        call,
        charge,
        { usage, served: stream.served, attempts: stream.attempts },
        { ...outcome, timeToFirstTokenMs: Math.round(stream.timeToFirstTokenMs) },
      );
    } catch (error) {
      call.request.log.error({ err: error }, 'a streamed call could not be settled');
      return;
    }
    if (clientGone || !response.headersSent) return;
    if (failure) {
      call.request.log.warn({ err: failure }, 'stream failed after the first byte');
      response.end(
        encode.error(
          failure instanceof GatewayError
            ? failure
            : new GatewayError({
                status: 502,
                type: 'server_error',
                code: 'stream_interrupted',
                message: 'The stream was interrupted.',
              }),
        ),
      );
      return;
    }
    response.end(encode.finish(usage, settled));
    if (delivered) onComplete?.(delivered, usage);
  }

  /** Resolves when a response can take more, or is gone (then the upstream read is being aborted). */
  function drained(response: FastifyReply['raw']): Promise<void> {
    if (response.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
  }

  function sseHeaders(reply: FastifyReply) {
    reply.header('content-type', 'text/event-stream; charset=utf-8');
    reply.header('cache-control', 'no-cache, no-transform');
    reply.header('x-accel-buffering', 'no');
  }

  function replayCached(call: Call, reply: FastifyReply, cached: CachedAnswer) {
    reply.header('x-webox-cache', 'hit');
    setServedHeaders(reply, cached, []);
    record(call, {
      status: 200,
      cacheHit: true,
      servedModel: cached.model,
      provider: cached.provider,
      usage: {
        inputTokens: cached.usage.inputTokens,
        outputTokens: cached.usage.outputTokens,
        cachedInputTokens: 0,
        reasoningTokens: 0,
      },
    });
    if (cached.kind === 'completion') return reply.send(passThrough(cached.response));
    sseHeaders(reply);
    const lines = cached.chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`);
    return reply.send(passThrough(Readable.from([...lines, 'data: [DONE]\n\n'], { objectMode: false })));
  }

  routes.post(
    '/v1/chat/completions',
    {
      schema: {
        tags: ['gateway'],
        summary:
          'OpenAI-compatible chat completion, streamed (SSE) or not, routed to any configured provider.',
        security: v1Security,
        body: chatCompletionRequestSchema,
        response: { 200: openAiResponse },
      },
      serializerCompiler: passThroughSerializer,
      preHandler: options.authenticate,
    },
    tracked(async (request, reply) => {
      const body = request.body as ChatCompletionRequest;
      const call = begin(request, 'chat', body.model, body.stream === true);
      let charge: Charge | undefined;
      try {
        const candidates = await admit(call);
        const cacheDecision = cache.decide({
          userId: call.caller.userId,
          request: body,
          headers: request.headers,
        });
        if (cacheDecision) {
          const cached = await cache.get(cacheDecision);
          if (cached && (cached.kind === 'stream') === call.stream) {
            // A hit costs nothing, but it is a call: it counts against the request quotas, refused past them.
            await (await hold(call, [], noTokens)).release();
            return replayCached(call, reply, cached);
          }
          reply.header('x-webox-cache', 'miss');
        }
        const paid = platformPaid(call, candidates);
        // A cap is always sent upstream when the platform pays, so the answer can never cost more than what is held.
        // It keeps the client's spelling: OpenAI's reasoning models refuse max_tokens, and the adapters of providers
        // that read max_tokens rename max_completion_tokens. Copied with Object.assign onto a fresh literal: a key
        // added after a spread (`{ ...body, max_completion_tokens }`) costs V8 ≈ 1 µs. Assigning cannot reach a
        // prototype: a body holding `__proto__` never gets here (Fastify refuses it, tested).
        const upstreamRequest: ChatCompletionRequest =
          paid.length > 0
            ? body.max_tokens !== undefined && body.max_completion_tokens === undefined
              ? Object.assign({}, body, { max_tokens: outputTokenCap(body, candidates) })
              : Object.assign({}, body, {
                  max_tokens: undefined,
                  max_completion_tokens: outputTokenCap(body, candidates),
                })
            : body;
        charge = await hold(call, paid, chatBounds(body, upstreamRequest, paid));
        const context = callContext(call, reply);

        if (!call.stream) {
          const result = await gateway.chat(upstreamRequest, context);
          await complete(call, reply, charge, result);
          if (cacheDecision) {
            void cache
              .set(cacheDecision, {
                kind: 'completion',
                response: result.response,
                usage: result.usage,
                ...result.served,
              })
              .catch(() => undefined);
          }
          return reply.send(passThrough(result.response));
        }

        const stream = await gateway.chatStream(upstreamRequest, context);
        const includeUsage = body.stream_options?.include_usage === true;
        let lastChunk: ChatCompletionChunk | undefined;
        return relayStream({
          call,
          reply,
          stream,
          charge,
          encode: {
            chunk(chunk) {
              lastChunk = chunk;
              return `data: ${JSON.stringify(chunk)}\n\n`;
            },
            finish(usage, settled) {
              if (!includeUsage) return 'data: [DONE]\n\n';
              const usageChunk = {
                id: lastChunk?.id ?? `chatcmpl-${request.id}`,
                object: 'chat.completion.chunk',
                created: lastChunk?.created ?? Math.floor(Date.now() / 1000),
                model: body.model,
                choices: [],
                usage: {
                  prompt_tokens: usage.inputTokens,
                  completion_tokens: usage.outputTokens,
                  total_tokens: totalTokens(usage),
                  prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
                  completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
                  ...(metering.enabled ? { webox_credits: settled.charged } : {}),
                  ...(metering.enabled && settled.balance !== undefined
                    ? { webox_balance: settled.balance }
                    : {}),
                },
              };
              return `data: ${JSON.stringify(usageChunk)}\n\ndata: [DONE]\n\n`;
            },
            error(error) {
              return `data: ${JSON.stringify(error.toOpenAIError())}\n\n`;
            },
          },
          onComplete: cacheDecision
            ? (chunks, usage) =>
                void cache
                  .set(cacheDecision, { kind: 'stream', chunks, usage, ...stream.served })
                  .catch(() => undefined)
            : undefined,
        });
      } catch (error) {
        return fail(call, charge, error);
      }
    }),
  );

  routes.post(
    '/v1/messages',
    {
      schema: {
        tags: ['gateway'],
        summary: 'Anthropic Messages API, routed to any configured provider (Anthropic SDKs can point here).',
        security: v1Security,
        body: anthropicMessagesRequestSchema,
        response: { 200: z.looseObject({ id: z.string(), type: z.literal('message') }) },
      },
      serializerCompiler: passThroughSerializer,
      preHandler: options.authenticate,
    },
    tracked(async (request, reply) => {
      const body = request.body as AnthropicMessagesRequest;
      const { request: chatRequest, warnings } = anthropicRequestToChat(body);
      const call = begin(request, 'messages', body.model, body.stream === true);
      let charge: Charge | undefined;
      try {
        const candidates = await admit(call);
        const paid = platformPaid(call, candidates);
        // Anthropic requires max_tokens; held as the engine sends it (never above a model's maximum).
        if (paid.length > 0) chatRequest.max_tokens = outputTokenCap(chatRequest, candidates);
        charge = await hold(call, paid, chatBounds(chatRequest, chatRequest, paid));
        const context = callContext(call, reply);
        if (!call.stream) {
          const result = await gateway.chat(chatRequest, context);
          await complete(call, reply, charge, { ...result, warnings: [...warnings, ...result.warnings] });
          return reply.send({ ...chatResultToAnthropic(result.response, result.usage), model: body.model });
        }
        const stream = await gateway.chatStream(chatRequest, context);
        const encoder = createAnthropicStreamEncoder({
          model: body.model,
          inputTokens: stream.usage().inputTokens,
        });
        return relayStream({
          call,
          reply,
          stream,
          charge,
          warnings,
          encode: {
            chunk: (chunk) => encoder.push(chunk).map(formatAnthropicEvent).join(''),
            finish: (usage) => encoder.finish(usage).map(formatAnthropicEvent).join(''),
            error: (error) => encoder.error(error).map(formatAnthropicEvent).join(''),
          },
        });
      } catch (error) {
        return fail(call, charge, error);
      }
    }),
  );

  routes.post(
    '/v1/embeddings',
    {
      schema: {
        tags: ['gateway'],
        summary: 'OpenAI-compatible embeddings.',
        security: v1Security,
        body: embeddingsRequestSchema,
        response: { 200: z.looseObject({ object: z.literal('list'), data: z.array(z.unknown()) }) },
      },
      serializerCompiler: passThroughSerializer,
      preHandler: options.authenticate,
    },
    tracked(async (request, reply) => {
      const body = request.body as EmbeddingsRequest;
      const call = begin(request, 'embeddings', body.model, false);
      let charge: Charge | undefined;
      try {
        const candidates = await admit(call);
        charge = await hold(call, platformPaid(call, candidates), () => ({
          prompt: embeddingsTokenBound(body),
          output: 0,
        }));
        const result = await gateway.embeddings(body, callContext(call, reply));
        await complete(call, reply, charge, result);
        return reply.send(passThrough(result.response));
      } catch (error) {
        return fail(call, charge, error);
      }
    }),
  );

  routes.get(
    '/v1/models',
    {
      schema: {
        tags: ['gateway'],
        summary: 'The models and aliases this server routes, with provider, context window and price.',
        security: v1Security,
        response: { 200: z.object({ object: z.literal('list'), data: z.array(modelInfo) }) },
      },
      preHandler: options.authenticate,
    },
    async (request) => {
      const { caller } = request;
      const [plan, ownKeys] = await Promise.all([planOf(caller), options.ownKeysOf?.(caller.userId)]);
      await limits.admit(caller);
      const metadata: RequestMetadata = { headers: request.headers, ...(plan ? { plan: plan.id } : {}) };
      const allowed = caller.allowedModels;
      const data = gateway
        .listModels()
        .filter((model) => !allowed || allowed.includes(model.id))
        .filter(
          (model) =>
            !options.enforcePlanModels ||
            !plan ||
            planAllows(plan, model.id, gateway.resolve(model.id, metadata, ownKeys) ?? []),
        );
      return { object: 'list' as const, data };
    },
  );
}
