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

/**
 * The most tokens one usage field may report: far above any model's context, and four such fields still add up
 * below PostgreSQL's `integer`, in which usage records keep them.
 */
export const MAX_TOKEN_COUNT = 500_000_000;

/** A token count a provider reported: a whole number from 0 to MAX_TOKEN_COUNT (what is not a number counts 0). */
export function tokenCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.round(value), MAX_TOKEN_COUNT);
}

export function usageFromOpenAI(usage: Partial<OpenAIUsage> | null | undefined): Usage {
  return {
    inputTokens: tokenCount(usage?.prompt_tokens),
    outputTokens: tokenCount(usage?.completion_tokens),
    cachedInputTokens: tokenCount(usage?.prompt_tokens_details?.cached_tokens),
    reasoningTokens: tokenCount(usage?.completion_tokens_details?.reasoning_tokens),
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
 * English). Used only to bill what was delivered when the provider reported no usage: a stream cut before its usage
 * arrived, or an answer (streamed or not) that never carried any.
 */
export function estimateTokens(text: string): number {
  return estimateTokensOfLength(text.length);
}

/** `estimateTokens` of a text known only by its length (a stream counts characters, not strings). */
export function estimateTokensOfLength(characters: number): number {
  if (characters === 0) return 0;
  return Math.max(1, Math.ceil(characters / 4));
}
