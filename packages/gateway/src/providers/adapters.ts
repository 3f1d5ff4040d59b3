import type { ProviderAdapter, ProviderType } from '../spec/provider-adapter.js';
import { openAICompatibleAdapter } from './openai-compatible/openai-compatible-adapter.js';

/** The adapter for each provider type. Providers never import each other; only this map knows them all. */
export const adapters: Record<ProviderType, ProviderAdapter> = {
  'openai-compatible': openAICompatibleAdapter,
  anthropic: openAICompatibleAdapter,
  gemini: openAICompatibleAdapter,
  cohere: openAICompatibleAdapter,
};
