import { type ChunkBuilder, createChunkBuilder } from '../../provider-utils/chunk-builder.js';
import { embeddingTexts } from '../../provider-utils/embedding-texts.js';
import { generateId } from '../../provider-utils/ids.js';
import { unknownImageTokenBound } from '../../provider-utils/media-token-bound.js';
import { parseProviderJson } from '../../provider-utils/parse-json.js';
import {
  requestedMaxTokens,
  stopSequences,
  unknownParameterWarnings,
  unsupportedWarning,
} from '../../provider-utils/request-parameters.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ToolCall,
} from '../../spec/openai-types.js';
import type {
  ChatCallOptions,
  ChatStreamConverter,
  PreparedRequest,
  ProviderAdapter,
} from '../../spec/provider-adapter.js';
import { emptyUsage, tokenCount, type Usage, usageToOpenAI } from '../../spec/usage.js';
import {
  type CohereUsage,
  cohereChatResponseSchema,
  cohereEmbedResponseSchema,
  cohereErrorSchema,
  cohereStreamEventSchema,
} from './cohere-api.js';
import { prepareCohereTools } from './cohere-prepare-tools.js';
import { convertToCohereMessages } from './convert-to-cohere-messages.js';
import { mapCohereFinishReason } from './map-cohere-finish-reason.js';

/** Cohere reports billed units and raw tokens; billing follows what Cohere bills, raw tokens otherwise. */
export function usageFromCohere(usage: CohereUsage | null | undefined): Usage | undefined {
  if (!usage) return undefined;
  const source = usage.billed_units ?? usage.tokens;
  return {
    inputTokens: tokenCount(source?.input_tokens ?? usage.tokens?.input_tokens),
    outputTokens: tokenCount(source?.output_tokens ?? usage.tokens?.output_tokens),
    cachedInputTokens: tokenCount(usage.cached_tokens),
    reasoningTokens: 0,
  };
}

/** The cap sent; one choice only (`n` is dropped) and Cohere's reasoning is not asked for. */
function outputTokenBound(request: ChatCompletionRequest): number | undefined {
  return requestedMaxTokens(request);
}

function prepareChat(options: ChatCallOptions): PreparedRequest {
  const { request } = options;
  const warnings = unknownParameterWarnings(request);
  for (const name of [
    'logit_bias',
    'logprobs',
    'top_logprobs',
    'user',
    'parallel_tool_calls',
    'reasoning_effort',
  ] as const) {
    if (request[name] !== undefined) warnings.push(unsupportedWarning(name, 'cohere'));
  }
  if (request.n !== undefined && request.n > 1)
    warnings.push(unsupportedWarning('n', 'cohere', 'one choice only'));
  const body: Record<string, unknown> = {
    model: options.upstreamModel,
    messages: convertToCohereMessages(request.messages),
    ...prepareCohereTools(request),
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.p = request.top_p;
  const maxTokens = requestedMaxTokens(request);
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  const stop = stopSequences(request.stop);
  if (stop) body.stop_sequences = stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.frequency_penalty !== undefined) body.frequency_penalty = request.frequency_penalty;
  if (request.presence_penalty !== undefined) body.presence_penalty = request.presence_penalty;
  const format = request.response_format;
  if (format?.type === 'json_object') body.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    body.response_format = {
      type: 'json_object',
      ...(format.json_schema.schema ? { json_schema: format.json_schema.schema } : {}),
    };
  }
  if (options.stream) body.stream = true;
  return { path: '/v2/chat', body, warnings };
}

function parseChatResponse(
  body: unknown,
  options: ChatCallOptions,
): { response: ChatCompletion; usage: Usage | undefined } {
  const data = parseProviderJson(options.provider.id, cohereChatResponseSchema, body);
  const usage = usageFromCohere(data.usage);
  let text = '';
  let reasoning = data.message.tool_plan ?? '';
  for (const part of data.message.content ?? []) {
    if (part.type === 'text' && part.text) text += part.text;
    if (part.type === 'thinking' && part.thinking) reasoning += part.thinking;
  }
  const toolCalls: ToolCall[] = (data.message.tool_calls ?? []).map((toolCall) => ({
    id: toolCall.id ?? generateId('call_'),
    type: 'function',
    function: { name: toolCall.function?.name ?? '', arguments: toolCall.function?.arguments ?? '{}' },
  }));
  return {
    response: {
      id: data.id ?? generateId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: options.publicModel,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: text.length > 0 || toolCalls.length === 0 ? text : null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            ...(reasoning ? { reasoning_content: reasoning } : {}),
          },
          finish_reason: mapCohereFinishReason(data.finish_reason),
        },
      ],
      ...(usage ? { usage: usageToOpenAI(usage) } : {}),
    },
    usage,
  };
}

