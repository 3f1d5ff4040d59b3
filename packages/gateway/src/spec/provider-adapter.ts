import type { MediaPart } from './media-part.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './openai-types.js';
import type { Usage } from './usage.js';

export type ProviderType = 'openai-compatible' | 'anthropic' | 'gemini' | 'cohere';

/** What an adapter knows about the provider it talks to: data only, no secrets. */
export interface ProviderSettings {
  /** The provider id from the config (e.g. `openai`, `groq-eu`). */
  id: string;
  type: ProviderType;
  /** Base URL without trailing slash. */
  baseUrl: string;
  /** Extra headers from the config, sent with every request. */
  headers: Record<string, string>;
  /** Preset name for OpenAI-compatible providers (decides parameter support). */
  preset?: string;
}

export interface ChatCallOptions {
  /** The request after route overrides were applied. */
  request: ChatCompletionRequest;
  /** The model id the provider knows. */
  upstreamModel: string;
  /** The id the client asked for; responses carry it so the upstream id never leaks into billing. */
  publicModel: string;
  stream: boolean;
  provider: ProviderSettings;
  /** Default output cap from the model config, for providers that require one (Anthropic). */
  maxOutputTokens?: number;
}

export interface EmbeddingsCallOptions {
  request: EmbeddingsRequest;
  upstreamModel: string;
  publicModel: string;
  provider: ProviderSettings;
}

/** An upstream HTTP call described as data; the gateway's transport performs it. */
export interface PreparedRequest {
  /** Path (and query) appended to the provider base URL. */
  path: string;
  body: unknown;
  headers?: Record<string, string>;
  /** Parameters the provider cannot honour; they were dropped, never failed on. */
  warnings: string[];
}

/** One server-sent event as read off the wire. */
export interface StreamEvent {
  event?: string;
  data: string;
}

/**
 * Turns a provider's stream events into OpenAI chunks. One instance per stream: it holds the state
 * needed to number tool calls and to remember usage.
 */
export interface ChatStreamConverter {
  /** Converts one event. Throws a GatewayError when the provider sent an error event or bad JSON. */
  push(event: StreamEvent): ChatCompletionChunk[];
  /**
   * Called once the upstream body ended. `complete` is false when the provider's final event never
   * came (the stream was cut); the chunks then must not be sent as if the answer were whole.
   */
  finish(): { complete: boolean; chunks: ChatCompletionChunk[] };
  /** The usage the provider reported so far, if any. */
  usage(): Usage | undefined;
}

export interface UpstreamErrorDetails {
  message?: string;
  code?: string;
  type?: string;
}

/**
 * A provider adapter: data plus pure functions between the OpenAI shape and the provider's shape.
 * Adapters never do I/O; the gateway sends what `prepare*` describes and hands back what came.
 */
export interface ProviderAdapter {
  readonly type: ProviderType;
  /** Headers that authenticate a request with one key. */
  authHeaders(key: string, provider: ProviderSettings): Record<string, string>;
  /**
   * The request to send. Throws a GatewayError (400 `invalid_request`) for what the provider cannot take (say a media
   * type it refuses): nothing is sent, and the engine offers the request to the next target, answering the refusal
   * when none takes it.
   */
  prepareChat(options: ChatCallOptions): PreparedRequest;
  /**
   * The most output tokens the provider may generate, and bill, for `request` as `prepareChat` sends it: the cap
   * sent, with what the adapter adds to it (a thinking budget), times the choices it asks for. Undefined when no cap
   * is sent. `maxOutputTokens` is the model's, as in {@link ChatCallOptions}. What a hold must cover; no allocation.
   */
  outputTokenBound(
    request: ChatCompletionRequest,
    provider: ProviderSettings,
    maxOutputTokens: number | undefined,
  ): number | undefined;
  /**
   * The most input tokens one `image_url` part may cost on the provider, whatever its size or `detail`, for what it
   * carries (an image, or a PDF, audio, video a provider bills as such), from the provider's documentation;
   * `unknownMediaTokenBound` (provider-utils) where it documents none. A kind the provider refuses outright costs
   * nothing and may take any bound. What a hold counts per part.
   */
  mediaTokenBound(part: MediaPart, provider: ProviderSettings): number;
  /**
   * The answer in the OpenAI shape, and the usage the provider reported: undefined (and no `response.usage`) when it
   * reported none, for the gateway to estimate rather than bill the answer as free.
   */
  parseChatResponse(
    body: unknown,
    options: ChatCallOptions,
  ): { response: ChatCompletion; usage: Usage | undefined };
  createChatStreamConverter(options: ChatCallOptions): ChatStreamConverter;
  prepareEmbeddings?(options: EmbeddingsCallOptions): PreparedRequest;
  /**
   * The vectors in the OpenAI shape, and the usage the provider reported: undefined when it reported none, for the
   * gateway to estimate from the inputs. The gateway writes `response.usage` from whichever it bills.
   */
  parseEmbeddingsResponse?(
    body: unknown,
    options: EmbeddingsCallOptions,
  ): { response: Omit<EmbeddingsResponse, 'usage'>; usage: Usage | undefined };
  /** Pulls the human message out of a provider error body (never the body itself). */
  extractError(body: unknown): UpstreamErrorDetails;
}
