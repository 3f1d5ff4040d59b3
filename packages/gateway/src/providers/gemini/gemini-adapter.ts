import { type ChunkBuilder, createChunkBuilder } from '../../provider-utils/chunk-builder.js';
import { embeddingTexts } from '../../provider-utils/embedding-texts.js';
import { generateId } from '../../provider-utils/ids.js';
import { geminiDocumentTokenBound, unknownMediaTokenBound } from '../../provider-utils/media-token-bound.js';
import { parseProviderJson } from '../../provider-utils/parse-json.js';
import {
  requestedMaxTokens,
  stopSequences,
  unknownParameterWarnings,
  unsupportedWarning,
} from '../../provider-utils/request-parameters.js';
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
} from '../../spec/provider-adapter.js';
import { tokenCount, type Usage, usageToOpenAI } from '../../spec/usage.js';
import { convertJsonSchemaToGemini } from './convert-json-schema-to-gemini.js';
import { convertToGeminiContents } from './convert-to-gemini-contents.js';
import {
  type GeminiResponse,
  type GeminiUsage,
  geminiBatchEmbeddingsResponseSchema,
  geminiErrorSchema,
  geminiResponseSchema,
} from './gemini-api.js';
import { prepareGeminiTools } from './gemini-prepare-tools.js';
import { mapGeminiFinishReason } from './map-gemini-finish-reason.js';

const thinkingBudgets: Record<string, number> = { minimal: 512, low: 1024, medium: 8192, high: 24_576 };

/** Gemini counts thoughts apart from candidates; ours counts them as output (they are billed so). */
export function usageFromGemini(usage: GeminiUsage | null | undefined): Usage | undefined {
  if (!usage) return undefined;
  const thoughts = tokenCount(usage.thoughtsTokenCount);
  return {
    inputTokens: tokenCount(usage.promptTokenCount) + tokenCount(usage.toolUsePromptTokenCount),
    outputTokens: tokenCount(usage.candidatesTokenCount) + thoughts,
    cachedInputTokens: tokenCount(usage.cachedContentTokenCount),
    reasoningTokens: thoughts,
  };
}

function modelPath(model: string): string {
  return `/v1beta/models/${encodeURIComponent(model)}`;
}

/**
 * maxOutputTokens times candidateCount. Thoughts count against maxOutputTokens (the thinking budget is a hint the
 * model may overrun, maxOutputTokens the ceiling of thoughts and answer together), so no budget is added.
 */
function outputTokenBound(request: ChatCompletionRequest): number | undefined {
  const cap = requestedMaxTokens(request);
  if (cap === undefined) return undefined;
  return request.n !== undefined && request.n > 1 ? cap * request.n : cap;
}

function prepareChat(options: ChatCallOptions): PreparedRequest {
  const { request } = options;
  const warnings = unknownParameterWarnings(request);
  for (const name of ['logit_bias', 'logprobs', 'top_logprobs', 'user', 'parallel_tool_calls'] as const) {
    if (request[name] !== undefined) warnings.push(unsupportedWarning(name, 'gemini'));
  }
  const prompt = convertToGeminiContents(request.messages);
  const generationConfig: Record<string, unknown> = {};
  if (request.temperature !== undefined) generationConfig.temperature = request.temperature;
  if (request.top_p !== undefined) generationConfig.topP = request.top_p;
  const maxTokens = requestedMaxTokens(request);
  if (maxTokens !== undefined) generationConfig.maxOutputTokens = maxTokens;
  const stop = stopSequences(request.stop);
  if (stop) generationConfig.stopSequences = stop;
  if (request.seed !== undefined) generationConfig.seed = request.seed;
  if (request.presence_penalty !== undefined) generationConfig.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) generationConfig.frequencyPenalty = request.frequency_penalty;
  if (request.n !== undefined && request.n > 1) generationConfig.candidateCount = request.n;
  const format = request.response_format;
  if (format?.type === 'json_object') generationConfig.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    generationConfig.responseMimeType = 'application/json';
    if (format.json_schema.schema)
      generationConfig.responseSchema = convertJsonSchemaToGemini(format.json_schema.schema);
  }
  if (request.reasoning_effort) {
    const budget = thinkingBudgets[request.reasoning_effort];
    if (budget === undefined)
      warnings.push(
        unsupportedWarning('reasoning_effort', 'gemini', `unknown value ${request.reasoning_effort}`),
      );
    else generationConfig.thinkingConfig = { thinkingBudget: budget, includeThoughts: true };
  }
  const body: Record<string, unknown> = {
    ...(prompt.systemInstruction ? { systemInstruction: prompt.systemInstruction } : {}),
    contents: prompt.contents,
    ...prepareGeminiTools(request),
    ...(Object.keys(generationConfig).length > 0 ? { generationConfig } : {}),
  };
  return {
    path: options.stream
      ? `${modelPath(options.upstreamModel)}:streamGenerateContent?alt=sse`
      : `${modelPath(options.upstreamModel)}:generateContent`,
    body,
    warnings,
  };
}

