import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

export interface WeboxClientOptions {
  /** Origin of the WeBox server, e.g. `https://webox.example.com`. */
  baseUrl: string;
  /** A virtual API key (`wbx_…`) or an access token, sent as a Bearer token. */
  apiKey?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** A typed client for the WeBox platform API; paths, bodies and answers follow the server's OpenAPI document. */
export function createWeboxClient(options: WeboxClientOptions): Client<paths> {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
