import { generateId } from '../provider-utils/ids.js';
import { classifyMediaPart } from '../provider-utils/media-part.js';
import { parseToolArguments } from '../provider-utils/parse-json.js';
import type {
  AnthropicContentBlock,
  AnthropicMessagesRequest,
} from '../schemas/anthropic-messages-request.js';
import { type GatewayError, invalidRequest } from '../spec/gateway-error.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ContentPart,
  FinishReason,
  FunctionTool,
  ToolCall,
} from '../spec/openai-types.js';
import type { Usage } from '../spec/usage.js';

/**
 * `POST /v1/messages` for Anthropic SDK users: their request becomes our ChatCompletionRequest (so any
 * provider can serve it), and our answer goes back as an Anthropic Message or as its named SSE events.
 */

const knownMessagesFields = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'stream',
  'tools',
  'tool_choice',
  'metadata',
]);

type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

function imageUrl(source: AnthropicImageSource): string {
  return source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
}

type AnthropicDocumentBlock = Extract<AnthropicContentBlock, { type: 'document' }>;

/**
 * A document block as the parts the engine routes: a PDF as an image_url part (a `data:application/pdf` URL, or the
 * link), which holds and adapters read as a PDF (`classifyMediaPart`): Claude gets it back as a document, Gemini as
 * inline or file data. Plain text and content sources are what the model reads, so they become text and image parts.
 * Citations are refused: no provider but Anthropic returns them, and their answer would lose them here. `title` and
 * `context` have no place in the OpenAI shape; they are dropped with a warning.
 */
function documentParts(block: AnthropicDocumentBlock, param: string, warnings: string[]): ContentPart[] {
  if (block.citations?.enabled) {
    throw invalidRequest(
      'Citations are not supported here: /v1/messages routes documents to any provider and cannot return cited passages. Send the document without "citations".',
      `${param}.citations`,
    );
  }
  for (const field of ['title', 'context'] as const) {
    const warning = `document "${field}" is not supported and was ignored`;
    if (block[field] != null && !warnings.includes(warning)) warnings.push(warning);
  }
  const { source } = block;
  switch (source.type) {
    case 'base64':
      return [{ type: 'image_url', image_url: { url: `data:application/pdf;base64,${source.data}` } }];
    case 'url':
      // A link says what it is by its extension alone (`classifyMediaPart`); one that names no PDF would be held and
      // sent as an image, so it is refused rather than sent as what it is not.
      if (classifyMediaPart(source.url).kind !== 'document') {
        throw invalidRequest(
          'A document URL must name a PDF file (a path ending in .pdf); send other PDFs as base64.',
          `${param}.source.url`,
        );
      }
      return [{ type: 'image_url', image_url: { url: source.url } }];
    case 'text':
      return [{ type: 'text', text: source.data }];
    case 'content':
      if (typeof source.content === 'string') return [{ type: 'text', text: source.content }];
      return source.content.map((inner) =>
        inner.type === 'text'
          ? { type: 'text', text: inner.text }
          : { type: 'image_url', image_url: { url: imageUrl(inner.source) } },
      );
  }
}

