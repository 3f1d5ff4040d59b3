import { z } from 'zod';

/** What OpenAI-compatible providers send back. Loose: providers add fields of their own. */

const usageSchema = z
  .looseObject({
    prompt_tokens: z.number().nullish(),
    completion_tokens: z.number().nullish(),
    total_tokens: z.number().nullish(),
    prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
    completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
    // DeepSeek reports its context cache this way.
    prompt_cache_hit_tokens: z.number().nullish(),
  })
  .nullish();

export type OpenAICompatibleUsage = z.output<typeof usageSchema>;

const toolCallSchema = z.looseObject({
  id: z.string().nullish(),
  type: z.literal('function').nullish(),
  function: z.looseObject({ name: z.string(), arguments: z.string().nullish() }),
});

export const openAICompatibleChatResponseSchema = z.looseObject({
  id: z.string().nullish(),
  created: z.number().nullish(),
  model: z.string().nullish(),
  system_fingerprint: z.string().nullish(),
  choices: z.array(
    z.looseObject({
      index: z.number().nullish(),
      message: z.looseObject({
        role: z.string().nullish(),
        content: z.string().nullish(),
        refusal: z.string().nullish(),
        reasoning_content: z.string().nullish(),
        reasoning: z.string().nullish(),
        tool_calls: z.array(toolCallSchema).nullish(),
      }),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: usageSchema,
});

export const openAICompatibleChunkSchema = z.union([
  z.looseObject({
    id: z.string().nullish(),
    created: z.number().nullish(),
    model: z.string().nullish(),
    system_fingerprint: z.string().nullish(),
    choices: z
      .array(
        z.looseObject({
          index: z.number().nullish(),
          delta: z
            .looseObject({
              role: z.string().nullish(),
              content: z.string().nullish(),
              refusal: z.string().nullish(),
              reasoning_content: z.string().nullish(),
              reasoning: z.string().nullish(),
              tool_calls: z
                .array(
                  z.looseObject({
                    index: z.number(),
                    id: z.string().nullish(),
                    type: z.literal('function').nullish(),
                    function: z
                      .looseObject({ name: z.string().nullish(), arguments: z.string().nullish() })
                      .nullish(),
                  }),
                )
                .nullish(),
            })
            .nullish(),
          finish_reason: z.string().nullish(),
        }),
      )
      .nullish(),
    usage: usageSchema,
    // Groq puts the stream's usage under x_groq on its last chunk.
    x_groq: z.looseObject({ usage: usageSchema }).nullish(),
  }),
  z.looseObject({ error: z.unknown() }),
]);

export type OpenAICompatibleChunk = z.output<typeof openAICompatibleChunkSchema>;

const isNullish = (value: unknown): value is null | undefined => value === null || value === undefined;
/** Nullish, or a string, or a finite number (JSON.parse turns 1e999 into Infinity, which the schema refuses). */
const isOptional = (value: unknown, type: 'string' | 'number') =>
  isNullish(value) || (type === 'number' ? Number.isFinite(value) : typeof value === 'string');
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The shape of almost every streamed event (text deltas, role, finish reason), checked by hand: running the schema
 * on each of a stream's events was most of the cost of relaying it. It accepts only what the chunk schema accepts
 * (a test holds it to that), and everything else — usage, tool calls, errors, odd types — goes through the schema,
 * which stays the judge of what is valid and says where a payload is wrong.
 */
export function isCommonChunk(value: unknown): value is OpenAICompatibleChunk {
  if (!isRecord(value) || 'error' in value) return false;
  if (!isOptional(value.id, 'string') || !isOptional(value.created, 'number')) return false;
  if (!isOptional(value.model, 'string') || !isOptional(value.system_fingerprint, 'string')) return false;
  if (!isNullish(value.usage) || !isNullish(value.x_groq) || !Array.isArray(value.choices)) return false;
  for (const choice of value.choices) {
    if (!isRecord(choice) || !isOptional(choice.index, 'number')) return false;
    if (!isOptional(choice.finish_reason, 'string')) return false;
    const delta = choice.delta;
    if (isNullish(delta)) continue;
    if (!isRecord(delta) || !isNullish(delta.tool_calls)) return false;
    if (!isOptional(delta.role, 'string') || !isOptional(delta.content, 'string')) return false;
    if (!isOptional(delta.refusal, 'string') || !isOptional(delta.reasoning_content, 'string')) return false;
    if (!isOptional(delta.reasoning, 'string')) return false;
  }
  return true;
}

export const openAICompatibleEmbeddingsResponseSchema = z.looseObject({
  data: z.array(
    z.looseObject({ index: z.number().nullish(), embedding: z.union([z.array(z.number()), z.string()]) }),
  ),
  model: z.string().nullish(),
  usage: z.looseObject({ prompt_tokens: z.number().nullish(), total_tokens: z.number().nullish() }).nullish(),
});

export const openAICompatibleErrorSchema = z.looseObject({
  error: z
    .union([
      z.string(),
      z.looseObject({
        message: z.string().nullish(),
        type: z.string().nullish(),
        code: z.union([z.string(), z.number()]).nullish(),
      }),
    ])
    .nullish(),
  message: z.string().nullish(),
  detail: z.unknown().nullish(),
});
