import { z } from 'zod';
import { modelNameSchema } from './model-name.js';

/**
 * OpenAI's documented limits: at most 2,048 inputs a request, and 8,192 tokens an input for every embedding model.
 * A token array is one input, so it is bounded as one; the hold counts one token per id.
 */
export const MAX_EMBEDDING_INPUTS = 2_048;
export const MAX_EMBEDDING_INPUT_TOKENS = 8_192;

const tokenArraySchema = z.array(z.number().int().nonnegative()).min(1).max(MAX_EMBEDDING_INPUT_TOKENS);

/** Edge validation of `POST /v1/embeddings`; unknown fields pass through to become warnings. */
export const embeddingsRequestSchema = z.looseObject({
  model: modelNameSchema,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1).max(MAX_EMBEDDING_INPUTS),
    tokenArraySchema,
    z.array(tokenArraySchema).min(1).max(MAX_EMBEDDING_INPUTS),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export type EmbeddingsRequestInput = z.input<typeof embeddingsRequestSchema>;