export function anthropicRequestToChat(request: AnthropicMessagesRequest): {
  request: ChatCompletionRequest;
  warnings: string[];
} {
  const warnings: string[] = [];
  for (const name of Object.keys(request)) {
    if (!knownMessagesFields.has(name)) warnings.push(`parameter "${name}" is not supported and was ignored`);
  }
  if (request.top_k !== undefined) warnings.push('parameter "top_k" is not supported and was ignored');

  const messages: ChatMessage[] = [];
  if (request.system !== undefined) {
    const system =
      typeof request.system === 'string'
        ? request.system
        : request.system.map((block) => block.text).join('\n\n');
    if (system) messages.push({ role: 'system', content: system });
  }

  for (const [messageIndex, message] of request.messages.entries()) {
    if (typeof message.content === 'string') {
      messages.push({ role: message.role, content: message.content });
      continue;
    }
    if (message.role === 'assistant') {
      let text = '';
      const toolCalls: ToolCall[] = [];
      for (const block of message.content) {
        if (block.type === 'text') text += block.text;
        else if (block.type === 'tool_use') {
          toolCalls.push({
            id: block.id,
            type: 'function',
            function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
          });
        }
        // Thinking blocks carry Anthropic signatures no other provider can verify; they stay behind.
      }
      messages.push({
        role: 'assistant',
        content: text.length > 0 ? text : null,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      });
      continue;
    }
    // A user turn: tool results become tool messages (OpenAI wants them right after the calls), the rest
    // stays a user message after them.
    const parts: ContentPart[] = [];
    for (const [blockIndex, block] of message.content.entries()) {
      const param = `messages.${messageIndex}.content.${blockIndex}`;
      if (block.type === 'text') parts.push({ type: 'text', text: block.text });
      else if (block.type === 'image')
        parts.push({ type: 'image_url', image_url: { url: imageUrl(block.source) } });
      else if (block.type === 'document') parts.push(...documentParts(block, param, warnings));
      else if (block.type === 'tool_result') {
        let content = '';
        if (typeof block.content === 'string') content = block.content;
        else if (block.content) {
          // A tool message carries text only: the text a result holds stays in it, its media follow in the user turn.
          for (const [innerIndex, inner] of block.content.entries()) {
            const innerParts =
              inner.type === 'document'
                ? documentParts(inner, `${param}.content.${innerIndex}`, warnings)
                : inner.type === 'text'
                  ? [{ type: 'text' as const, text: inner.text }]
                  : [{ type: 'image_url' as const, image_url: { url: imageUrl(inner.source) } }];
            for (const part of innerParts) {
              if (part.type === 'text') content += part.text;
              else parts.push(part);
            }
          }
        }
        messages.push({
          role: 'tool',
          tool_call_id: block.tool_use_id,
          content: block.is_error ? `Error: ${content}` : content,
        });
      }
    }
    if (parts.length > 0) {
      const onlyText = parts.every((part) => part.type === 'text');
      messages.push({
        role: 'user',
        content: onlyText ? parts.map((part) => (part as { text: string }).text).join('') : parts,
      });
    }
  }

  const chat: ChatCompletionRequest = { model: request.model, messages, max_tokens: request.max_tokens };
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) chat.stop = request.stop_sequences;
  if (request.stream) chat.stream = true;
  if (request.metadata?.user_id) chat.user = request.metadata.user_id;
  if (request.tools && request.tools.length > 0) {
    chat.tools = request.tools.map(
      (tool): FunctionTool => ({
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          parameters: tool.input_schema,
        },
      }),
    );
  }
  const choice = request.tool_choice;
  if (choice) {
    if (choice.type === 'auto') chat.tool_choice = 'auto';
    else if (choice.type === 'any') chat.tool_choice = 'required';
    else if (choice.type === 'none') chat.tool_choice = 'none';
    else chat.tool_choice = { type: 'function', function: { name: choice.name } };
    if ('disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use)
      chat.parallel_tool_calls = false;
  }
  return { request: chat, warnings };
}

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

function toStopReason(reason: FinishReason | null | undefined): AnthropicStopReason {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

export interface AnthropicUsageBody {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** Anthropic reports cache reads apart from `input_tokens`; ours includes them. */
function toAnthropicUsage(usage: Usage): AnthropicUsageBody {
  return {
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedInputTokens),
    output_tokens: usage.outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.cachedInputTokens,
  };
}

export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown };

export type AnthropicMessageResponse = {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: AnthropicStopReason;
  stop_sequence: null;
  usage: AnthropicUsageBody;
};

function messageId(id: string | undefined): string {
  if (id?.startsWith('msg_')) return id;
  return id ? `msg_${id.replace(/^chatcmpl-/, '')}` : generateId('msg_');
}

export function chatResultToAnthropic(response: ChatCompletion, usage: Usage): AnthropicMessageResponse {
  const choice = response.choices[0];
  const content: AnthropicResponseBlock[] = [];
  if (choice?.message.content) content.push({ type: 'text', text: choice.message.content });
  for (const toolCall of choice?.message.tool_calls ?? []) {
    content.push({
      type: 'tool_use',
      id: toolCall.id,
      name: toolCall.function.name,
      input: parseToolArguments(toolCall.function.arguments),
    });
  }
  return {
    id: messageId(response.id),
    type: 'message',
    role: 'assistant',
    model: response.model,
    content,
    stop_reason: toStopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: toAnthropicUsage(usage),
  };
}

/** One named server-sent event of the Anthropic stream. */
export interface AnthropicStreamEvent {
  event: string;
  data: Record<string, unknown>;
}

