import { type ChunkBuilder, createChunkBuilder } from '../../provider-utils/chunk-builder.js';
import { generateId } from '../../provider-utils/ids.js';
import { pagedDocumentTokenBound } from '../../provider-utils/media-token-bound.js';
import { parseProviderJson } from '../../provider-utils/parse-json.js';
import {
  requestedMaxTokens,
  stopSequences,
  unknownParameterWarnings,
  unsupportedWarning,
} from '../../provider-utils/request-parameters.js';
import { GatewayError } from '../../spec/gateway-error.js';
import type { MediaPart } from '../../spec/media-part.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  FinishReason,
  ToolCall,
} from '../../spec/openai-types.js';
import type {
  ChatCallOptions,
  ChatStreamConverter,
  PreparedRequest,
  ProviderAdapter,
  ProviderSettings,
} from '../../spec/provider-adapter.js';
import { emptyUsage, tokenCount, type Usage, usageToOpenAI } from '../../spec/usage.js';
import {
  type AnthropicUsage,
  anthropicErrorSchema,
  anthropicMessageSchema,
  anthropicStreamEventSchema,
} from './anthropic-api.js';
import { jsonToolName, prepareAnthropicTools } from './anthropic-prepare-tools.js';
import { anthropicBlockType, convertToAnthropicMessages } from './convert-to-anthropic-messages.js';
import { mapAnthropicFinishReason } from './map-anthropic-finish-reason.js';

export const anthropicVersion = '2023-06-01';
const defaultMaxTokens = 4096;
const thinkingBudgets: Record<string, number> = { minimal: 1024, low: 1024, medium: 4096, high: 16_384 };

/** Anthropic counts cache reads and writes apart from `input_tokens`; ours includes them. */
export function usageFromAnthropic(usage: AnthropicUsage | null | undefined): Usage {
  if (!usage) return emptyUsage();
  const cacheRead = tokenCount(usage.cache_read_input_tokens);
  return {
    inputTokens: tokenCount(usage.input_tokens) + tokenCount(usage.cache_creation_input_tokens) + cacheRead,
    outputTokens: tokenCount(usage.output_tokens),
    cachedInputTokens: cacheRead,
    reasoningTokens: 0,
  };
}

/** The answer's own cap: the client's, else the model's maximum, else Anthropic's required default. */
function answerCap(request: ChatCompletionRequest, maxOutputTokens: number | undefined): number {
  return requestedMaxTokens(request) ?? maxOutputTokens ?? defaultMaxTokens;
}

/** The thinking budget a reasoning effort asks for; undefined without one (or for an unknown value). */
function thinkingBudgetOf(request: ChatCompletionRequest): number | undefined {
  return request.reasoning_effort ? thinkingBudgets[request.reasoning_effort] : undefined;
}

/**
 * max_tokens as sent: thinking tokens come out of max_tokens, so the budget is added on top of the answer's cap.
 * One choice only (Anthropic has no `n`).
 */
function outputTokenBound(
  request: ChatCompletionRequest,
  _provider: ProviderSettings,
  maxOutputTokens: number | undefined,
): number {
  return answerCap(request, maxOutputTokens) + (thinkingBudgetOf(request) ?? 0);
}

/**
 * Anthropic's vision guide ("Images and vision"): an image costs ⌈width / 28⌉ × ⌈height / 28⌉ visual tokens, and one
 * larger than the model's native resolution is first resized to fit it. The largest native resolution (Claude Opus
 * 4.7 and later: 2,576 px on the long edge) comes to at most 4,784 visual tokens; earlier models stop near 1,600
 * (1,568 px, about 1.15 megapixels at width × height / 750). Held as 4,800, the margin for the few tokens the image
 * block itself adds. A model with a larger native resolution must raise it.
 */
const imageTokenBound = 4_800;

/**
 * Anthropic's PDF guide ("PDF support"): each page is billed as the text extracted from it, "typically 1,500-3,000
 * tokens per page depending on content density", plus the page as an image at the image rates, and one request takes
 * at most 600 pages (100 when its context window is under 1M tokens). A page is held at the top of that range plus
 * the largest image: 3,000 + 4,800 (the guide gives the text of a page no maximum, only its typical range).
 */
const pdfPageTokenBound = 3_000 + imageTokenBound;
const pdfMaxPages = 600;

