/** One field-level problem reported by a `validation_failed` error. */
export interface ApiErrorDetail {
  path: string;
  message: string;
}

/**
 * Every failed call to the server, whatever went wrong, so pages handle one type.
 * `code` is the server's error code, or `network_error` (no response, status 0) or
 * `invalid_response` (a response that is not the documented error shape).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: string;
  readonly status: number;
  readonly details: ApiErrorDetail[];

  constructor(options: { code: string; message: string; status: number; details?: ApiErrorDetail[] }) {
    super(options.message);
    this.code = options.code;
    this.status = options.status;
    this.details = options.details ?? [];
  }
}

export interface ApiRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
  /** Extra request headers (e.g. `idempotency-key`). */
  headers?: Record<string, string>;
  /**
   * On a 401 `unauthenticated` (an expired access token, see `sessionExpired`), renew the access token with the
   * refresh cookie once and try again (default true). Sign-in and refresh calls turn it off: their 401 is the answer,
   * not an expired session.
   */
  refreshOnUnauthenticated?: boolean;
}

/** Name of the readable cookie holding the session's CSRF token (set by the server at sign-in). */
export const csrfCookieName = 'webox_csrf';
/** Header the server expects the CSRF token in on every cookie-authenticated change. */
export const csrfHeaderName = 'x-csrf-token';

/** The CSRF token of the current session, read from its cookie; undefined when signed out. */
export function readCsrfToken(): string | undefined {
  if (typeof document === 'undefined') return undefined;
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === csrfCookieName) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** Headers every call carries: the CSRF token whenever a session exists (harmless on reads). */
export function sessionHeaders(): Record<string, string> {
  const token = readCsrfToken();
  return token ? { [csrfHeaderName]: token } : {};
}

let refreshing: Promise<boolean> | undefined;

/**
 * Renews the short-lived access cookie with the refresh cookie. Concurrent callers share one attempt:
 * the server rotates the refresh token, so a second parallel refresh would look like token reuse.
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      if (!readCsrfToken()) return false;
      const response = await fetch('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...sessionHeaders() },
        body: '{}',
      });
      return response.ok;
    } catch {
      return false;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

/**
 * Whether a refusal means the access token no longer opens the session (missing, expired, or its session ended), the
 * one case renewing it and sending the call again can fix. The server says so with the code `unauthenticated`; its
 * other 401s (`invalid_credentials`, `two_factor_invalid`) refuse a password or code the person typed, and sending
 * that again would only spend a second attempt of their budget towards a lockout.
 */
export function sessionExpired(status: number, body: unknown): boolean {
  return status === 401 && isRecord(body) && isRecord(body.error) && body.error.code === 'unauthenticated';
}

export interface ApiResponse<T> {
  status: number;
  ok: boolean;
  body: T;
}

/**
 * Calls the server and returns status and parsed JSON, without judging the status: some endpoints
 * (`/ready` answering 503 with its checks) carry the data callers need on a non-2xx answer.
 */
export async function fetchJson<T>(path: string, options: ApiRequestOptions = {}): Promise<ApiResponse<T>> {
  const first = await fetchJsonOnce<T>(path, options);
  if (!sessionExpired(first.status, first.body) || options.refreshOnUnauthenticated === false) return first;
  if (!(await refreshSession())) return first;
  return fetchJsonOnce<T>(path, options);
}

async function fetchJsonOnce<T>(path: string, options: ApiRequestOptions): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...options.headers,
    ...sessionHeaders(),
  };
  const init: RequestInit = { method: options.method ?? 'GET', headers, credentials: 'same-origin' };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    // Aborts are the caller's own decision (TanStack Query cancelling), not a server failure.
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError({ code: 'network_error', message: 'The server could not be reached', status: 0 });
  }

  const text = await response.text();
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError({
        code: 'invalid_response',
        message: `Expected JSON from ${path}, got something else`,
        status: response.status,
      });
    }
  }
  return { status: response.status, ok: response.ok, body: body as T };
}

/**
 * `fetch` for what `apiRequest` does not carry (raw uploads, downloads, event streams): the session's cookies and CSRF
 * header, one retry after renewing an expired access cookie (`sessionExpired`: never after a refused password or
 * code), and an unreachable server as a `network_error`. An abort is thrown as it came: it is the caller's own
 * decision.
 */
export async function fetchWithSession(
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Response> {
  const send = () =>
    fetch(path, { ...init, credentials: 'same-origin', headers: { ...init.headers, ...sessionHeaders() } });
  try {
    const response = await send();
    if (response.status === 401 && (await expiredSessionAnswer(response)) && (await refreshSession()))
      return await send();
    return response;
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError({ code: 'network_error', message: 'The server could not be reached', status: 0 });
  }
}

/** `sessionExpired` for a raw response, read from a copy so the caller still gets the body. */
async function expiredSessionAnswer(response: Response): Promise<boolean> {
  try {
    return sessionExpired(response.status, await response.clone().json());
  } catch {
    return false;
  }
}

/** The `ApiError` a refused answer carries (one that is not the error shape is an `invalid_response`). */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: toApiError reports it as invalid_response.
  }
  return toApiError(response.status, body);
}

/**
 * Dispatched on `window` whenever the server refuses a call with `two_factor_required` (staff who must set up
 * two-step verification first), so the app can take the person to the set-up page from wherever they are.
 */
export const twoFactorRequiredEvent = 'webox:two-factor-required';

/** Calls the server and returns the body of a 2xx answer; anything else becomes an `ApiError`. */
export async function apiRequest<T>(path: string, options: ApiRequestOptions = {}): Promise<T> {
  const response = await fetchJson<unknown>(path, options);
  if (!response.ok) {
    const error = toApiError(response.status, response.body);
    if (error.code === 'two_factor_required' && typeof window !== 'undefined') {
      window.dispatchEvent(new Event(twoFactorRequiredEvent));
    }
    throw error;
  }
  return response.body as T;
}

/** Reads `{ error: { code, message, details? } }` (and the OpenAI-style variant on `/v1`). */
export function toApiError(status: number, body: unknown): ApiError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (error === undefined || typeof error.code !== 'string') {
    return new ApiError({ code: 'invalid_response', message: `Unexpected answer (HTTP ${status})`, status });
  }
  return new ApiError({
    code: error.code,
    message: typeof error.message === 'string' ? error.message : error.code,
    status,
    details: parseDetails(error.details),
  });
}

function parseDetails(details: unknown): ApiErrorDetail[] {
  if (!Array.isArray(details)) return [];
  return details.filter(isRecord).map((detail) => ({
    path: Array.isArray(detail.path) ? detail.path.join('.') : String(detail.path ?? ''),
    message: typeof detail.message === 'string' ? detail.message : '',
  }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
