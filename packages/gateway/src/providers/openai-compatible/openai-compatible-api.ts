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
