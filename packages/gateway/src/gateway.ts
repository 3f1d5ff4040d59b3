import type { Dispatcher } from 'undici';
import type { GatewayConfig, ModelCapability, ModelPrice, PresetName, ProviderConfig } from './config.js';
import { mapUpstreamError } from './provider-utils/map-upstream-error.js';
import { adapters } from './providers/adapters.js';
import { openAICompatiblePresets } from './providers/openai-compatible/presets.js';
import { computeBackoffDelay, sleep } from './resilience/backoff.js';
import { type BreakerStore, MemoryBreakerStore } from './resilience/breaker-store.js';
import { CircuitBreaker } from './resilience/circuit-breaker.js';
import { HealthTracker, type ProviderHealth } from './resilience/health.js';
import { breakerKeyFor, KeyRotation } from './resilience/key-rotation.js';
import type { RequestMetadata } from './routing/route-conditions.js';
import { noOverrides, type ResolvedRoute, type ResolvedTarget, Router } from './routing/router.js';
import {
  GatewayError,
  invalidRequest,
  invalidUpstreamResponse,
  streamInterrupted,
  unreadableAnswer,
} from './spec/gateway-error.js';
import type { MediaPart } from './spec/media-part.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './spec/openai-types.js';
import type {
  ChatCallOptions,
  ChatStreamConverter,
  PreparedRequest,
  ProviderAdapter,
  ProviderSettings,
  StreamEvent,
} from './spec/provider-adapter.js';
import { estimateTokens, estimateTokensOfLength, type Usage, usageToOpenAI } from './spec/usage.js';
import { Abort, type CancelSignal, onAbort } from './transport/abort.js';
import {
  createDefaultDispatchers,
  discardBody,
  headerValue,
  mapTransportError,
  readBodyText,
  sendJson,
  type UpstreamResponse,
} from './transport/http-client.js';
import { assertSafeUrl } from './transport/safe-url.js';
import { MalformedStreamError, readServerSentEventBatches } from './transport/sse.js';

export interface GatewayLogger {
  info(object: Record<string, unknown>, message?: string): void;
  warn(object: Record<string, unknown>, message?: string): void;
  error(object: Record<string, unknown>, message?: string): void;
}

export interface CreateGatewayOptions {
  config: GatewayConfig;
  /** Shared breaker state. Default: in-process memory (one server process). */
  breakerStore?: BreakerStore;
  /** Upstream HTTP dispatcher. Default: shared undici agents, the public one refusing private addresses. */
  dispatcher?: Dispatcher;
  logger?: GatewayLogger;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
  /** Randomness for weighted routing and jitter, for tests. Default Math.random. */
  random?: () => number;
}

export interface CallContext {
  /** The caller's cancellation (the client went away): an AbortSignal, or the cheaper `Abort`. */
  signal?: CancelSignal;
  metadata: RequestMetadata;
  /** Bring-your-own keys by provider id; used instead of the configured keys, never rotated or tracked. */
  keyOverrides?: Record<string, string>;
}

export interface ServedBy {
  provider: string;
  /** The configured model id that served (the upstream id stays internal). */
  model: string;
  /** Index of the configured key used; -1 for a caller's own key. */
  keyIndex: number;
}

export interface AttemptRecord {
  provider: string;
  model: string;
  keyIndex: number;
  outcome: 'success' | 'error' | 'skipped';
  /** Error code for failures; for skips `breaker_open`, `no_key`, or the code of the adapter's refusal. */
  code?: string;
  /** HTTP status from the upstream, when it answered. */
  upstreamStatus?: number;
  latencyMs: number;
}

export interface ChatResult {
  /** OpenAI shape; `model` is the id the client asked for. */
  response: ChatCompletion;
  usage: Usage;
  served: ServedBy;
  attempts: AttemptRecord[];
  warnings: string[];
}

export interface ChatStreamResult {
  served: ServedBy;
  attempts: AttemptRecord[];
  warnings: string[];
  /**
   * OpenAI chunks, ending with a usage chunk (`choices: []`) when usage is known. Throws a GatewayError
   * `stream_interrupted` when the upstream fails, ends without its final event, or stays silent longer than the
   * attempt timeout (a consumer holding a chunk does not count) after the first chunk.
   */
  chunks: AsyncIterable<ChatCompletionChunk>;
  /**
   * The same chunks, grouped as they arrived (each network read's worth together), for relays that write each group
   * at once. Iterate either `chunks` or `batches`, not both: they share one source.
   */
  batches: AsyncIterable<ChatCompletionChunk[]>;
  /** Usage delivered so far; final once iteration ended or threw. Estimated when the provider sent none. */
  usage(): Usage;
  timeToFirstTokenMs: number;
}

export interface EmbeddingsResult {
  response: EmbeddingsResponse;
  usage: Usage;
  served: ServedBy;
  attempts: AttemptRecord[];
  warnings: string[];
}

export type ModelInfo = {
  id: string;
  object: 'model';
  created: number;
  /** Provider id for a model; `webox` for an alias. */
  owned_by: string;
  kind: 'model' | 'alias';
  context_window: number;
  max_output_tokens?: number;
  capabilities: ModelCapability[];
  /** For an alias: the highest price among its targets (what a hold must cover). */
  price?: ModelPrice;
};

