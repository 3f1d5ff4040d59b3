import { z } from 'zod';
import { modelNameSchema } from './model-name.js';

/** Edge validation of `POST /v1/embeddings`; unknown fields pass through to become warnings. */
export const embeddingsRequestSchema = z.looseObject({
  model: modelNameSchema,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1).max(2048),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1).max(2048),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export type EmbeddingsRequestInput = z.input<typeof embeddingsRequestSchema>;
