import { createHash } from 'node:crypto';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '@webox/gateway';
import type { CacheStore } from '../../stores/index.js';

/** What a cache hit replays: a whole completion, or the chunks of a stream in order. */
export type CachedAnswer =
  | { kind: 'completion'; response: ChatCompletion; usage: Usage; provider: string; model: string }
  | { kind: 'stream'; chunks: ChatCompletionChunk[]; usage: Usage; provider: string; model: string };

export interface CacheDecision {
  key: string;
  ttlMs: number;
}

const MAX_TTL_SECONDS = 7 * 24 * 3600;

/** Stable JSON: object keys sorted, so `{a,b}` and `{b,a}` are one cache entry. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Exact-match response cache, opt-in: per request with `x-webox-cache: true` (TTL from `x-webox-cache-ttl`
 * seconds), or per alias from the config. Entries are scoped to the user, so nobody is served another's answer.
 */
export class ResponseCache {
  /** A Map, not the config's object: a client's model named "constructor" must not find what objects inherit. */
  readonly #aliasTtlSeconds: ReadonlyMap<string, number>;

  constructor(
    private readonly store: CacheStore,
    aliasTtlSeconds: Record<string, number>,
  ) {
    this.#aliasTtlSeconds = new Map(Object.entries(aliasTtlSeconds));
  }

  decide(options: {
    userId: string;
    request: ChatCompletionRequest;
    headers: Record<string, string | string[] | undefined>;
  }): CacheDecision | undefined {
    const flag = options.headers['x-webox-cache'];
    const wanted = flag === 'true' || flag === '1' || flag === 'use';
    if (flag === 'false' || flag === '0' || flag === 'skip') return undefined;
    const requestedTtl = Number(options.headers['x-webox-cache-ttl']);
    const ttlSeconds = wanted
      ? Number.isFinite(requestedTtl) && requestedTtl > 0
        ? Math.min(requestedTtl, MAX_TTL_SECONDS)
        : 3600
      : this.#aliasTtlSeconds.get(options.request.model);
    if (!ttlSeconds) return undefined;
    const { stream, stream_options: _streamOptions, user: _user, ...rest } = options.request;
    const digest = createHash('sha256')
      .update(`${options.userId}\n${stream ? 'stream' : 'json'}\n${canonical(rest)}`)
      .digest('base64url');
    return { key: `response:${digest}`, ttlMs: ttlSeconds * 1000 };
  }

  async get(decision: CacheDecision): Promise<CachedAnswer | undefined> {
    const text = await this.store.get(decision.key);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as CachedAnswer;
    } catch {
      return undefined;
    }
  }

  async set(decision: CacheDecision, answer: CachedAnswer): Promise<void> {
    await this.store.set(decision.key, JSON.stringify(answer), decision.ttlMs);
  }
}
