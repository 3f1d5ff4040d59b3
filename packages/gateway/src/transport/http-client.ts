import { Agent, type Dispatcher } from 'undici';
import { GatewayError } from '../spec/gateway-error.js';
import type { CancelSignal } from './abort.js';
import { safeLookup } from './safe-url.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface SendOptions {
  dispatcher: Dispatcher;
  /** `http(s)://host[:port]` of the provider. */
  origin: string;
  /** Path (with the base URL's own prefix) and query. */
  path: string;
  /** Every header, content-type included. */
  headers: Record<string, string>;
  body: unknown;
  signal: CancelSignal;
  provider: string;
}

/**
 * Shared connection pools. Public providers go through an agent whose DNS lookup refuses private
 * addresses; providers allowed on private networks (local Ollama, vLLM) use a plain one.
 */
export function createDefaultDispatchers(): { publicAgent: Dispatcher; privateAgent: Dispatcher } {
  // No cap on connections per provider: concurrency is already bounded by the clients being served, and a cap here
  // would queue streams behind each other (each streamed answer holds one HTTP/1.1 connection for its whole length).
  const options = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: null };
  return {
    publicAgent: new Agent({ ...options, connect: { lookup: safeLookup } }),
    privateAgent: new Agent(options),
  };
}

const connectionErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EPRIVATEADDRESS',
]);

/** Maps a transport failure (not an HTTP status) to a GatewayError. */
export function mapTransportError(error: unknown, provider: string, signal: CancelSignal): GatewayError {
  if (error instanceof GatewayError) return error;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof GatewayError) return reason;
    return new GatewayError({
      status: 499,
      type: 'invalid_request_error',
      code: 'request_aborted',
      message: 'The request was aborted',
      provider,
    });
  }
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new GatewayError({
      status: 504,
      type: 'timeout_error',
      code: 'upstream_timeout',
      message: `${provider} did not answer in time`,
      isRetryable: true,
      provider,
      cause: error,
    });
  }
  if (code === 'EPRIVATEADDRESS') {
    return new GatewayError({
      status: 502,
      type: 'upstream_error',
      code: 'unsafe_url',
      message: `${provider} resolves to a private address and is not allowed to`,
      provider,
      cause: error,
    });
  }
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'connection_error',
    message: `Could not reach ${provider}${code && connectionErrorCodes.has(code) ? ` (${code})` : ''}`,
    isRetryable: true,
    provider,
    cause: error,
  });
}

export async function sendJson(options: SendOptions): Promise<UpstreamResponse> {
  try {
    // The dispatcher's own request(): undici's top-level request(url) parses the URL again on every call.
    const response = await options.dispatcher.request({
      origin: options.origin,
      path: options.path,
      method: 'POST',
      headers: options.headers,
      body: JSON.stringify(options.body),
      signal: options.signal,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  } catch (error) {
    throw mapTransportError(error, options.provider, options.signal);
  }
}

/** Reads a whole body as text, bounded so a misbehaving upstream cannot exhaust memory. */
export function readBodyText(body: UpstreamResponse['body'], maxBytes = 32 * 1024 * 1024): Promise<string> {
  // Plain 'data' events: an async iterator over the stream costs several promises per body for nothing here.
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        discardBody(body);
        reject(new Error('upstream body too large'));
        return;
      }
      parts.push(chunk);
    });
    body.on('end', () => {
      resolve(parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8'));
    });
    body.on('error', reject);
  });
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Closes a response body we will not read. undici turns a bare destroy() into an 'error' event
 * (RequestAbortedError); the listener keeps that from becoming an unhandled error.
 */
export function discardBody(body: UpstreamResponse['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}