export interface Gateway {
  listModels(): ModelInfo[];
  /**
   * Ordered candidate targets for an alias or model id; undefined when the name is unknown. With `keyOverrides`
   * (the caller's own keys), providers without a configured key are candidates too, as they are for the call.
   */
  resolve(
    model: string,
    metadata: RequestMetadata,
    keyOverrides?: CallContext['keyOverrides'],
  ): ResolvedTarget[] | undefined;
  /**
   * The most output tokens any of `targets` may generate, and bill, for `request`: the cap each sends (route overrides
   * applied), with what its adapter adds (a thinking budget), times the choices it asks for (`n`). What a hold must
   * cover; the model's maximum when a target sends no cap, Infinity when that is unknown too.
   */
  outputTokenBound(request: ChatCompletionRequest, targets: readonly ResolvedTarget[]): number;
  /**
   * The most input tokens one `image_url` part may cost on any of `targets`, for what it carries (`classifyMediaPart`
   * of its URL): the largest of their adapters' documented bounds. What a hold counts per part; 0 without targets.
   */
  mediaTokenBound(part: MediaPart, targets: readonly ResolvedTarget[]): number;
  /**
   * Retried and sent to the next target only before the provider answered 2xx: an answer it accepted that cannot be
   * read (cut, silent, not JSON, not its documented shape) is a final 502 `upstream_invalid_response`, counted
   * against the key and the provider's health. The same for `embeddings`.
   */
  chat(request: ChatCompletionRequest, context: CallContext): Promise<ChatResult>;
  /**
   * Resolves once the first chunk with content arrived (text, reasoning, a refusal, a tool call, a finish reason or
   * usage; the opening role chunk is held and handed on with it). Retries and fallback happen only before the provider
   * answered 2xx, or when it then reports a failure (an error event) before that chunk; any other failure after its
   * 2xx is a final 502 `upstream_invalid_response`, as for `chat`.
   */
  chatStream(request: ChatCompletionRequest, context: CallContext): Promise<ChatStreamResult>;
  embeddings(request: EmbeddingsRequest, context: CallContext): Promise<EmbeddingsResult>;
  health(): ProviderHealth[];
}

interface ProviderRuntime {
  settings: ProviderSettings;
  adapter: ProviderAdapter;
  keys: string[];
  /** The breaker key of each configured key (same order), hashed once. */
  breakerKeys: string[];
  requiresKey: boolean;
  configured: boolean;
  allowPrivateNetwork: boolean;
  timeoutMs?: number;
  dispatcher: Dispatcher;
  /** The base URL split for undici: origin, and the path every operation's path is appended to. */
  origin: string;
  basePath: string;
  /** Request headers per key (the provider's own, content type and auth), built once per key. */
  headersByKey: Map<string, Readonly<Record<string, string>>>;
}

interface KeyChoice {
  key: string;
  keyIndex: number;
  breakerKey?: string;
}

const silentLogger: GatewayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const safeUrlCacheMs = 60_000;

function requiresKey(provider: ProviderConfig): boolean {
  if (provider.type !== 'openai-compatible') return true;
  if (!provider.preset) return false;
  return openAICompatiblePresets[provider.preset].requiresKey;
}

function defaultBaseUrl(provider: ProviderConfig): string {
  if (provider.baseUrl) return provider.baseUrl.replace(/\/+$/, '');
  switch (provider.type) {
    case 'anthropic':
      return 'https://api.anthropic.com';
    case 'gemini':
      return 'https://generativelanguage.googleapis.com';
    case 'cohere':
      return 'https://api.cohere.com';
    default:
      return openAICompatiblePresets[provider.preset as PresetName].baseUrl;
  }
}

function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && /\bjson\b/i.test(value);
}

/** A non-streamed answer's body, read whole; anything but JSON is an invalid upstream response. */
async function readJsonText(response: UpstreamResponse, provider: string, signal: Abort): Promise<string> {
  const contentType = headerValue(response.headers['content-type']);
  let text: string;
  try {
    text = await readBodyText(response.body);
  } catch (error) {
    throw mapTransportError(error, provider, signal);
  }
  if (!isJsonContentType(contentType)) {
    throw invalidUpstreamResponse(provider, `expected JSON, got ${contentType ?? 'no content type'}`);
  }
  return text;
}

/** Everything a client can read, flattened, for estimating tokens nobody reported. */
function promptText(request: ChatCompletionRequest): string {
  const parts: string[] = [];
  for (const message of request.messages) {
    const { content } = message;
    if (typeof content === 'string') parts.push(content);
    else if (Array.isArray(content)) {
      for (const part of content) if (part.type === 'text') parts.push(part.text);
    }
    if (message.role === 'assistant' && message.tool_calls) {
      for (const toolCall of message.tool_calls)
        parts.push(toolCall.function.name, toolCall.function.arguments);
    }
  }
  if (request.tools) parts.push(JSON.stringify(request.tools));
  return parts.join('\n');
}

/**
 * How many characters of text an answer's message, or a stream's delta, carries: what an estimate counts when the
 * provider reports no usage.
 */
function textLength(message: {
  content?: string | null;
  reasoning_content?: string;
  refusal?: string | null;
  tool_calls?: ReadonlyArray<{ function?: { name?: string; arguments?: string } }>;
}): number {
  let length = 0;
  if (message.content) length += message.content.length;
  if (message.reasoning_content) length += message.reasoning_content.length;
  if (message.refusal) length += message.refusal.length;
  if (message.tool_calls) {
    for (const toolCall of message.tool_calls) {
      length += (toolCall.function?.name?.length ?? 0) + (toolCall.function?.arguments?.length ?? 0);
    }
  }
  return length;
}

/**
 * Whether a chunk starts the answer: text, reasoning, a refusal, a tool call, a finish reason, or usage (a chunk
 * without choices). The opening chunk every converter emits when the stream opens (`role` and an empty content) does
 * not: a provider may still fail right after it (Anthropic's message_start, then overloaded_error).
 */
function carriesContent(chunk: ChatCompletionChunk): boolean {
  if (chunk.choices.length === 0) return true;
  for (const choice of chunk.choices) {
    if (choice.finish_reason) return true;
    const { delta } = choice;
    if (delta.content || delta.reasoning_content || delta.refusal || delta.tool_calls?.length) return true;
  }
  return false;
}

/** How many characters of text a chunk delivers. */
function chunkTextLength(chunk: ChatCompletionChunk): number {
  let length = 0;
  for (const choice of chunk.choices) length += textLength(choice.delta);
  return length;
}

