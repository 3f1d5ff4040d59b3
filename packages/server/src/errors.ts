/**
 * One error type for the whole server. A code names what went wrong; the HTTP status comes from one map,
 * so a route never picks a status by hand.
 */
export const errorStatus = {
  validation_failed: 400,
  invalid_json: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  two_factor_invalid: 401,
  insufficient_credits: 402,
  forbidden: 403,
  csrf_invalid: 403,
  two_factor_required: 403,
  model_not_allowed: 403,
  token_invalid: 400,
  not_found: 404,
  model_not_found: 404,
  setup_token_invalid: 404,
  method_not_allowed: 405,
  conflict: 409,
  admin_exists: 409,
  provider_not_configured: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  quota_exceeded: 429,
  budget_exceeded: 429,
  account_locked: 429,
  /** The client went away before the answer (nginx's 499): logged as a refusal, never seen by anyone. */
  client_closed_request: 499,
  internal_error: 500,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      details?: ErrorDetail[] | Record<string, unknown>;
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = errorStatus[code];
  }
}

/** OpenAI's `type` for each status, used for the `/v1/*` shape so OpenAI SDKs raise the right class. */
export function openAiErrorType(status: number): string {
  if (
    status === 400 ||
    status === 404 ||
    status === 405 ||
    status === 413 ||
    status === 415 ||
    status === 422
  ) {
    return 'invalid_request_error';
  }
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'insufficient_quota';
  if (status === 403) return 'permission_error';
  if (status === 409) return 'conflict_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  return 'api_error';
}
