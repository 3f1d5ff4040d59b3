import { invalidRequest } from '../spec/gateway-error.js';
import type { EmbeddingsRequest } from '../spec/openai-types.js';

/**
 * The texts of an embeddings request, for a provider that embeds text only (Cohere, Gemini). Token ids count in
 * OpenAI's tokenizer, which no other provider reads, so they are refused as the provider cannot take them: nothing
 * is sent, and the engine offers the request to the route's next target.
 */
export function embeddingTexts(request: EmbeddingsRequest, provider: string): string[] {
  const { input } = request;
  if (typeof input === 'string') return [input];
  if (input.every((item): item is string => typeof item === 'string')) return input;
  throw invalidRequest(`${provider} embeds text, not token ids: send the input as text`, 'input');
}
