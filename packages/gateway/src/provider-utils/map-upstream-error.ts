import { parseRetryAfter } from '../resilience/retry-after.js';
import { GatewayError } from '../spec/gateway-error.js';
import type { UpstreamErrorDetails } from '../spec/provider-adapter.js';
import { redactSecrets } from './redact.js';

const contextLengthPatterns = [
  /context[_ ]length/i,
  /context window/i,
  /maximum context/i,
  /prompt is too long/i,
  /too many (input )?tokens/i,
  /input token count .* exceeds/i,
  /exceeds the maximum number of tokens/i,
  /reduce the length of the messages/i,
];

const authFailureCodes = new Set([
  'API_KEY_INVALID',
  'invalid_api_key',
  'authentication_error',
  'PERMISSION_DENIED',
]);

export interface MapUpstreamErrorOptions {
  provider: string;
  status: number;
  details: UpstreamErrorDetails;
  retryAfterHeader?: string | string[] | undefined;
  /** Every key the provider could have seen, scrubbed out of any message we keep. */
  secrets: string[];
  now?: number;
}

/**
 * Maps an upstream HTTP failure to the status our client should see. The client did nothing wrong
 * when the upstream rejects our key or fails, so those become 502; only request problems stay 4xx.
 */
export function mapUpstreamError(options: MapUpstreamErrorOptions): GatewayError {
  const { provider, status } = options;
  const upstreamMessage = options.details.message
    ? redactSecrets(options.details.message, options.secrets).slice(0, 500)
    : undefined;
  const retryAfterMs = parseRetryAfter(options.retryAfterHeader, options.now ?? Date.now());
  const common = { provider, upstreamStatus: status };
  const describe = (fallback: string) => (upstreamMessage ? `${fallback}: ${upstreamMessage}` : fallback);

  const isContextLength =
    options.details.code === 'context_length_exceeded' ||
    (upstreamMessage !== undefined && contextLengthPatterns.some((pattern) => pattern.test(upstreamMessage)));
  if ((status === 400 || status === 413 || status === 422) && isContextLength) {
    return new GatewayError({
      ...common,
      status: 400,
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      message: describe(`The request exceeds the context window of the model at ${provider}`),
    });
  }
  // Gemini answers a bad key with 400 INVALID_ARGUMENT; the reason says what it really is.
  const isAuthFailure = options.details.code !== undefined && authFailureCodes.has(options.details.code);
  if (status === 401 || status === 403 || (status === 400 && isAuthFailure)) {
    // The upstream message often quotes part of the key ("Incorrect API key provided: sk-ab…"): drop it.
    return new GatewayError({
      ...common,
      status: 502,
      type: 'upstream_error',
      code: 'upstream_auth_failed',
      message: `The gateway's credentials were rejected by ${provider}`,
    });
  }
  if (status === 404) {
    return new GatewayError({
      ...common,
      status: 502,
      type: 'upstream_error',
      code: 'model_not_found',
      message: `${provider} does not know the configured model`,
    });
  }
  if (status === 408) {
    return new GatewayError({
      ...common,
      status: 504,
      type: 'timeout_error',
      code: 'upstream_timeout',
      message: `${provider} timed out`,
      isRetryable: true,
    });
  }
  if (status === 429) {
    return new GatewayError({
      ...common,
      status: 429,
      type: 'rate_limit_error',
      code: 'upstream_rate_limited',
      message: `${provider} is rate limiting the gateway; retry later`,
      isRetryable: true,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status >= 500 || status === 409) {
    return new GatewayError({
      ...common,
      status: status === 503 || status === 529 ? 503 : 502,
      type: 'upstream_error',
      code: status === 503 || status === 529 ? 'upstream_unavailable' : 'upstream_error',
      message: `${provider} failed with status ${status}`,
      isRetryable: true,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status >= 400) {
    return new GatewayError({
      ...common,
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_request',
      message: describe(`${provider} rejected the request`),
    });
  }
  return new GatewayError({
    ...common,
    status: 502,
    type: 'upstream_error',
    code: 'upstream_invalid_response',
    message: `${provider} answered with unexpected status ${status}`,
    isRetryable: true,
  });
}
