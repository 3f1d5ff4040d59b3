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

export function invalidUpstreamResponse(provider: string, reason: string, cause?: unknown): GatewayError {
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'upstream_invalid_response',
    message: `${provider} returned an invalid response: ${reason}`,
    isRetryable: true,
    provider,
    cause,
  });
}
