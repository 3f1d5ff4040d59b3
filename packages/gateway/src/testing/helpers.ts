import { type GatewayConfig, type GatewayConfigInput, gatewayConfigSchema } from '../config.js';
import { type CallContext, createGateway, type Gateway } from '../gateway.js';
import type { BreakerStore } from '../resilience/breaker-store.js';

export function parseConfig(input: GatewayConfigInput): GatewayConfig {
  return gatewayConfigSchema.parse(input);
}

/** Fast resilience settings so fault tests finish quickly. */
export const fastResilience = {
  attemptTimeoutMs: 2_000,
  totalTimeoutMs: 10_000,
  retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2_000 },
  breaker: { failureThreshold: 3, openMs: 200 },
} satisfies GatewayConfigInput['resilience'];

export const emptyContext: CallContext = { metadata: { headers: {} } };

/** The one key of `first` in `fallbackGateway`, for a test that reads its breaker (`breakerKeyFor('first', …)`). */
export const firstProviderKey = 'sk-first-0123456789abcdef';

export interface FallbackGatewayOptions {
  /** Where the two providers listen (fake upstreams). */
  urls: { first: string; backup: string };
  /** The wire format of `first`; default 'openai-compatible'. */
  type?: 'anthropic' | 'cohere' | 'openai-compatible';
  /** Default `fastResilience`. */
  resilience?: GatewayConfigInput['resilience'];
  /** Default: a fresh in-memory one. */
  breakerStore?: BreakerStore;
}

/**
 * A gateway over two providers: the route `smart` tries model `a` on `first` (of `type`) then `b` on the
 * OpenAI-compatible `backup`, and `vectors` does the same for embeddings (`embed-a`, then `embed-b`).
 */
export function fallbackGateway(options: FallbackGatewayOptions): Gateway {
  const { urls, type = 'openai-compatible', resilience = fastResilience, breakerStore } = options;
  const embeddings = { contextWindow: 8_000, capabilities: ['embeddings' as const] };
  return createGateway({
    config: parseConfig({
      providers: {
        first: {
          type,
          ...(type === 'openai-compatible' ? { preset: 'openai' as const } : {}),
          baseUrl: urls.first,
          keys: [firstProviderKey],
          allowPrivateNetwork: true,
        },
        backup: {
          type: 'openai-compatible',
          preset: 'openai',
          baseUrl: urls.backup,
          keys: ['sk-backup-0123456789abcdef'],
          allowPrivateNetwork: true,
        },
      },
      models: {
        a: { provider: 'first', model: 'upstream-a', contextWindow: 200_000 },
        b: { provider: 'backup', model: 'upstream-b', contextWindow: 128_000 },
        'embed-a': { provider: 'first', model: 'embed-upstream-a', ...embeddings },
        'embed-b': { provider: 'backup', model: 'embed-upstream-b', ...embeddings },
      },
      routes: {
        smart: { strategy: 'fallback', targets: [{ model: 'a' }, { model: 'b' }] },
        vectors: { strategy: 'fallback', targets: [{ model: 'embed-a' }, { model: 'embed-b' }] },
      },
      resilience,
    }),
    ...(breakerStore ? { breakerStore } : {}),
  });
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Collects until the iterator ends or throws; returns both so tests can assert on partial output. */
export async function collectSettled<T>(
  iterable: AsyncIterable<T>,
): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of iterable) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

/** A provider's recorded payload: `providers/<provider>/__fixtures__/<name>`. */
export function providerFixture(provider: string, name: string): URL {
  return new URL(`../providers/${provider}/__fixtures__/${name}`, import.meta.url);
}
