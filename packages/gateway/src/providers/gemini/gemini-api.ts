import { z } from 'zod';

/** What the Gemini API sends back (https://ai.google.dev/api/generate-content). */

export const geminiUsageSchema = z.looseObject({
  promptTokenCount: z.number().nullish(),
  candidatesTokenCount: z.number().nullish(),
  totalTokenCount: z.number().nullish(),
  cachedContentTokenCount: z.number().nullish(),
  thoughtsTokenCount: z.number().nullish(),
  toolUsePromptTokenCount: z.number().nullish(),
});

export type GeminiUsage = z.output<typeof geminiUsageSchema>;

const partSchema = z.looseObject({
  text: z.string().nullish(),
  thought: z.boolean().nullish(),
  thoughtSignature: z.string().nullish(),
  functionCall: z
    .looseObject({ id: z.string().nullish(), name: z.string(), args: z.unknown().nullish() })
    .nullish(),
  inlineData: z.looseObject({ mimeType: z.string(), data: z.string() }).nullish(),
});

export const geminiResponseSchema = z.looseObject({
  candidates: z
    .array(
      z.looseObject({
        content: z
          .looseObject({ role: z.string().nullish(), parts: z.array(partSchema).nullish() })
          .nullish(),
        finishReason: z.string().nullish(),
        index: z.number().nullish(),
      }),
    )
    .nullish(),
  promptFeedback: z.looseObject({ blockReason: z.string().nullish() }).nullish(),
  usageMetadata: geminiUsageSchema.nullish(),
  modelVersion: z.string().nullish(),
  responseId: z.string().nullish(),
});

export type GeminiResponse = z.output<typeof geminiResponseSchema>;

export const geminiBatchEmbeddingsResponseSchema = z.looseObject({
  embeddings: z.array(z.looseObject({ values: z.array(z.number()) })),
});

export const geminiErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.number().nullish(),
    message: z.string().nullish(),
    status: z.string().nullish(),
    details: z.array(z.looseObject({ reason: z.string().nullish() })).nullish(),
  }),
});