interface CandidateParts {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
}

function partsOf(candidate: NonNullable<GeminiResponse['candidates']>[number]): CandidateParts {
  const result: CandidateParts = { text: '', reasoning: '', toolCalls: [] };
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall) {
      result.toolCalls.push({
        id: part.functionCall.id ?? generateId('call_'),
        type: 'function',
        function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
      });
    } else if (typeof part.text === 'string') {
      if (part.thought) result.reasoning += part.text;
      else result.text += part.text;
    }
  }
  return result;
}

function parseChatResponse(
  body: unknown,
  options: ChatCallOptions,
): { response: ChatCompletion; usage: Usage | undefined } {
  const data = parseProviderJson(options.provider.id, geminiResponseSchema, body);
  const usage = usageFromGemini(data.usageMetadata);
  const candidates = data.candidates ?? [];
  const choices: ChatCompletion['choices'] =
    candidates.length === 0
      ? [
          {
            index: 0,
            message: { role: 'assistant', content: null },
            // No candidate at all means the prompt itself was blocked.
            finish_reason: data.promptFeedback?.blockReason ? 'content_filter' : 'stop',
          },
        ]
      : candidates.map((candidate, position) => {
          const parts = partsOf(candidate);
          return {
            index: candidate.index ?? position,
            message: {
              role: 'assistant' as const,
              content: parts.text.length > 0 || parts.toolCalls.length === 0 ? parts.text : null,
              ...(parts.toolCalls.length > 0 ? { tool_calls: parts.toolCalls } : {}),
              ...(parts.reasoning ? { reasoning_content: parts.reasoning } : {}),
            },
            finish_reason: mapGeminiFinishReason(candidate.finishReason, parts.toolCalls.length > 0),
          };
        });
  return {
    response: {
      id: data.responseId ? `chatcmpl-${data.responseId}` : generateId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: options.publicModel,
      choices,
      ...(usage ? { usage: usageToOpenAI(usage) } : {}),
    },
    usage,
  };
}

/** What a stream has seen of one candidate. */
interface CandidateState {
  toolCount: number;
  finished: boolean;
}

/**
 * Each streamGenerateContent chunk is a GenerateContentResponse whose candidates carry their `index` (left out for 0,
 * as proto3 JSON does; Google's SDKs merge stream chunks by it): with candidateCount above 1 every chunk may carry
 * several, finishing in different chunks. Each becomes its own choice index, opened by a role delta of its own as
 * OpenAI streams `n` choices, and the stream is complete once every candidate it carried has finished. Usage is the
 * response's (candidatesTokenCount counts every candidate), or the engine's estimate over every choice delivered.
 */