/**
 * A PDF whose pages were counted from its bytes (`MediaPart.pages`) is held at its pages; one that could not be (a
 * link, an encrypted or compressed page tree) at the most Anthropic takes, 600 × 7,800 = 4,680,000: more than any
 * Claude context window, so in effect the model's window, which the server caps a hold's input at (Anthropic
 * refusing a longer prompt unbilled).
 */
function documentTokenBound(part: MediaPart): number {
  return pagedDocumentTokenBound(part, pdfPageTokenBound, pdfMaxPages);
}

/**
 * What one image_url part may cost, by the block it goes as (`anthropicBlockType`): an image, a PDF as a document.
 * A part Anthropic cannot take (audio, video, another type inline) is refused before it is sent: it costs nothing.
 */
function mediaTokenBound(part: MediaPart): number {
  switch (anthropicBlockType(part)) {
    case 'image':
      return imageTokenBound;
    case 'document':
      return documentTokenBound(part);
    default:
      return 0;
  }
}

function usesJsonTool(options: ChatCallOptions): boolean {
  return prepareAnthropicTools(options.request).usesJsonTool;
}

function prepareChat(options: ChatCallOptions): PreparedRequest {
  const { request } = options;
  const warnings = unknownParameterWarnings(request);
  for (const name of [
    'seed',
    'presence_penalty',
    'frequency_penalty',
    'logit_bias',
    'logprobs',
    'top_logprobs',
  ] as const) {
    if (request[name] !== undefined) warnings.push(unsupportedWarning(name, 'anthropic'));
  }
  if (request.n !== undefined && request.n > 1)
    warnings.push(unsupportedWarning('n', 'anthropic', 'one choice only'));

  const prompt = convertToAnthropicMessages(request.messages);
  const tools = prepareAnthropicTools(request);
  warnings.push(...tools.warnings);

  const body: Record<string, unknown> = { model: options.upstreamModel };
  const budget = thinkingBudgetOf(request);
  if (request.reasoning_effort && budget === undefined) {
    warnings.push(
      unsupportedWarning('reasoning_effort', 'anthropic', `unknown value ${request.reasoning_effort}`),
    );
  }
  if (budget !== undefined) body.thinking = { type: 'enabled', budget_tokens: budget };
  // The bound a hold covers is exactly what is sent: one computation for both.
  body.max_tokens = outputTokenBound(request, options.provider, options.maxOutputTokens);
  if (prompt.system) body.system = prompt.system;
  body.messages = prompt.messages;
  if (request.temperature !== undefined) {
    if (budget !== undefined)
      warnings.push(unsupportedWarning('temperature', 'anthropic', 'not with thinking'));
    // Anthropic's range is 0..1 where OpenAI's is 0..2.
    else body.temperature = Math.min(1, request.temperature);
  }
  if (request.top_p !== undefined) body.top_p = request.top_p;
  const stop = stopSequences(request.stop);
  if (stop) body.stop_sequences = stop;
  if (tools.tools) body.tools = tools.tools;
  if (tools.tool_choice) body.tool_choice = tools.tool_choice;
  if (request.user) body.metadata = { user_id: request.user };
  if (options.stream) body.stream = true;
  return {
    path: '/v1/messages',
    headers: { 'anthropic-version': anthropicVersion },
    body,
    warnings,
  };
}

function parseChatResponse(
  body: unknown,
  options: ChatCallOptions,
): { response: ChatCompletion; usage: Usage } {
  const data = parseProviderJson(options.provider.id, anthropicMessageSchema, body);
  const jsonTool = usesJsonTool(options);
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const block of data.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'thinking') reasoning += block.thinking;
    else if (block.type === 'tool_use') {
      if (jsonTool && block.name === jsonToolName) text += JSON.stringify(block.input);
      else {
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        });
      }
    }
  }
  const usage = usageFromAnthropic(data.usage);
  return {
    response: {
      id: data.id,
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
          finish_reason: mapAnthropicFinishReason(data.stop_reason, jsonTool),
        },
      ],
      usage: usageToOpenAI(usage),
    },
    usage,
  };
}

/** An `error` event mid-stream; its message stays out (it is upstream text we do not vet). */
function streamError(provider: string, type: string): GatewayError {
  const overloaded = type === 'overloaded_error' || type === 'api_error';
  return new GatewayError({
    status: overloaded ? 503 : 502,
    type: 'upstream_error',
    code: overloaded ? 'upstream_unavailable' : 'upstream_error',
    message: `${provider} reported ${type} in the stream`,
    isRetryable: overloaded,
    provider,
  });
}

