/**
 * The one error type of the gateway. `message` is always safe to show a client: it never contains an
 * upstream key nor a raw upstream body (which could echo one back).
 */

export type GatewayErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

export type GatewayErrorCode =
  | 'invalid_request'
  | 'context_length_exceeded'
  | 'model_not_found'
  | 'no_available_target'
  | 'provider_unconfigured'
  | 'upstream_auth_failed'
  | 'upstream_rate_limited'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'upstream_invalid_response'
  | 'upstream_timeout'
  | 'connection_error'
  | 'unsafe_url'
  | 'stream_interrupted'
  | 'request_aborted'
  | 'content_filtered';

export interface GatewayErrorOptions {
  status: number;
  type: GatewayErrorType;
  code: GatewayErrorCode;
  message: string;
  isRetryable?: boolean;
  provider?: string;
  retryAfterMs?: number;
  param?: string;
  /** Upstream HTTP status, kept for logs and health figures; never shown to clients. */
  upstreamStatus?: number;
  cause?: unknown;
}

export interface OpenAIErrorBody {
  error: { type: string; code: string; message: string; param?: string };
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: GatewayErrorType;
  readonly code: GatewayErrorCode;
  readonly isRetryable: boolean;
  readonly provider?: string;
  readonly retryAfterMs?: number;
  readonly param?: string;
  readonly upstreamStatus?: number;

  constructor(options: GatewayErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.status = options.status;
    this.type = options.type;
    this.code = options.code;
    this.isRetryable = options.isRetryable ?? false;
    if (options.provider !== undefined) this.provider = options.provider;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.param !== undefined) this.param = options.param;
    if (options.upstreamStatus !== undefined) this.upstreamStatus = options.upstreamStatus;
  }

  toOpenAIError(): OpenAIErrorBody {
    const error: OpenAIErrorBody['error'] = { type: this.type, code: this.code, message: this.message };
    if (this.param !== undefined) error.param = this.param;
    return { error };
  }

  static isGatewayError(value: unknown): value is GatewayError {
    return value instanceof GatewayError;
  }
}

export function invalidRequest(message: string, param?: string): GatewayError {
  return new GatewayError({
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_request',
    message,
    ...(param === undefined ? {} : { param }),
  });
}

export function streamInterrupted(provider: string, reason: string, cause?: unknown): GatewayError {
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'stream_interrupted',
    message: `The upstream stream from ${provider} was interrupted: ${reason}`,
    isRetryable: false,
    provider,
    cause,
  });
}

const invalidResponsePrefix = (provider: string) => `${provider} returned an invalid response: `;

export function invalidUpstreamResponse(provider: string, reason: string, cause?: unknown): GatewayError {
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'upstream_invalid_response',
    message: `${invalidResponsePrefix(provider)}${reason}`,
    isRetryable: true,
    provider,
    cause,
  });
}

/**
 * An answer the provider accepted with a 2xx status that could not then be read (`failure`: the body cut, silent past
 * the attempt timeout, not JSON, not the documented shape). Not retryable: the provider has done the work and may bill
 * it, so neither it nor another target is sent the request again.
 */
export function unreadableAnswer(
  provider: string,
  upstreamStatus: number,
  failure: GatewayError,
): GatewayError {
  let reason: string;
  if (failure.code === 'connection_error') reason = 'the connection was cut';
  else if (failure.code === 'upstream_timeout')
    reason = 'it stopped sending for longer than the attempt timeout';
  else if (failure.message.startsWith(invalidResponsePrefix(provider)))
    reason = failure.message.slice(invalidResponsePrefix(provider).length);
  else reason = 'it could not be converted';
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'upstream_invalid_response',
    message: `${provider} accepted the request but its answer could not be read (${reason}); it was not sent again, as ${provider} may bill it`,
    isRetryable: false,
    provider,
    upstreamStatus,
    cause: failure,
  });
}