function createChatStreamConverter(options: ChatCallOptions): ChatStreamConverter {
  const provider = options.provider.id;
  let builder: ChunkBuilder | undefined;
  let usage: Usage | undefined;
  let blocked = false;
  const candidates = new Map<number, CandidateState>();
  return {
    push(event) {
      const data = parseProviderJson(provider, geminiResponseSchema, event.data);
      const out: ChatCompletionChunk[] = [];
      if (!builder) {
        builder = createChunkBuilder({
          id: data.responseId ? `chatcmpl-${data.responseId}` : generateId('chatcmpl-'),
          model: options.publicModel,
        });
        out.push(builder.role());
      }
      // Every Gemini chunk carries the usage so far; the last one is the total.
      const reported = usageFromGemini(data.usageMetadata);
      if (reported) usage = reported;
      const list = data.candidates ?? [];
      if (list.length === 0) {
        if (data.promptFeedback?.blockReason) {
          blocked = true;
          out.push(builder.finish('content_filter'));
        }
        return out;
      }
      for (let position = 0; position < list.length; position += 1) {
        const candidate = list[position]!;
        const index = candidate.index ?? position;
        let state = candidates.get(index);
        if (!state) {
          state = { toolCount: 0, finished: false };
          candidates.set(index, state);
          // The opening role chunk is choice 0's.
          if (index !== 0) out.push(builder.role(index));
        }
        for (const part of candidate.content?.parts ?? []) {
          if (part.functionCall) {
            // Gemini sends each call whole: one delta carries id, name and all arguments.
            out.push(
              builder.toolCall(
                {
                  index: state.toolCount,
                  id: part.functionCall.id ?? generateId('call_'),
                  type: 'function',
                  function: {
                    name: part.functionCall.name,
                    arguments: JSON.stringify(part.functionCall.args ?? {}),
                  },
                },
                index,
              ),
            );
            state.toolCount += 1;
          } else if (typeof part.text === 'string' && part.text.length > 0) {
            out.push(part.thought ? builder.reasoning(part.text, index) : builder.text(part.text, index));
          }
        }
        if (candidate.finishReason) {
          state.finished = true;
          const reason: FinishReason = mapGeminiFinishReason(candidate.finishReason, state.toolCount > 0);
          out.push(builder.finish(reason, index));
        }
      }
      return out;
    },
    finish() {
      if (!builder || !(blocked || allFinished(candidates))) return { complete: false, chunks: [] };
      return { complete: true, chunks: usage ? [builder.usage(usage)] : [] };
    },
    usage: () => usage,
  };
}

function allFinished(candidates: Map<number, CandidateState>): boolean {
  if (candidates.size === 0) return false;
  for (const state of candidates.values()) if (!state.finished) return false;
  return true;
}

/**
 * An image_url part goes to Gemini as what it carries (convert-to-gemini-contents: inline data of any media type, a
 * link as file data), and Gemini bills each kind its own way: the unknown bounds (provider-utils) are Gemini's own
 * documented limits for PDFs, audio and video, text inline is billed as text, and an image stays at the default:
 * a PDF whose pages were counted (`MediaPart.pages`) is held at 560 tokens a page (`geminiDocumentTokenBound`);
 * the tokens guide bills Gemini 2 models 258 tokens a 768 px tile with no limit given on the tiles, Gemini 3 up to
 * 1,120 an image at its default media resolution. A link to an uploaded file or a video, or with an extension naming
 * no known type, may be billed as any kind (sent as image/jpeg, billed as what it is): the largest.
 */
function mediaTokenBound(part: MediaPart): number {
  return part.kind === 'document' ? geminiDocumentTokenBound(part) : unknownMediaTokenBound(part);
}

export const geminiAdapter: ProviderAdapter = {
  type: 'gemini',
  authHeaders: (key) => ({ 'x-goog-api-key': key }),
  prepareChat,
  outputTokenBound,
  mediaTokenBound,
  parseChatResponse,
  createChatStreamConverter,
  prepareEmbeddings(options) {
    const texts = embeddingTexts(options.request, 'Gemini');
    const warnings: string[] = [];
    if (options.request.encoding_format === 'base64')
      warnings.push(unsupportedWarning('encoding_format', 'gemini'));
    const model = `models/${options.upstreamModel}`;
    return {
      path: `${modelPath(options.upstreamModel)}:batchEmbedContents`,
      body: {
        requests: texts.map((text) => ({
          model,
          content: { parts: [{ text }] },
          ...(options.request.dimensions ? { outputDimensionality: options.request.dimensions } : {}),
        })),
      },
      warnings,
    };
  },
  parseEmbeddingsResponse(body, options) {
    const data = parseProviderJson(options.provider.id, geminiBatchEmbeddingsResponseSchema, body);
    return {
      response: {
        object: 'list',
        data: data.embeddings.map((embedding, index) => ({
          object: 'embedding',
          index,
          embedding: embedding.values,
        })),
        model: options.publicModel,
      },
      // Gemini reports no token counts for embeddings: the gateway estimates them from the inputs.
      usage: undefined,
    };
  },
  extractError(body) {
    const parsed = geminiErrorSchema.safeParse(body);
    if (!parsed.success) return {};
    const { error } = parsed.data;
    const reason = error.details?.find((detail) => detail.reason)?.reason;
    return {
      ...(error.message ? { message: error.message } : {}),
      ...(reason || error.status ? { code: (reason ?? error.status)! } : {}),
      ...(error.status ? { type: error.status } : {}),
    };
  },
};
