import type { PresetName } from '../../config.js';
import { type ChunkBuilder, createChunkBuilder } from '../../provider-utils/chunk-builder.js';
import { generateId } from '../../provider-utils/ids.js';
import { unknownImageTokenBound, unknownMediaTokenBound } from '../../provider-utils/media-token-bound.js';
import { parseProviderJson, parseProviderText } from '../../provider-utils/parse-json.js';
import {
  knownChatParameters,
  unknownParameterWarning,
  unsupportedWarning,
} from '../../provider-utils/request-parameters.js';
import { GatewayError } from '../../spec/gateway-error.js';
import type { MediaPart } from '../../spec/media-part.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  FinishReason,
  ToolCall,
} from '../../spec/openai-types.js';
import type {
  ChatCallOptions,
  ChatStreamConverter,
  PreparedRequest,
  ProviderAdapter,
  ProviderSettings,
  UpstreamErrorDetails,
} from '../../spec/provider-adapter.js';
import { emptyUsage, tokenCount, type Usage, usageToOpenAI } from '../../spec/usage.js';
import { mapOpenAICompatibleFinishReason } from './map-openai-compatible-finish-reason.js';
import {
  isCommonChunk,
  type OpenAICompatibleChunk,
  type OpenAICompatibleUsage,
  openAICompatibleChatResponseSchema,
  openAICompatibleChunkSchema,
  openAICompatibleEmbeddingsResponseSchema,
  openAICompatibleErrorSchema,
} from './openai-compatible-api.js';
import { genericPreset, type OpenAICompatiblePreset, openAICompatiblePresets } from './presets.js';

function presetOf(provider: ProviderSettings): Omit<OpenAICompatiblePreset, 'name' | 'baseUrl'> {
  return provider.preset
    ? (openAICompatiblePresets[provider.preset as PresetName] ?? genericPreset)
    : genericPreset;
}

export function usageFromOpenAICompatible(usage: OpenAICompatibleUsage): Usage | undefined {
  if (!usage) return undefined;
  return {
    inputTokens: tokenCount(usage.prompt_tokens),
    outputTokens: tokenCount(usage.completion_tokens),
    cachedInputTokens: tokenCount(
      usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens,
    ),
    reasoningTokens: tokenCount(usage.completion_tokens_details?.reasoning_tokens),
  };
}

/** Messages as sent upstream: reasoning from earlier turns is ours to keep, and some providers reject it. */
function convertMessages(messages: ChatMessage[]): unknown[] {
  return messages.map((message) => {
    if (message.role !== 'assistant' || message.reasoning_content === undefined) return message;
    const { reasoning_content: _reasoning, ...rest } = message;
    return rest;
  });
}

function buildChatBody(options: ChatCallOptions): PreparedRequest {
  const { request, provider } = options;
  const preset = presetOf(provider);
  const providerName = provider.preset ?? provider.id;
  const unknown: string[] = [];
  const unsupported: string[] = [];
  const body: Record<string, unknown> = {
    model: options.upstreamModel,
    messages: convertMessages(request.messages),
  };
  // One pass over the request, building the body in its order (no entries array, no spreads: this runs per call).
  for (const name in request) {
    const value = request[name];
    if (value === undefined) continue;
    if (name === 'model' || name === 'messages' || name === 'stream' || name === 'stream_options') continue;
    if (!knownChatParameters.has(name)) unknown.push(unknownParameterWarning(name));
    else if (preset.unsupportedParameters.includes(name))
      unsupported.push(unsupportedWarning(name, providerName));
    else if (name === 'max_completion_tokens' && preset.maxTokensField === 'max_tokens')
      body.max_tokens = value;
    else body[preset.renamedParameters[name] ?? name] = value;
  }
  if (options.stream) {
    body.stream = true;
    if (preset.streamUsage === 'stream-options') body.stream_options = { include_usage: true };
  }
  return {
    path: '/chat/completions',
    body,
    warnings: unknown.length === 0 ? unsupported : [...unknown, ...unsupported],
  };
}

/**
 * The cap sent times the choices: `n` is forwarded unless the preset drops it. Both spellings of the cap may reach
 * the provider (a preset sending them as-sent), so the larger counts. Reasoning tokens are part of the cap
 * (OpenAI's max_completion_tokens includes them).
 */
function outputTokenBound(request: ChatCompletionRequest, provider: ProviderSettings): number | undefined {
  const { max_tokens: maxTokens, max_completion_tokens: maxCompletionTokens, n } = request;
  const cap =
    maxTokens === undefined
      ? maxCompletionTokens
      : maxCompletionTokens === undefined
        ? maxTokens
        : Math.max(maxTokens, maxCompletionTokens);
  if (cap === undefined) return undefined;
  return n !== undefined && n > 1 && !presetOf(provider).unsupportedParameters.includes('n') ? cap * n : cap;
}

