import { type Dispatcher, request } from 'undici';
import type { PaymentProvider } from '../tables.js';
import { ProviderError } from './types.js';

export interface ProviderHttpOptions {
  provider: PaymentProvider;
  timeoutMs: number;
  dispatcher?: Dispatcher | undefined;
}

/**
 * One JSON call to a provider with a hard deadline. Errors name the provider, method, path and status only: never
 * the request headers (keys) nor the body.
 */
export async function callJson<T>(
  options: ProviderHttpOptions,
  call: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string },
): Promise<T> {
  const path = new URL(call.url).pathname;
  const signal = AbortSignal.timeout(options.timeoutMs);
  let response: Dispatcher.ResponseData;
  try {
    response = await request(call.url, {
      method: call.method,
      headers: call.headers,
      ...(call.body !== undefined ? { body: call.body } : {}),
      signal,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  } catch (error) {
    const timedOut = signal.aborted;
    throw new ProviderError(
      options.provider,
      timedOut ? `${call.method} ${path} timed out` : `${call.method} ${path} failed to connect`,
      { timedOut, cause: error },
    );
  }
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    throw new ProviderError(options.provider, `${call.method} ${path}: body not read`, {
      timedOut: signal.aborted,
      cause: error,
    });
  }
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new ProviderError(options.provider, `${call.method} ${path} answered ${response.statusCode}`, {
      status: response.statusCode,
    });
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ProviderError(options.provider, `${call.method} ${path} answered invalid JSON`, {
      status: response.statusCode,
    });
  }
}
