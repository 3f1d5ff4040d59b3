import type { OpenAIUsage } from './openai-types.js';

/**
 * Token usage normalised across providers. All integers.
 * - `inputTokens` counts every prompt token, cached ones included (OpenAI's convention);
 *   `cachedInputTokens` is the part of it served from the provider's prompt cache.
 * - `outputTokens` counts every generated token, reasoning included; `reasoningTokens` is that part.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
}

function toCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

export function usageFromOpenAI(usage: Partial<OpenAIUsage> | null | undefined): Usage {
  return {
    inputTokens: toCount(usage?.prompt_tokens),
    outputTokens: toCount(usage?.completion_tokens),
    cachedInputTokens: toCount(usage?.prompt_tokens_details?.cached_tokens),
    reasoningTokens: toCount(usage?.completion_tokens_details?.reasoning_tokens),
  };
}

export function usageToOpenAI(usage: Usage): OpenAIUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

/**
 * Rough token count for text a provider never reported usage for (about four characters a token for
 * English). Used only to bill what was delivered when a stream is cut before its usage arrives.
 */
export function estimateTokens(text: string): number {
  return estimateTokensOfLength(text.length);
}

/** `estimateTokens` of a text known only by its length (a stream counts characters, not strings). */
export function estimateTokensOfLength(characters: number): number {
  if (characters === 0) return 0;
  return Math.max(1, Math.ceil(characters / 4));
}
