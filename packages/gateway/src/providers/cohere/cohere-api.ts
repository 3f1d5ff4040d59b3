import { z } from 'zod';

/** What Cohere's v2 API sends back (https://docs.cohere.com/reference/chat, .../chat-stream, .../embed). */

export const cohereUsageSchema = z.looseObject({
  billed_units: z
    .looseObject({ input_tokens: z.number().nullish(), output_tokens: z.number().nullish() })
    .nullish(),
  tokens: z
    .looseObject({ input_tokens: z.number().nullish(), output_tokens: z.number().nullish() })
    .nullish(),
  cached_tokens: z.number().nullish(),
});

export type CohereUsage = z.output<typeof cohereUsageSchema>;

const toolCallSchema = z.looseObject({
  id: z.string().nullish(),
  type: z.string().nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

export const cohereChatResponseSchema = z.looseObject({
  id: z.string().nullish(),
  finish_reason: z.string().nullish(),
  message: z.looseObject({
    role: z.string().nullish(),
    content: z
      .array(z.looseObject({ type: z.string(), text: z.string().nullish(), thinking: z.string().nullish() }))
      .nullish(),
    tool_plan: z.string().nullish(),
    tool_calls: z.array(toolCallSchema).nullish(),
  }),
  usage: cohereUsageSchema.nullish(),
});

export const cohereStreamEventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message-start'), id: z.string().nullish() }),
  z.looseObject({
    type: z.literal('content-start'),
    index: z.number().nullish(),
    delta: z
      .looseObject({
        message: z
          .looseObject({
            content: z
              .looseObject({
                type: z.string().nullish(),
                text: z.string().nullish(),
                thinking: z.string().nullish(),
              })
              .nullish(),
          })
          .nullish(),
      })
      .nullish(),
  }),
  z.looseObject({
    type: z.literal('content-delta'),
    index: z.number().nullish(),
    delta: z.looseObject({
      message: z.looseObject({
        content: z.looseObject({ text: z.string().nullish(), thinking: z.string().nullish() }),
      }),
    }),
  }),
  z.looseObject({ type: z.literal('content-end') }),
  z.looseObject({
    type: z.literal('tool-plan-delta'),
    delta: z.looseObject({ message: z.looseObject({ tool_plan: z.string().nullish() }) }),
  }),
  z.looseObject({
    type: z.literal('tool-call-start'),
    index: z.number().nullish(),
    delta: z.looseObject({ message: z.looseObject({ tool_calls: toolCallSchema }) }),
  }),
  z.looseObject({
    type: z.literal('tool-call-delta'),
    index: z.number().nullish(),
    delta: z.looseObject({ message: z.looseObject({ tool_calls: toolCallSchema }) }),
  }),
  z.looseObject({ type: z.literal('tool-call-end') }),
  z.looseObject({ type: z.literal('citation-start') }),
  z.looseObject({ type: z.literal('citation-end') }),
  z.looseObject({
    type: z.literal('message-end'),
    delta: z
      .looseObject({ finish_reason: z.string().nullish(), usage: cohereUsageSchema.nullish() })
      .nullish(),
  }),
  z.looseObject({ type: z.literal('debug') }),
]);

export const cohereEmbedResponseSchema = z.looseObject({
  id: z.string().nullish(),
  embeddings: z.looseObject({ float: z.array(z.array(z.number())).nullish() }),
  meta: z
    .looseObject({ billed_units: z.looseObject({ input_tokens: z.number().nullish() }).nullish() })
    .nullish(),
});

export const cohereErrorSchema = z.looseObject({ message: z.string().nullish(), id: z.string().nullish() });