type BlockKind =
  | { kind: 'text' }
  | { kind: 'thinking' }
  | { kind: 'tool'; toolIndex: number }
  | { kind: 'json' }
  | { kind: 'other' };

function createChatStreamConverter(options: ChatCallOptions): ChatStreamConverter {
  const provider = options.provider.id;
  const jsonTool = usesJsonTool(options);
  const builder: ChunkBuilder = createChunkBuilder({ id: generateId('msg_'), model: options.publicModel });
  const blocks = new Map<number, BlockKind>();
  let toolCount = 0;
  let usage: Usage | undefined;
  let finishReason: FinishReason | undefined;
  let stopped = false;

  return {
    push(event) {
      const data = parseProviderJson(provider, anthropicStreamEventSchema, event.data);
      const out: ChatCompletionChunk[] = [];
      switch (data.type) {
        case 'message_start':
          builder.setId(data.message.id);
          usage = usageFromAnthropic(data.message.usage);
          out.push(builder.role());
          break;
        case 'content_block_start': {
          const block = data.content_block;
          if (block.type === 'text') {
            blocks.set(data.index, { kind: 'text' });
            if (block.text) out.push(builder.text(block.text));
          } else if (block.type === 'thinking') {
            blocks.set(data.index, { kind: 'thinking' });
            if (block.thinking) out.push(builder.reasoning(block.thinking));
          } else if (block.type === 'tool_use' && jsonTool && block.name === jsonToolName) {
            blocks.set(data.index, { kind: 'json' });
          } else if (block.type === 'tool_use') {
            const toolIndex = toolCount;
            toolCount += 1;
            blocks.set(data.index, { kind: 'tool', toolIndex });
            out.push(
              builder.toolCall({
                index: toolIndex,
                id: block.id ?? generateId('toolu_'),
                type: 'function',
                function: { name: block.name ?? '', arguments: '' },
              }),
            );
          } else {
            blocks.set(data.index, { kind: 'other' });
          }
          break;
        }
        case 'content_block_delta': {
          const block = blocks.get(data.index);
          const { delta } = data;
          if (delta.type === 'text_delta' && block?.kind === 'text') out.push(builder.text(delta.text));
          else if (delta.type === 'thinking_delta') out.push(builder.reasoning(delta.thinking));
          else if (delta.type === 'input_json_delta' && block?.kind === 'json') {
            if (delta.partial_json) out.push(builder.text(delta.partial_json));
          } else if (delta.type === 'input_json_delta' && block?.kind === 'tool') {
            if (delta.partial_json) {
              out.push(
                builder.toolCall({ index: block.toolIndex, function: { arguments: delta.partial_json } }),
              );
            }
          }
          break;
        }
        case 'message_delta': {
          const reported = usageFromAnthropic(data.usage);
          usage = {
            inputTokens: data.usage?.input_tokens != null ? reported.inputTokens : (usage?.inputTokens ?? 0),
            outputTokens: reported.outputTokens || (usage?.outputTokens ?? 0),
            cachedInputTokens:
              data.usage?.cache_read_input_tokens != null
                ? reported.cachedInputTokens
                : (usage?.cachedInputTokens ?? 0),
            reasoningTokens: 0,
          };
          finishReason = mapAnthropicFinishReason(data.delta.stop_reason, jsonTool);
          out.push(builder.finish(finishReason));
          break;
        }
        case 'message_stop':
          stopped = true;
          break;
        case 'error':
          throw streamError(provider, data.error.type);
        default:
          break;
      }
      return out;
    },
    finish() {
      if (!stopped) return { complete: false, chunks: [] };
      const chunks: ChatCompletionChunk[] = [];
      if (!finishReason) chunks.push(builder.finish('stop'));
      if (usage) chunks.push(builder.usage(usage));
      return { complete: true, chunks };
    },
    usage: () => usage,
  };
}

export const anthropicAdapter: ProviderAdapter = {
  type: 'anthropic',
  authHeaders: (key) => ({ 'x-api-key': key }),
  prepareChat,
  outputTokenBound,
  mediaTokenBound,
  parseChatResponse,
  createChatStreamConverter,
  extractError(body) {
    const parsed = anthropicErrorSchema.safeParse(body);
    if (!parsed.success) return {};
    return {
      ...(parsed.data.error.message ? { message: parsed.data.error.message } : {}),
      ...(parsed.data.error.type ? { type: parsed.data.error.type, code: parsed.data.error.type } : {}),
    };
  },
};