function parseChatResponse(
  body: unknown,
  options: ChatCallOptions,
): { response: ChatCompletion; usage: Usage | undefined } {
  const data = parseProviderJson(options.provider.id, openAICompatibleChatResponseSchema, body);
  const usage = usageFromOpenAICompatible(data.usage);
  const response: ChatCompletion = {
    id: data.id ?? generateId('chatcmpl-'),
    object: 'chat.completion',
    created: data.created ?? Math.floor(Date.now() / 1000),
    model: options.publicModel,
    choices: data.choices.map((choice, position) => {
      const toolCalls: ToolCall[] | undefined = choice.message.tool_calls?.map((toolCall) => ({
        id: toolCall.id ?? generateId('call_'),
        type: 'function',
        function: { name: toolCall.function.name, arguments: toolCall.function.arguments ?? '' },
      }));
      const reasoning = choice.message.reasoning_content ?? choice.message.reasoning;
      return {
        index: choice.index ?? position,
        message: {
          role: 'assistant' as const,
          content: choice.message.content ?? null,
          ...(toolCalls && toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(choice.message.refusal ? { refusal: choice.message.refusal } : {}),
          ...(reasoning ? { reasoning_content: reasoning } : {}),
        },
        finish_reason: mapOpenAICompatibleFinishReason(choice.finish_reason),
      };
    }),
  };
  if (usage) response.usage = usageToOpenAI(usage);
  if (data.system_fingerprint) response.system_fingerprint = data.system_fingerprint;
  return { response, usage };
}

function upstreamStreamError(provider: string, error: unknown): GatewayError {
  const details = extractError({ error });
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'upstream_error',
    message: `${provider} reported an error in the stream${details.code ? ` (${details.code})` : ''}`,
    isRetryable: true,
    provider,
  });
}

type StreamChunk = Exclude<OpenAICompatibleChunk, { error: unknown }>;
type StreamDelta = NonNullable<NonNullable<StreamChunk['choices']>[number]['delta']>;

/** The delta as we emit it: known fields only, in OpenAI's order, without nulls. */
function convertDelta(delta: StreamDelta): ChatCompletionChunk['choices'][number]['delta'] | undefined {
  const reasoning = delta.reasoning_content ?? delta.reasoning;
  const toolCalls = delta.tool_calls;
  const hasToolCalls = toolCalls != null && toolCalls.length > 0;
  if (
    delta.role == null &&
    delta.content == null &&
    reasoning == null &&
    delta.refusal == null &&
    !hasToolCalls
  ) {
    return undefined;
  }
  const converted: ChatCompletionChunk['choices'][number]['delta'] = {};
  if (delta.role) converted.role = 'assistant';
  if (delta.content != null) converted.content = delta.content;
  if (reasoning) converted.reasoning_content = reasoning;
  if (delta.refusal) converted.refusal = delta.refusal;
  if (hasToolCalls) {
    converted.tool_calls = toolCalls.map((toolCall) => ({
      index: toolCall.index,
      ...(toolCall.id ? { id: toolCall.id, type: 'function' as const } : {}),
      ...(toolCall.function
        ? {
            function: {
              ...(toolCall.function.name ? { name: toolCall.function.name } : {}),
              ...(toolCall.function.arguments != null ? { arguments: toolCall.function.arguments } : {}),
            },
          }
        : {}),
    }));
  }
  return converted;
}

/** Parses one event's JSON: the common shape is checked by hand, anything else by the schema (which judges). */
function parseChunk(provider: string, data: string): OpenAICompatibleChunk {
  const value = parseProviderText(provider, data);
  return isCommonChunk(value) ? value : parseProviderJson(provider, openAICompatibleChunkSchema, value);
}

