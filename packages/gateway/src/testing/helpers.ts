import { type GatewayConfig, type GatewayConfigInput, gatewayConfigSchema } from '../config.js';
import type { CallContext } from '../gateway.js';

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
