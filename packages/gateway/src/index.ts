// Public surface of @webox/gateway. Everything the server codes against is exported here; the rest is
// internal and may change.

export {
  type GatewayConfig,
  type GatewayConfigInput,
  gatewayConfigSchema,
  type ModelCapability,
  type ModelConfig,
  type ModelPrice,
  type PresetName,
  type ProviderConfig,
  presetNames,
  type ResilienceConfig,
  type RouteCondition,
  type RouteTarget,
  type RouteVariant,
} from './config.js';
export {
  type AttemptRecord,
  type CallContext,
  type ChatResult,
  type ChatStreamResult,
  type CreateGatewayOptions,
  createGateway,
  type EmbeddingsResult,
  type Gateway,
  type GatewayLogger,
  type ModelInfo,
  type ServedBy,
} from './gateway.js';
export * from './inbound/anthropic-messages.js';
export { classifyMediaPart } from './provider-utils/media-part.js';
export { openAICompatiblePresets } from './providers/openai-compatible/presets.js';
export type {
  BreakerFailureOptions,
  BreakerState,
  BreakerStatus,
  BreakerStore,
} from './resilience/breaker-store.js';
export { MemoryBreakerStore } from './resilience/breaker-store.js';
export type { ProviderHealth } from './resilience/health.js';
export type { RequestMetadata } from './routing/route-conditions.js';
export type { ResolvedTarget } from './routing/router.js';
export {
  type AnthropicContentBlock,
  type AnthropicMessagesRequest,
  anthropicMessagesRequestSchema,
} from './schemas/anthropic-messages-request.js';
export { chatCompletionRequestSchema } from './schemas/chat-completion-request.js';
export { embeddingsRequestSchema } from './schemas/embeddings-request.js';
export {
  GatewayError,
  type GatewayErrorCode,
  type GatewayErrorType,
  type OpenAIErrorBody,
} from './spec/gateway-error.js';
export type { MediaKind, MediaPart } from './spec/media-part.js';
export type * from './spec/openai-types.js';
export type { ProviderType } from './spec/provider-adapter.js';
export { estimateTokens, type Usage } from './spec/usage.js';
export { Abort, type CancelSignal } from './transport/abort.js';
export { assertSafeUrl, isPrivateAddress } from './transport/safe-url.js';