function createChatStreamConverter(options: ChatCallOptions): ChatStreamConverter {
  const provider = options.provider.id;
  let builder: ChunkBuilder | undefined;
  let usage: Usage | undefined;
  let sawDone = false;
  let sawFinish = false;
  return {
    push(event) {
      if (event.data.trim() === '[DONE]') {
        sawDone = true;
        return [];
      }
      const data = parseChunk(provider, event.data);
      if ('error' in data && data.error !== undefined && !('choices' in data)) {
        throw upstreamStreamError(provider, data.error);
      }
      const chunk = data as StreamChunk;
      builder ??= createChunkBuilder({
        id: chunk.id ?? generateId('chatcmpl-'),
        model: options.publicModel,
        ...(chunk.created ? { created: chunk.created } : {}),
      });
      if (chunk.usage != null || chunk.x_groq?.usage != null) {
        const reported = usageFromOpenAICompatible(chunk.usage ?? chunk.x_groq?.usage);
        if (reported) usage = reported;
      }
      const choices = chunk.choices;
      if (!choices || choices.length === 0) return [];
      const out: ChatCompletionChunk[] = [];
      for (const choice of choices) {
        const index = choice.index ?? 0;
        const delta = choice.delta ? convertDelta(choice.delta) : undefined;
        if (delta) out.push(builder.delta(delta, index));
        // Some providers put the finish reason on the last content chunk; it becomes a bare finish
        // chunk of its own so every stream we emit ends the way OpenAI's does.
        const finishReason: FinishReason | null = mapOpenAICompatibleFinishReason(choice.finish_reason);
        if (finishReason) {
          sawFinish = true;
          out.push(builder.finish(finishReason, index));
        }
      }
      return out;
    },
    finish() {
      // [DONE] is the final event every OpenAI-compatible server sends; without it the stream was cut,
      // even if a finish reason came (the usage chunk may still have been on its way).
      if (!sawDone || !builder) return { complete: false, chunks: [] };
      const chunks: ChatCompletionChunk[] = [];
      if (!sawFinish) chunks.push(builder.finish('stop'));
      if (usage) chunks.push(builder.usage(usage));
      return { complete: true, chunks };
    },
    usage: () => usage,
  };
}

function extractError(body: unknown): UpstreamErrorDetails {
  const parsed = openAICompatibleErrorSchema.safeParse(body);
  if (!parsed.success) return {};
  const { error } = parsed.data;
  if (typeof error === 'string') return { message: error };
  if (error) {
    return {
      ...(error.message ? { message: error.message } : {}),
      ...(error.code != null ? { code: String(error.code) } : {}),
      ...(error.type ? { type: error.type } : {}),
    };
  }
  if (parsed.data.message) return { message: parsed.data.message };
  if (typeof parsed.data.detail === 'string') return { message: parsed.data.detail };
  return {};
}

/**
 * OpenAI's own most is the default image bound (gpt-4o-mini at high detail); `detail: "low"` does not lower it below
 * what gpt-4o-mini bills (2,833), and the other presets front models priced per model or undocumented. So every
 * preset holds the default for an image. The part is forwarded as it came: a provider documented to take images only
 * there refuses anything else; on the others (a custom base URL may front Gemini) another kind holds the largest
 * bound documented for it.
 */
function mediaTokenBound(part: MediaPart, provider: ProviderSettings): number {
  if (part.kind === 'image' || presetOf(provider).imageUrlTakesOnlyImages) return unknownImageTokenBound;
  return unknownMediaTokenBound(part);
}

export const openAICompatibleAdapter: ProviderAdapter = {
  type: 'openai-compatible',
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
  prepareChat: buildChatBody,
  outputTokenBound,
  mediaTokenBound,
  parseChatResponse,
  createChatStreamConverter,
  prepareEmbeddings(options) {
    const { request } = options;
    const warnings: string[] = [];
    const body: Record<string, unknown> = { model: options.upstreamModel, input: request.input };
    for (const name of ['encoding_format', 'dimensions', 'user'] as const) {
      if (request[name] !== undefined) body[name] = request[name];
    }
    for (const name of Object.keys(request)) {
      if (!['model', 'input', 'encoding_format', 'dimensions', 'user'].includes(name)) {
        warnings.push(`parameter "${name}" is not supported and was ignored`);
      }
    }
    return { path: '/embeddings', body, warnings };
  },
  parseEmbeddingsResponse(body, options) {
    const data = parseProviderJson(options.provider.id, openAICompatibleEmbeddingsResponseSchema, body);
    const reported = data.usage?.prompt_tokens;
    return {
      response: {
        object: 'list',
        data: data.data.map((item, position) => ({
          object: 'embedding',
          index: item.index ?? position,
          embedding: item.embedding,
        })),
        model: options.publicModel,
      },
      usage: reported == null ? undefined : { ...emptyUsage(), inputTokens: tokenCount(reported) },
    };
  },
  extractError,
};

/** Whether an OpenAI-compatible provider works without a key (local servers). */
export function openAICompatibleRequiresKey(preset: string | undefined): boolean {
  return preset ? (openAICompatiblePresets[preset as PresetName]?.requiresKey ?? true) : false;
}