/**
 * The usage of an answer whose provider reported none, estimated as a stream's is (the prompt, and the text of every
 * choice) rather than billed as nothing. Written into the response too: the client sees what it is billed for.
 */
function estimateAnswerUsage(request: ChatCompletionRequest, response: ChatCompletion): Usage {
  let characters = 0;
  for (const choice of response.choices) characters += textLength(choice.message);
  const usage: Usage = {
    inputTokens: estimateTokens(promptText(request)),
    outputTokens: estimateTokensOfLength(characters),
    cachedInputTokens: 0,
    reasoningTokens: 0,
  };
  response.usage = usageToOpenAI(usage);
  return usage;
}

/**
 * The input tokens of embeddings whose provider reported none, estimated rather than billed as nothing: each text as
 * a prompt's is, each token id one token.
 */
function estimateEmbeddingsUsage(request: EmbeddingsRequest): Usage {
  const { input } = request;
  let inputTokens = 0;
  if (typeof input === 'string') inputTokens = estimateTokens(input);
  else {
    for (const item of input) {
      if (typeof item === 'string') inputTokens += estimateTokens(item);
      else inputTokens += typeof item === 'number' ? 1 : item.length;
    }
  }
  return { inputTokens, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
}

/** Whether a failed target should hand over to the next one instead of failing the request. */
function shouldFallback(error: GatewayError, route: ResolvedRoute): boolean {
  if (error.isRetryable) return true;
  if (error.code === 'upstream_auth_failed' || error.code === 'model_not_found') return true;
  if (error.code === 'unsafe_url' || error.code === 'provider_unconfigured') return true;
  if (error.code === 'context_length_exceeded') return route.fallbackOnContextLength;
  return false;
}

/** Failures that say something about a key's health (not about the request). */
function countsAgainstBreaker(error: GatewayError): boolean {
  return (
    error.isRetryable || error.code === 'upstream_auth_failed' || error.code === 'upstream_invalid_response'
  );
}

/**
 * The failure of an attempt whose provider accepted the request (a 2xx status) but whose answer could not be read:
 * final (`unreadableAnswer`), as the provider has done and may bill the work; a caller who went away stays that.
 */
function answerUnread(error: unknown, provider: string, upstreamStatus: number, signal: Abort): GatewayError {
  const failure =
    error instanceof MalformedStreamError
      ? invalidUpstreamResponse(provider, 'malformed event stream', error)
      : mapTransportError(error, provider, signal);
  if (failure.code === 'request_aborted') return failure;
  return unreadableAnswer(provider, upstreamStatus, failure);
}

/**
 * Whether a stream converter's error is the provider's own report of a failure (an error event: Anthropic's
 * overloaded_error, an OpenAI-compatible `{"error"}` chunk), which retries and fallback treat as an error status,
 * rather than an event the engine could not read.
 */
function reportedByProvider(error: unknown): error is GatewayError {
  return error instanceof GatewayError && error.code !== 'upstream_invalid_response';
}

/**
 * Converts one batch of stream events, stopping at the first the converter refuses: the chunks of the events before
 * it still count (they are delivered and billed), and the refusal comes back as `invalid`.
 */
function convertEvents(
  converter: ChatStreamConverter,
  events: StreamEvent[],
): { chunks: ChatCompletionChunk[]; invalid: unknown } {
  const chunks: ChatCompletionChunk[] = [];
  for (const event of events) {
    try {
      chunks.push(...converter.push(event));
    } catch (error) {
      return { chunks, invalid: error };
    }
  }
  return { chunks, invalid: undefined };
}

/** One chunk at a time out of the groups `batches` yields. */
async function* flatten<T>(groups: AsyncIterable<T[]>): AsyncGenerator<T, void, undefined> {
  for await (const group of groups) yield* group;
}

/**
 * An attempt's abort signal: the caller's signal plus a timeout that can be re-armed (idle timeout) and paused (while
 * the consumer holds what was read, which says nothing about the upstream).
 */
class AttemptSignal {
  readonly signal = new Abort();
  #timer: NodeJS.Timeout | undefined;
  #armedMs: number | undefined;
  #paused = false;
  readonly #stopFollowingParent: (() => void) | undefined;

  constructor(parent: CancelSignal | undefined) {
    if (parent?.aborted) this.signal.abort(parent.reason);
    else if (parent) this.#stopFollowingParent = onAbort(parent, () => this.signal.abort(parent.reason));
  }

  /** Starts (or restarts) the timeout, and ends a pause. */
  arm(ms: number, provider: string): void {
    this.#paused = false;
    // Re-armed before every streamed read: restarting the same timer (even one that fired during a pause) costs far
    // less than a new one each time.
    if (this.#timer && this.#armedMs === ms) {
      this.#timer.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#armedMs = ms;
    this.#timer = setTimeout(
      () => {
        // A pause is a flag rather than a cleared timer, so that the next `arm` can refresh this one.
        if (this.#paused) return;
        this.signal.abort(
          new GatewayError({
            status: 504,
            type: 'timeout_error',
            code: 'upstream_timeout',
            message: `${provider} did not answer within ${ms} ms`,
            isRetryable: true,
            provider,
          }),
        );
      },
      Math.max(1, ms),
    );
  }

  /** Stops the timeout from firing until the next `arm`. */
  pause(): void {
    this.#paused = true;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#stopFollowingParent?.();
  }
}

export function createGateway(options: CreateGatewayOptions): Gateway {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const resilience = config.resilience;
  const breaker = new CircuitBreaker({
    store: options.breakerStore ?? new MemoryBreakerStore({ now }),
    failureThreshold: resilience.breaker.failureThreshold,
    openMs: resilience.breaker.openMs,
    probeTtlMs: resilience.attemptTimeoutMs,
  });
  const health = new HealthTracker(500, now);
  const rotation = new KeyRotation();
  let defaultDispatchers: ReturnType<typeof createDefaultDispatchers> | undefined;
  const dispatcherFor = (allowPrivateNetwork: boolean): Dispatcher => {
    if (options.dispatcher) return options.dispatcher;
    defaultDispatchers ??= createDefaultDispatchers();
    return allowPrivateNetwork ? defaultDispatchers.privateAgent : defaultDispatchers.publicAgent;
  };

  const providers = new Map<string, ProviderRuntime>();
  for (const [id, provider] of Object.entries(config.providers)) {
    const needsKey = requiresKey(provider);
    const allowPrivateNetwork =
      provider.allowPrivateNetwork ??
      (provider.preset ? openAICompatiblePresets[provider.preset].privateNetworkByDefault : false);
    const baseUrl = defaultBaseUrl(provider);
    // An unparsable base URL is refused by the safe-URL check before any request is sent.
    const parsed = URL.canParse(baseUrl) ? new URL(baseUrl) : undefined;
    const runtime: ProviderRuntime = {
      settings: {
        id,
        type: provider.type,
        baseUrl,
        headers: provider.headers,
        ...(provider.preset ? { preset: provider.preset } : {}),
      },
      adapter: adapters[provider.type],
      keys: provider.keys,
      breakerKeys: provider.keys.map((key) => breakerKeyFor(id, key)),
      origin: parsed?.origin ?? '',
      basePath: parsed ? parsed.pathname.replace(/\/+$/, '') : '',
      headersByKey: new Map(),
      requiresKey: needsKey,
      configured: !needsKey || provider.keys.length > 0,
      allowPrivateNetwork,
      ...(provider.timeoutMs === undefined ? {} : { timeoutMs: provider.timeoutMs }),
      dispatcher: dispatcherFor(allowPrivateNetwork),
    };
    providers.set(id, runtime);
    if (!runtime.configured) {
      logger.warn({ provider: id }, 'provider has no key and is skipped until one is configured');
    }
  }

  const router = new Router({
    config,
    random,
    isProviderUsable: (provider) => providers.get(provider)?.configured ?? false,
  });

  const safeUrlChecks = new Map<string, { expiresAt: number; check: Promise<void>; passed: boolean }>();
  /** Undefined while a passed check is fresh (no await on the hot path), else the check to wait for. */
  const checkBaseUrl = (runtime: ProviderRuntime): Promise<void> | undefined => {
    const cached = safeUrlChecks.get(runtime.settings.id);
    if (cached && cached.expiresAt > now()) return cached.passed ? undefined : cached.check;
    const check = assertSafeUrl(runtime.settings.baseUrl, {
      provider: runtime.settings.id,
      allowPrivateNetwork: runtime.allowPrivateNetwork,
    });
    const entry = { expiresAt: now() + safeUrlCacheMs, check, passed: false };
    check.then(
      () => {
        entry.passed = true;
      },
      (error: unknown) => {
        // A failed check is not cached for long: DNS may recover, and the error is cheap to recompute.
        safeUrlChecks.delete(runtime.settings.id);
        // The client is told the provider only; which host was refused is for whoever runs the gateway.
        if (error instanceof GatewayError && error.cause instanceof Error) {
          logger.warn(
            { provider: runtime.settings.id, reason: error.cause.message },
            'provider base URL refused',
          );
        }
      },
    );
    safeUrlChecks.set(runtime.settings.id, entry);
    return check;
  };

  /** Content type, the provider's configured headers, an adapter's per-request ones, then auth (which wins). */
  const withRequestHeaders = (runtime: ProviderRuntime, headers: Record<string, string>, key: string) => ({
    'content-type': 'application/json',
    ...runtime.settings.headers,
    ...headers,
    ...(key ? runtime.adapter.authHeaders(key, runtime.settings) : {}),
  });

  /** The headers of a request sent with `key`: built once per key, shared by every call (never mutated). */
  const headersFor = (runtime: ProviderRuntime, key: string): Readonly<Record<string, string>> => {
    let headers = runtime.headersByKey.get(key);
    if (!headers) {
      headers = Object.freeze(withRequestHeaders(runtime, {}, key));
      // Callers' own keys are many and short-lived: only the configured ones are kept.
      if (key === '' || runtime.keys.includes(key)) runtime.headersByKey.set(key, headers);
    }
    return headers;
  };

  const secretsOf = (runtime: ProviderRuntime, context: CallContext): string[] => {
    const override = context.keyOverrides?.[runtime.settings.id];
    return override ? [...runtime.keys, override] : runtime.keys;
  };

  async function chooseKey(runtime: ProviderRuntime, context: CallContext): Promise<KeyChoice | undefined> {
    const override = context.keyOverrides?.[runtime.settings.id];
    if (override) return { key: override, keyIndex: -1 };
    if (runtime.keys.length === 0) return runtime.requiresKey ? undefined : { key: '', keyIndex: -1 };
    for (const keyIndex of rotation.order(runtime.settings.id, runtime.keys.length)) {
      const key = runtime.keys[keyIndex]!;
      const breakerKey = runtime.breakerKeys[keyIndex]!;
      const admission = await breaker.admit(breakerKey);
      if (admission.allowed) return { key, keyIndex, breakerKey };
    }
    return undefined;
  }

  const usableWith =
    (keyOverrides: CallContext['keyOverrides']) =>
    (provider: string): boolean =>
      (providers.get(provider)?.configured ?? false) || keyOverrides?.[provider] !== undefined;

  function resolveRoute(requested: string, context: CallContext): ResolvedRoute {
    const route = router.resolve(requested, context.metadata, usableWith(context.keyOverrides));
    if (!route) {
      throw new GatewayError({
        status: 404,
        type: 'not_found_error',
        code: 'model_not_found',
        message: `The model "${requested}" does not exist`,
        param: 'model',
      });
    }
    return route;
  }

  function noTarget(requested: string): GatewayError {
    return new GatewayError({
      status: 503,
      type: 'upstream_error',
      code: 'no_available_target',
      message: `No provider is available for "${requested}" right now`,
      isRetryable: true,
    });
  }

  /** Sends one prepared request and returns the response once its status is known to be a success. */
  async function send(
    runtime: ProviderRuntime,
    prepared: PreparedRequest,
    choice: KeyChoice,
    signal: Abort,
    context: CallContext,
  ): Promise<UpstreamResponse> {
    const pendingCheck = checkBaseUrl(runtime);
    if (pendingCheck) await pendingCheck;
    const keyHeaders = headersFor(runtime, choice.key);
    const response = await sendJson({
      dispatcher: runtime.dispatcher,
      origin: runtime.origin,
      path: `${runtime.basePath}${prepared.path}`,
      headers: prepared.headers ? withRequestHeaders(runtime, prepared.headers, choice.key) : keyHeaders,
      body: prepared.body,
      signal,
      provider: runtime.settings.id,
    });
    if (response.status >= 200 && response.status < 300) return response;
    let details = {};
    try {
      const text = await readBodyText(response.body, 1024 * 1024);
      details = runtime.adapter.extractError(JSON.parse(text));
    } catch (error) {
      if (signal.aborted) throw mapTransportError(error, runtime.settings.id, signal);
      // An unreadable error body still has a status worth mapping.
    }
    const error = mapUpstreamError({
      provider: runtime.settings.id,
      status: response.status,
      details,
      retryAfterHeader: response.headers['retry-after'],
      secrets: secretsOf(runtime, context),
      now: now(),
    });
    if (error.code === 'upstream_auth_failed' && choice.key === context.keyOverrides?.[runtime.settings.id]) {
      // The caller can fix this one: it is the key they saved, not the platform's.
      throw new GatewayError({
        status: error.status,
        type: error.type,
        code: error.code,
        message: `${runtime.settings.id} rejected the provider key saved on your account`,
        provider: runtime.settings.id,
        ...(error.upstreamStatus === undefined ? {} : { upstreamStatus: error.upstreamStatus }),
      });
    }
    throw error;
  }

  /** The configured per-attempt timeout of a provider: what one attempt may wait, and a stream's longest silence. */
  const attemptTimeoutOf = (runtime: ProviderRuntime): number =>
    runtime.timeoutMs ?? resilience.attemptTimeoutMs;

  interface AttemptPlan<T, P> {
    route: ResolvedRoute;
    context: CallContext;
    /** Target filter, e.g. embeddings-capable models only. */
    accepts?: (target: ResolvedTarget, runtime: ProviderRuntime) => boolean;
    /**
     * What is sent to a target, built once for all its attempts (adapters are pure). A GatewayError thrown here is
     * the adapter refusing the request as its provider cannot take it (a PDF where only images go, audio on Claude):
     * nothing was sent, so the next target gets the request, and the refusal is the answer when no target took it.
     */
    prepare: (target: ResolvedTarget, runtime: ProviderRuntime) => P;
    run: (input: {
      target: ResolvedTarget;
      runtime: ProviderRuntime;
      prepared: P;
      choice: KeyChoice;
      /** Armed with the attempt timeout (clipped to what is left of the total budget) until `run` settles. */
      attemptSignal: AttemptSignal;
    }) => Promise<T>;
    /** Called for the winning attempt before the breaker is told (streams decide later). */
    settlesOnReturn: boolean;
  }

  /**
   * The retry and fallback loop shared by every operation: each target gets up to `attempts` tries
   * (rotating keys, backing off with jitter, honouring Retry-After), then the next target takes over.
   */
  async function runWithFallback<T, P>(
    plan: AttemptPlan<T, P>,
  ): Promise<{
    value: T;
    served: ServedBy;
    attempts: AttemptRecord[];
    settle: (error?: GatewayError) => void;
  }> {
    const { route, context } = plan;
    const retry = { ...resilience.retry, ...route.retry };
    const deadline = now() + resilience.totalTimeoutMs;
    const attempts: AttemptRecord[] = [];
    let lastError: GatewayError | undefined;
    /** The first adapter's refusal: the answer only when no target was tried (a failure tried says more). */
    let refusal: GatewayError | undefined;
    for (const target of route.targets) {
      const runtime = providers.get(target.provider);
      if (!runtime || (plan.accepts && !plan.accepts(target, runtime))) continue;
      let prepared: P;
      try {
        prepared = plan.prepare(target, runtime);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        attempts.push({
          provider: target.provider,
          model: target.model,
          keyIndex: -1,
          outcome: 'skipped',
          code: error.code,
          latencyMs: 0,
        });
        refusal ??= error;
        continue;
      }
      for (let attemptNumber = 0; attemptNumber < retry.attempts; attemptNumber += 1) {
        if (context.signal?.aborted)
          throw mapTransportError(context.signal.reason, target.provider, context.signal);
        const remaining = deadline - now();
        if (remaining <= 0) {
          throw (
            lastError ??
            new GatewayError({
              status: 504,
              type: 'timeout_error',
              code: 'upstream_timeout',
              message: 'No provider answered in time',
              isRetryable: true,
            })
          );
        }
        const choice = await chooseKey(runtime, context);
        if (!choice) {
          attempts.push({
            provider: target.provider,
            model: target.model,
            keyIndex: -1,
            outcome: 'skipped',
            code: runtime.keys.length === 0 ? 'no_key' : 'breaker_open',
            latencyMs: 0,
          });
          lastError ??= new GatewayError({
            status: 503,
            type: 'upstream_error',
            code: 'upstream_unavailable',
            message: `${target.provider} is temporarily unavailable`,
            isRetryable: true,
            provider: target.provider,
          });
          break;
        }
        const attemptSignal = new AttemptSignal(context.signal);
        attemptSignal.arm(Math.min(attemptTimeoutOf(runtime), remaining), target.provider);
        const startedAt = now();
        try {
          const value = await plan.run({ target, runtime, prepared, choice, attemptSignal });
          const latencyMs = now() - startedAt;
          attempts.push({
            provider: target.provider,
            model: target.model,
            keyIndex: choice.keyIndex,
            outcome: 'success',
            latencyMs,
          });
          const settle = (error?: GatewayError) => {
            const total = now() - startedAt;
            health.record(target.provider, {
              success: !error,
              latencyMs: error ? total : latencyMs,
              ...(error ? { errorCode: error.code } : {}),
            });
            if (!choice.breakerKey) return;
            if (error) void breaker.onFailure(choice.breakerKey);
            else void breaker.onSuccess(choice.breakerKey);
          };
          if (plan.settlesOnReturn) {
            attemptSignal.dispose();
            settle();
          }
          return {
            value,
            served: { provider: target.provider, model: target.model, keyIndex: choice.keyIndex },
            attempts,
            settle,
          };
        } catch (thrown) {
          attemptSignal.dispose();
          const error = mapTransportError(thrown, target.provider, attemptSignal.signal);
          const latencyMs = now() - startedAt;
          attempts.push({
            provider: target.provider,
            model: target.model,
            keyIndex: choice.keyIndex,
            outcome: 'error',
            code: error.code,
            ...(error.upstreamStatus === undefined ? {} : { upstreamStatus: error.upstreamStatus }),
            latencyMs,
          });
          if (error.code === 'request_aborted') throw error;
          health.record(target.provider, { success: false, latencyMs, errorCode: error.code });
          if (choice.breakerKey && countsAgainstBreaker(error)) await breaker.onFailure(choice.breakerKey);
          logger.warn(
            {
              provider: target.provider,
              model: target.model,
              code: error.code,
              status: error.upstreamStatus,
            },
            'upstream attempt failed',
          );
          lastError = error;
          if (!shouldFallback(error, route)) throw error;
          // A timeout already cost a whole attempt budget: the next target is a better bet than the same one.
          if (!error.isRetryable || error.code === 'upstream_timeout') break;
          if (attemptNumber + 1 >= retry.attempts) break;
          if (error.retryAfterMs !== undefined && error.retryAfterMs > retry.maxRetryAfterMs) break;
          const delay = computeBackoffDelay(attemptNumber, retry, error.retryAfterMs, random);
          if (now() + delay >= deadline) break;
          try {
            await sleep(delay, context.signal);
          } catch (abortReason) {
            throw mapTransportError(abortReason, target.provider, context.signal ?? new Abort());
          }
        }
      }
    }
    throw lastError ?? refusal ?? noTarget(route.requested);
  }

  /** A target's overrides (say a fixed temperature) win over the client's; the model stays the one asked for. */
  function withOverrides(request: ChatCompletionRequest, target: ResolvedTarget): ChatCompletionRequest {
    const { overrides } = target;
    if (overrides === noOverrides) return request;
    const merged = { ...request, ...overrides, model: request.model } as ChatCompletionRequest;
    // The output cap is one parameter spelt two ways: an override of either spelling replaces the client's cap,
    // whichever spelling the client used (else a preset renaming one to the other could send the client's).
    if (overrides.max_tokens !== undefined && overrides.max_completion_tokens === undefined)
      merged.max_completion_tokens = undefined;
    else if (overrides.max_completion_tokens !== undefined && overrides.max_tokens === undefined)
      merged.max_tokens = undefined;
    return merged;
  }

  /** The largest of `bound` over the targets whose provider is registered (the others cannot be called); 0 for none. */
  function largestOver(
    targets: readonly ResolvedTarget[],
    bound: (runtime: ProviderRuntime, target: ResolvedTarget) => number,
  ): number {
    let largest = 0;
    for (const target of targets) {
      const runtime = providers.get(target.provider);
      if (!runtime) continue;
      const targetBound = bound(runtime, target);
      if (targetBound > largest) largest = targetBound;
    }
    return largest;
  }

  function outputTokenBound(request: ChatCompletionRequest, targets: readonly ResolvedTarget[]): number {
    return largestOver(
      targets,
      (runtime, target) =>
        runtime.adapter.outputTokenBound(
          withOverrides(request, target),
          runtime.settings,
          target.maxOutputTokens,
        ) ??
        target.maxOutputTokens ??
        Number.POSITIVE_INFINITY,
    );
  }

  function mediaTokenBound(part: MediaPart, targets: readonly ResolvedTarget[]): number {
    return largestOver(targets, (runtime) => runtime.adapter.mediaTokenBound(part, runtime.settings));
  }

  /** A chat call to `target`: the adapter's options, and the request it prepares from them (it may refuse). */
  function prepareChatCall(
    request: ChatCompletionRequest,
    target: ResolvedTarget,
    runtime: ProviderRuntime,
    stream: boolean,
  ): { callOptions: ChatCallOptions; request: PreparedRequest } {
    const { stream: _stream, stream_options: _streamOptions, ...rest } = request;
    const callOptions: ChatCallOptions = {
      request: withOverrides(rest as ChatCompletionRequest, target),
      upstreamModel: target.upstreamModel,
      publicModel: request.model,
      stream,
      provider: runtime.settings,
      ...(target.maxOutputTokens === undefined ? {} : { maxOutputTokens: target.maxOutputTokens }),
    };
    return { callOptions, request: runtime.adapter.prepareChat(callOptions) };
  }

  async function chat(request: ChatCompletionRequest, context: CallContext): Promise<ChatResult> {
    const route = resolveRoute(request.model, context);
    let warnings: string[] = [];
    const outcome = await runWithFallback({
      route,
      context,
      settlesOnReturn: true,
      prepare: (target, runtime) => prepareChatCall(request, target, runtime, false),
      run: async ({ target, runtime, prepared: call, choice, attemptSignal }) => {
        const { callOptions, request: prepared } = call;
        const response = await send(runtime, prepared, choice, attemptSignal.signal, context);
        try {
          const text = await readJsonText(response, target.provider, attemptSignal.signal);
          warnings = prepared.warnings;
          return runtime.adapter.parseChatResponse(text, callOptions);
        } catch (error) {
          throw answerUnread(error, target.provider, response.status, attemptSignal.signal);
        }
      },
    });
    const { response, usage } = outcome.value;
    return {
      response,
      usage: usage ?? estimateAnswerUsage(request, response),
      served: outcome.served,
      attempts: outcome.attempts,
      warnings,
    };
  }

  async function chatStream(request: ChatCompletionRequest, context: CallContext): Promise<ChatStreamResult> {
    const route = resolveRoute(request.model, context);
    const startedAt = now();
    interface OpenStream {
      events: AsyncIterator<StreamEvent[]>;
      converter: ChatStreamConverter;
      /** The opening chunks and the first with content, handed on together. */
      buffered: ChatCompletionChunk[];
      /** An event that failed after others had content: the stream fails once those are out. */
      invalid: unknown;
      ended: boolean;
      attemptSignal: AttemptSignal;
      /** The longest silence allowed between events: the configured attempt timeout, never clipped. */
      idleTimeoutMs: number;
      response: UpstreamResponse;
      warnings: string[];
      provider: string;
    }
    const outcome = await runWithFallback({
      route,
      context,
      settlesOnReturn: false,
      prepare: (target, runtime) => prepareChatCall(request, target, runtime, true),
      run: async ({ target, runtime, prepared: call, choice, attemptSignal }): Promise<OpenStream> => {
        const { callOptions, request: prepared } = call;
        const response = await send(runtime, prepared, choice, attemptSignal.signal, context);
        const contentType = headerValue(response.headers['content-type']);
        if (!contentType || !/text\/event-stream/i.test(contentType)) {
          discardBody(response.body);
          throw unreadableAnswer(
            target.provider,
            response.status,
            invalidUpstreamResponse(
              target.provider,
              `expected an event stream, got ${contentType ?? 'nothing'}`,
            ),
          );
        }
        const events = readServerSentEventBatches(response.body)[Symbol.asyncIterator]();
        const converter = runtime.adapter.createChatStreamConverter(callOptions);
        const buffered: ChatCompletionChunk[] = [];
        let invalid: unknown;
        let ended = false;
        // The attempt lasts until the first chunk with content. The provider accepted the request (a 2xx): a failure it
        // reports before that content (an error event) is this attempt's, and another target may serve (nothing was
        // delivered to bill); any other failure before it (a cut, silence, an unreadable event, an end) is final, as
        // the provider may bill what it began.
        let answering = false;
        let reported: GatewayError | undefined;
        try {
          while (!answering) {
            const next = await events.next();
            if (next.done) {
              const finished = converter.finish();
              if (!finished.complete) {
                throw invalidUpstreamResponse(target.provider, 'the stream ended before any content');
              }
              buffered.push(...finished.chunks);
              ended = true;
              break;
            }
            const converted = convertEvents(converter, next.value);
            buffered.push(...converted.chunks);
            answering = converted.chunks.some(carriesContent);
            if (converted.invalid !== undefined) {
              // Before any content this attempt failed; after some, the stream did.
              if (!answering) {
                if (reportedByProvider(converted.invalid)) reported = converted.invalid;
                throw converted.invalid;
              }
              invalid = converted.invalid;
            }
          }
        } catch (error) {
          discardBody(response.body);
          if (error === reported) throw error;
          throw answerUnread(error, target.provider, response.status, attemptSignal.signal);
        }
        // From here on the timeout guards the upstream's silence between events, at its configured length: what was
        // left of the total budget bounded only the wait for the first content.
        const idleTimeoutMs = attemptTimeoutOf(runtime);
        attemptSignal.arm(idleTimeoutMs, target.provider);
        return {
          events,
          converter,
          buffered,
          invalid,
          ended,
          attemptSignal,
          idleTimeoutMs,
          response,
          warnings: prepared.warnings,
          provider: target.provider,
        };
      },
    });

    const stream = outcome.value;
    const timeToFirstTokenMs = now() - startedAt;
    const inputEstimate = estimateTokens(promptText(request));
    let deliveredCharacters = 0;
    let completed = false;

    const usage = (): Usage => {
      const reported = stream.converter.usage();
      const outputEstimate = estimateTokensOfLength(deliveredCharacters);
      if (reported && completed) return reported;
      if (reported) {
        return {
          ...reported,
          inputTokens: reported.inputTokens || inputEstimate,
          outputTokens: Math.max(reported.outputTokens, outputEstimate),
        };
      }
      return {
        inputTokens: inputEstimate,
        outputTokens: outputEstimate,
        cachedInputTokens: 0,
        reasoningTokens: 0,
      };
    };

    /** Yields the chunks of each network read together (see `readServerSentEventBatches`). */
    async function* iterate(): AsyncGenerator<ChatCompletionChunk[], void, undefined> {
      let failure: GatewayError | undefined;
      const { attemptSignal } = stream;
      // The idle timeout times the upstream's silence only: it is paused while the consumer holds a batch (a slow
      // client the relay waits on to drain), and restarts when the next read begins.
      attemptSignal.pause();
      const invalidEvent = (error: unknown) =>
        streamInterrupted(
          stream.provider,
          error instanceof GatewayError ? error.code : 'invalid event',
          error,
        );
      const deliver = (chunks: ChatCompletionChunk[]) => {
        for (const chunk of chunks) deliveredCharacters += chunkTextLength(chunk);
        return chunks;
      };
      try {
        if (stream.buffered.length > 0) yield deliver(stream.buffered);
        if (stream.invalid !== undefined) throw invalidEvent(stream.invalid);
        if (stream.ended) {
          completed = true;
          return;
        }
        while (true) {
          let next: IteratorResult<StreamEvent[]>;
          attemptSignal.arm(stream.idleTimeoutMs, stream.provider);
          try {
            next = await stream.events.next();
          } catch (error) {
            const mapped = mapTransportError(error, stream.provider, attemptSignal.signal);
            throw streamInterrupted(stream.provider, mapped.code, error);
          }
          attemptSignal.pause();
          if (next.done) {
            const finished = stream.converter.finish();
            if (!finished.complete) {
              throw streamInterrupted(stream.provider, 'the stream ended before its final event');
            }
            if (finished.chunks.length > 0) yield deliver(finished.chunks);
            completed = true;
            return;
          }
          const { chunks, invalid } = convertEvents(stream.converter, next.value);
          // What the events before an invalid one carried is delivered (and billed) before the stream fails.
          if (chunks.length > 0) yield deliver(chunks);
          if (invalid !== undefined) throw invalidEvent(invalid);
        }
      } catch (error) {
        failure =
          error instanceof GatewayError && error.code === 'stream_interrupted'
            ? error
            : streamInterrupted(stream.provider, 'unexpected failure', error);
        logger.warn(
          { provider: stream.provider, code: failure.code },
          'stream interrupted after first chunk',
        );
        throw failure;
      } finally {
        attemptSignal.dispose();
        if (!completed) {
          // The client stopped reading or the upstream failed: close the upstream connection.
          discardBody(stream.response.body);
        }
        // A read cut because the caller went away says nothing about the provider's health.
        outcome.settle(completed || !failure || context.signal?.aborted ? undefined : failure);
      }
    }

    const batches = iterate();
    return {
      served: outcome.served,
      attempts: outcome.attempts,
      warnings: stream.warnings,
      batches,
      chunks: flatten(batches),
      usage,
      timeToFirstTokenMs,
    };
  }

  async function embeddings(request: EmbeddingsRequest, context: CallContext): Promise<EmbeddingsResult> {
    const route = resolveRoute(request.model, context);
    const supports = (target: ResolvedTarget, runtime: ProviderRuntime) =>
      target.capabilities.includes('embeddings') && runtime.adapter.prepareEmbeddings !== undefined;
    if (
      route.targets.length > 0 &&
      !route.targets.some((target) => supports(target, providers.get(target.provider)!))
    ) {
      throw invalidRequest(`The model "${request.model}" does not support embeddings`, 'model');
    }
    let warnings: string[] = [];
    const outcome = await runWithFallback({
      route,
      context,
      settlesOnReturn: true,
      accepts: supports,
      prepare: (target, runtime) => {
        const callOptions = {
          request,
          upstreamModel: target.upstreamModel,
          publicModel: request.model,
          provider: runtime.settings,
        };
        return { callOptions, request: runtime.adapter.prepareEmbeddings!(callOptions) };
      },
      run: async ({ target, runtime, prepared: call, choice, attemptSignal }) => {
        const { callOptions, request: prepared } = call;
        const response = await send(runtime, prepared, choice, attemptSignal.signal, context);
        try {
          const text = await readJsonText(response, target.provider, attemptSignal.signal);
          warnings = prepared.warnings;
          return runtime.adapter.parseEmbeddingsResponse!(text, callOptions);
        } catch (error) {
          throw answerUnread(error, target.provider, response.status, attemptSignal.signal);
        }
      },
    });
    const usage = outcome.value.usage ?? estimateEmbeddingsUsage(request);
    return {
      response: {
        ...outcome.value.response,
        usage: { prompt_tokens: usage.inputTokens, total_tokens: usage.inputTokens },
      },
      usage,
      served: outcome.served,
      attempts: outcome.attempts,
      warnings,
    };
  }

  function listModels(): ModelInfo[] {
    const models: ModelInfo[] = Object.entries(config.models).map(([id, model]) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: model.provider,
      kind: 'model',
      context_window: model.contextWindow,
      ...(model.maxOutputTokens === undefined ? {} : { max_output_tokens: model.maxOutputTokens }),
      capabilities: model.capabilities,
      ...(model.price === undefined ? {} : { price: model.price }),
    }));
    for (const [alias, route] of Object.entries(config.routes)) {
      const variants = Array.isArray(route) ? route : [route];
      const targetModels = variants
        .flatMap((variant) => variant.targets.map((target) => config.models[target.model]))
        .filter((model) => model !== undefined);
      if (targetModels.length === 0) continue;
      const priced = targetModels.map((model) => model.price).filter((price) => price !== undefined);
      const price: ModelPrice | undefined =
        priced.length === 0
          ? undefined
          : {
              inputPerMillion: Math.max(...priced.map((entry) => entry.inputPerMillion)),
              outputPerMillion: Math.max(...priced.map((entry) => entry.outputPerMillion)),
            };
      models.push({
        id: alias,
        object: 'model',
        created: 0,
        owned_by: 'webox',
        kind: 'alias',
        // The smallest window among targets is the one a client can rely on whichever target serves.
        context_window: Math.min(...targetModels.map((model) => model.contextWindow)),
        capabilities: [...new Set(targetModels.flatMap((model) => model.capabilities))].filter((capability) =>
          targetModels.every((model) => model.capabilities.includes(capability)),
        ),
        ...(price ? { price } : {}),
      });
    }
    return models;
  }

  return {
    listModels,
    resolve: (model, metadata, keyOverrides) =>
      router.resolve(model, metadata, usableWith(keyOverrides))?.targets,
    outputTokenBound,
    mediaTokenBound,
    chat,
    chatStream,
    embeddings,
    health: () =>
      [...providers.values()].map((runtime) => health.snapshot(runtime.settings.id, runtime.configured)),
  };
}