export function formatAnthropicEvent(event: AnthropicStreamEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/** The Anthropic error body for a GatewayError (for `/v1/messages` responses and stream error events). */
export function gatewayErrorToAnthropic(error: GatewayError): {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
} {
  let type: AnthropicErrorType = 'api_error';
  if (error.status === 400 || error.status === 413 || error.status === 422) type = 'invalid_request_error';
  else if (error.status === 401) type = 'authentication_error';
  else if (error.status === 403) type = 'permission_error';
  else if (error.status === 404) type = 'not_found_error';
  else if (error.status === 429) type = 'rate_limit_error';
  else if (error.status === 503 || error.status === 529) type = 'overloaded_error';
  return { type: 'error', error: { type, message: error.message } };
}

export interface AnthropicStreamEncoderOptions {
  /** The model id to report (the one the client asked for). */
  model: string;
  /** Input tokens for `message_start`, when known before the stream (an estimate is fine). */
  inputTokens?: number;
}

export interface AnthropicStreamEncoder {
  /** Events for one OpenAI chunk (the first one also opens the message). */
  push(chunk: ChatCompletionChunk): AnthropicStreamEvent[];
  /** Closing events: the open block's stop, `message_delta` with stop_reason and usage, `message_stop`. */
  finish(usage: Usage): AnthropicStreamEvent[];
  /** The `error` event for a failure mid-stream (after which the client must not expect message_stop). */
  error(error: GatewayError): AnthropicStreamEvent[];
}

type OpenBlock =
  | { kind: 'text'; index: number }
  /** `toolId`: the call id the provider opened it with, if it sent one. */
  | { kind: 'tool'; index: number; toolIndex: number; toolId: string | undefined };

/**
 * Turns our OpenAI chunks into Anthropic's named events in the order the Anthropic SDK expects:
 * message_start, then per block content_block_start / content_block_delta… / content_block_stop,
 * then message_delta (stop_reason, usage) and message_stop.
 */
export function createAnthropicStreamEncoder(options: AnthropicStreamEncoderOptions): AnthropicStreamEncoder {
  let started = false;
  let open: OpenBlock | undefined;
  let nextIndex = 0;
  let stopReason: AnthropicStopReason = 'end_turn';
  let id = generateId('msg_');

  const start = (chunk?: ChatCompletionChunk): AnthropicStreamEvent[] => {
    if (started) return [];
    started = true;
    if (chunk?.id) id = messageId(chunk.id);
    return [
      {
        event: 'message_start',
        data: {
          type: 'message_start',
          message: {
            id,
            type: 'message',
            role: 'assistant',
            model: options.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: options.inputTokens ?? 0,
              output_tokens: 0,
              cache_creation_input_tokens: 0,
              cache_read_input_tokens: 0,
            },
          },
        },
      },
    ];
  };

  const close = (): AnthropicStreamEvent[] => {
    if (!open) return [];
    const event = { event: 'content_block_stop', data: { type: 'content_block_stop', index: open.index } };
    open = undefined;
    return [event];
  };

  return {
    push(chunk) {
      const events = start(chunk);
      for (const choice of chunk.choices) {
        const { delta } = choice;
        if (delta.content) {
          if (open?.kind !== 'text') {
            events.push(...close());
            open = { kind: 'text', index: nextIndex++ };
            events.push({
              event: 'content_block_start',
              data: {
                type: 'content_block_start',
                index: open.index,
                content_block: { type: 'text', text: '' },
              },
            });
          }
          events.push({
            event: 'content_block_delta',
            data: {
              type: 'content_block_delta',
              index: open.index,
              delta: { type: 'text_delta', text: delta.content },
            },
          });
        }
        for (const toolCall of delta.tool_calls ?? []) {
          // Some providers repeat the call's id on every delta, others number every call 0: a new call is a new
          // index, or a new id on the same one.
          const isNew =
            open?.kind !== 'tool' ||
            open.toolIndex !== toolCall.index ||
            (toolCall.id !== undefined && open.toolId !== undefined && toolCall.id !== open.toolId);
          if (isNew) {
            events.push(...close());
            open = { kind: 'tool', index: nextIndex++, toolIndex: toolCall.index, toolId: toolCall.id };
            events.push({
              event: 'content_block_start',
              data: {
                type: 'content_block_start',
                index: open.index,
                content_block: {
                  type: 'tool_use',
                  id: toolCall.id ?? generateId('toolu_'),
                  name: toolCall.function?.name ?? '',
                  input: {},
                },
              },
            });
          }
          const partial = toolCall.function?.arguments;
          if (partial && open) {
            events.push({
              event: 'content_block_delta',
              data: {
                type: 'content_block_delta',
                index: open.index,
                delta: { type: 'input_json_delta', partial_json: partial },
              },
            });
          }
        }
        if (choice.finish_reason) {
          stopReason = toStopReason(choice.finish_reason);
          events.push(...close());
        }
      }
      return events;
    },
    finish(usage) {
      const body = toAnthropicUsage(usage);
      return [
        ...start(),
        ...close(),
        {
          event: 'message_delta',
          data: {
            type: 'message_delta',
            delta: { stop_reason: stopReason, stop_sequence: null },
            usage: {
              output_tokens: body.output_tokens,
              input_tokens: body.input_tokens,
              cache_read_input_tokens: body.cache_read_input_tokens,
              cache_creation_input_tokens: 0,
            },
          },
        },
        { event: 'message_stop', data: { type: 'message_stop' } },
      ];
    },
    error(error) {
      return [{ event: 'error', data: gatewayErrorToAnthropic(error) }];
    },
  };
}
