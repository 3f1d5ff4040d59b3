import type { ProviderAdapter, ProviderType } from '../spec/provider-adapter.js';
import { anthropicAdapter } from './anthropic/anthropic-adapter.js';
import { cohereAdapter } from './cohere/cohere-adapter.js';
import { geminiAdapter } from './gemini/gemini-adapter.js';
import { openAICompatibleAdapter } from './openai-compatible/openai-compatible-adapter.js';

/** The adapter for each provider type. Providers never import each other; only this map knows them all. */
export const adapters: Record<ProviderType, ProviderAdapter> = {
  'openai-compatible': openAICompatibleAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  cohere: cohereAdapter,
};