function createChatStreamConverter(options: ChatCallOptions): ChatStreamConverter {
  const provider = options.provider.id;
  const builder: ChunkBuilder = createChunkBuilder({
    id: generateId('chatcmpl-'),
    model: options.publicModel,
  });
  let usage: Usage | undefined;
  let ended = false;
  let toolIndex = -1;
  return {
    push(event) {
      const data = parseProviderJson(provider, cohereStreamEventSchema, event.data);
      const out: ChatCompletionChunk[] = [];
      switch (data.type) {
        case 'message-start':
          if (data.id) builder.setId(data.id);
          out.push(builder.role());
          break;
        case 'content-delta': {
          const { content } = data.delta.message;
          if (content.text) out.push(builder.text(content.text));
          if (content.thinking) out.push(builder.reasoning(content.thinking));
          break;
        }
        case 'tool-plan-delta':
          if (data.delta.message.tool_plan) out.push(builder.reasoning(data.delta.message.tool_plan));
          break;
        case 'tool-call-start': {
          toolIndex += 1;
          const toolCall = data.delta.message.tool_calls;
          out.push(
            builder.toolCall({
              index: toolIndex,
              id: toolCall.id ?? generateId('call_'),
              type: 'function',
              function: {
                name: toolCall.function?.name ?? '',
                arguments: toolCall.function?.arguments ?? '',
              },
            }),
          );
          break;
        }
        case 'tool-call-delta': {
          const partial = data.delta.message.tool_calls.function?.arguments;
          if (partial && toolIndex >= 0)
            out.push(builder.toolCall({ index: toolIndex, function: { arguments: partial } }));
          break;
        }
        case 'message-end':
          ended = true;
          usage = usageFromCohere(data.delta?.usage) ?? usage;
          out.push(builder.finish(mapCohereFinishReason(data.delta?.finish_reason)));
          break;
        default:
          break;
      }
      return out;
    },
    finish() {
      if (!ended) return { complete: false, chunks: [] };
      return { complete: true, chunks: usage ? [builder.usage(usage)] : [] };
    },
    usage: () => usage,
  };
}

/**
 * Cohere's image guide gives about 1,610 tokens for a 512 × 512 image and no most for larger ones: the default. Its
 * image_url takes images only (PNG, JPEG, WEBP, GIF), so every part is held as one.
 */
function mediaTokenBound(): number {
  return unknownImageTokenBound;
}

export const cohereAdapter: ProviderAdapter = {
  type: 'cohere',
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
  prepareChat,
  outputTokenBound,
  mediaTokenBound,
  parseChatResponse,
  createChatStreamConverter,
  prepareEmbeddings(options) {
    const { request } = options;
    const texts = embeddingTexts(request, 'Cohere');
    const warnings: string[] = [];
    if (request.encoding_format === 'base64') warnings.push(unsupportedWarning('encoding_format', 'cohere'));
    // Cohere v3+ models require an input type; documents is the right default for stored vectors.
    const inputType = typeof request.input_type === 'string' ? request.input_type : 'search_document';
    return {
      path: '/v2/embed',
      body: {
        model: options.upstreamModel,
        texts,
        input_type: inputType,
        embedding_types: ['float'],
        ...(request.dimensions ? { output_dimension: request.dimensions } : {}),
      },
      warnings,
    };
  },
  parseEmbeddingsResponse(body, options) {
    const data = parseProviderJson(options.provider.id, cohereEmbedResponseSchema, body);
    const reported = data.meta?.billed_units?.input_tokens;
    return {
      response: {
        object: 'list',
        data: (data.embeddings.float ?? []).map((embedding, index) => ({
          object: 'embedding',
          index,
          embedding,
        })),
        model: options.publicModel,
      },
      usage: reported == null ? undefined : { ...emptyUsage(), inputTokens: tokenCount(reported) },
    };
  },
  extractError(body) {
    const parsed = cohereErrorSchema.safeParse(body);
    return parsed.success && parsed.data.message ? { message: parsed.data.message } : {};
  },
};
