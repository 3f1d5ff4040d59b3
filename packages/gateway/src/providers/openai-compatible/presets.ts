import type { PresetName } from '../../config.js';

/**
 * OpenAI-compatible providers differ only in data: where they live, whether they need a key, and which
 * OpenAI parameters they accept. Adding one is a few lines here.
 */
export interface OpenAICompatiblePreset {
  name: PresetName;
  baseUrl: string;
  requiresKey: boolean;
  /** Local servers (Ollama, vLLM, llama.cpp) live on loopback by nature. */
  privateNetworkByDefault: boolean;
  /** Parameters the provider rejects or ignores; dropped with a warning. */
  unsupportedParameters: readonly string[];
  /** Parameters the provider spells differently. */
  renamedParameters: Readonly<Record<string, string>>;
  /** Only OpenAI itself distinguishes max_completion_tokens; the others read max_tokens. */
  maxTokensField: 'as-sent' | 'max_tokens';
  /**
   * How to get usage on a stream: ask with `stream_options.include_usage`, or rely on the provider
   * always sending it (providers that reject unknown fields).
   */
  streamUsage: 'stream-options' | 'always-sent';
  embeddings: boolean;
  /**
   * The provider documents that `image_url` takes images only and refuses any other media type (OpenAI: PDFs go in
   * `file` parts, audio in `input_audio`). Otherwise what it does with a PDF, audio or video there is unknown, and a
   * hold counts such a part at the largest bound documented for its kind.
   */
  imageUrlTakesOnlyImages: boolean;
}

const common = {
  requiresKey: true,
  privateNetworkByDefault: false,
  unsupportedParameters: [],
  renamedParameters: {},
  maxTokensField: 'max_tokens',
  streamUsage: 'stream-options',
  embeddings: false,
  imageUrlTakesOnlyImages: false,
} as const satisfies Partial<OpenAICompatiblePreset>;

const localServer = {
  ...common,
  requiresKey: false,
  privateNetworkByDefault: true,
  unsupportedParameters: ['logit_bias', 'n'],
  embeddings: true,
} as const satisfies Partial<OpenAICompatiblePreset>;

export const openAICompatiblePresets: Record<PresetName, OpenAICompatiblePreset> = {
  openai: {
    ...common,
    name: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    maxTokensField: 'as-sent',
    embeddings: true,
    imageUrlTakesOnlyImages: true,
  },
  groq: {
    ...common,
    name: 'groq',
    baseUrl: 'https://api.groq.com/openai/v1',
    unsupportedParameters: ['logprobs', 'top_logprobs', 'logit_bias', 'n'],
  },
  deepseek: {
    ...common,
    name: 'deepseek',
    baseUrl: 'https://api.deepseek.com/v1',
    unsupportedParameters: ['n', 'logit_bias', 'seed', 'parallel_tool_calls'],
  },
  mistral: {
    ...common,
    name: 'mistral',
    baseUrl: 'https://api.mistral.ai/v1',
    unsupportedParameters: ['logit_bias', 'logprobs', 'top_logprobs', 'user', 'reasoning_effort'],
    renamedParameters: { seed: 'random_seed' },
    streamUsage: 'always-sent',
    embeddings: true,
  },
  together: {
    ...common,
    name: 'together',
    baseUrl: 'https://api.together.xyz/v1',
    embeddings: true,
  },
  openrouter: {
    ...common,
    name: 'openrouter',
    baseUrl: 'https://openrouter.ai/api/v1',
  },
  xai: {
    ...common,
    name: 'xai',
    baseUrl: 'https://api.x.ai/v1',
    unsupportedParameters: ['logit_bias'],
  },
  perplexity: {
    ...common,
    name: 'perplexity',
    baseUrl: 'https://api.perplexity.ai',
    unsupportedParameters: [
      'tools',
      'tool_choice',
      'parallel_tool_calls',
      'n',
      'logit_bias',
      'logprobs',
      'top_logprobs',
      'seed',
      'stop',
    ],
    streamUsage: 'always-sent',
  },
  ollama: { ...localServer, name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' },
  vllm: { ...localServer, name: 'vllm', baseUrl: 'http://127.0.0.1:8000/v1' },
  llamacpp: { ...localServer, name: 'llamacpp', baseUrl: 'http://127.0.0.1:8080/v1' },
};

/** A provider without a preset (custom base URL) is treated like a generic OpenAI-compatible server. */
export const genericPreset: Omit<OpenAICompatiblePreset, 'name' | 'baseUrl'> = {
  ...common,
  embeddings: true,
};
