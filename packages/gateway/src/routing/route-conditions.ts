import type { RouteCondition } from '../config.js';

/** What the server knows about a caller that routes can depend on. */
export interface RequestMetadata {
  /** Request headers; names are compared case-insensitively. */
  headers: Record<string, string | string[] | undefined>;
  /** The caller's plan (e.g. `free`, `pro`). */
  plan?: string;
}

function headerOf(metadata: RequestMetadata, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(metadata.headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** True when every condition holds (and each condition's every clause). No conditions always match. */
export function matchesConditions(
  conditions: RouteCondition[] | undefined,
  metadata: RequestMetadata,
): boolean {
  if (!conditions || conditions.length === 0) return true;
  return conditions.every((condition) => {
    if (condition.header && headerOf(metadata, condition.header.name) !== condition.header.equals)
      return false;
    if (condition.plan && (metadata.plan === undefined || !condition.plan.includes(metadata.plan)))
      return false;
    return true;
  });
}
