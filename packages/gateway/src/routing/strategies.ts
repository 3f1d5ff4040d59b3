import type { RouteTarget } from '../config.js';

/** Ordered fallback: the configured order is the order of attempts. */
export function orderFallback(targets: RouteTarget[]): RouteTarget[] {
  return [...targets];
}

/**
 * Weighted load balancing: the first target is drawn by weight, and the remaining ones follow in a
 * weighted draw without replacement, so a failing first pick still falls back to every other target.
 */
export function orderWeighted(targets: RouteTarget[], random: () => number): RouteTarget[] {
  const remaining = [...targets];
  const ordered: RouteTarget[] = [];
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, target) => sum + (target.weight ?? 1), 0);
    let point = random() * total;
    let chosen = remaining.length - 1;
    for (let index = 0; index < remaining.length; index += 1) {
      point -= remaining[index]!.weight ?? 1;
      if (point < 0) {
        chosen = index;
        break;
      }
    }
    ordered.push(...remaining.splice(chosen, 1));
  }
  return ordered;
}

/** A small seeded generator (mulberry32) so weighted routing is reproducible in tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
