import { hash } from 'node:crypto';

/**
 * Round-robin key order per provider. Each call gets the keys starting after the last one handed out,
 * so load spreads over all keys; the caller skips keys whose breaker is open.
 */
export class KeyRotation {
  readonly #cursors = new Map<string, number>();

  /** Key indexes in the order to try them. */
  order(provider: string, keyCount: number): number[] {
    if (keyCount === 0) return [];
    const start = (this.#cursors.get(provider) ?? 0) % keyCount;
    this.#cursors.set(provider, (start + 1) % keyCount);
    const order = new Array<number>(keyCount);
    for (let offset = 0; offset < keyCount; offset++) order[offset] = (start + offset) % keyCount;
    return order;
  }
}

/**
 * Breaker key for one provider key. Hashing the key (instead of its index) keeps state attached to the
 * right key when the list is reordered, and never puts the key itself in Redis.
 */
export function breakerKeyFor(provider: string, key: string): string {
  return `${provider}:${hash('sha256', key, 'hex').slice(0, 16)}`;
}
