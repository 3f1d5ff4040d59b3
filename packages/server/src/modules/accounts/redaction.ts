import { type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/** What stands in for an erased person's name in text that mentioned them. */
export const ERASED_NAME = '[erased]';

/** The address an erased account holds instead of its own, and what stands in for its addresses in text. */
export function erasedAddress(userId: string): string {
  return `deleted-${userId}@deleted.invalid`;
}

/**
 * Names shorter than this are not searched for: "Al" or "Jo" would be cut out of unrelated words and sentences (an
 * event mentioning such a person by name alone keeps it; their addresses still go).
 */
const SHORTEST_NAME = 3;

/** What to take out of text that mentions an erased person, and what to put in its place. */
export interface Redaction {
  addresses: readonly string[];
  /** Their name; empty for none. Matched as a whole word, in any case. */
  name: string;
  /** Stands in for each address. */
  addressReplacement: string;
}

type Rule = readonly [RegExp, string];

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function searchableName(name: string): string | undefined {
  const trimmed = name.trim();
  return trimmed.length >= SHORTEST_NAME ? trimmed : undefined;
}

function rulesOf(redaction: Redaction, withName: boolean): Rule[] {
  const rules: Rule[] = redaction.addresses
    .filter((address) => address.length > 0)
    .map((address) => [new RegExp(escapeRegExp(address), 'gi'), redaction.addressReplacement] as const);
  const name = withName ? searchableName(redaction.name) : undefined;
  if (name) {
    rules.push([
      new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(name)}(?![\\p{L}\\p{N}])`, 'giu'),
      ERASED_NAME,
    ]);
  }
  return rules;
}

function redactString(value: string, rules: readonly Rule[]): string {
  let result = value;
  for (const [pattern, replacement] of rules) result = result.replace(pattern, () => replacement);
  return result;
}

function redactValue(value: unknown, rules: readonly Rule[]): unknown {
  if (typeof value === 'string') return redactString(value, rules);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, rules));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, rules)]));
  }
  return value;
}

/**
 * A JSON document (an event's details) with every string value's mentions of the person replaced; undefined when it
 * mentions them nowhere. `withName`: also their name, for documents known to be about them (an address is theirs
 * wherever it appears; a name may be someone else's).
 */
export function redactDocument<Document>(
  document: Document,
  redaction: Redaction,
  options: { withName: boolean },
): Document | undefined {
  const rules = rulesOf(redaction, options.withName);
  if (rules.length === 0) return undefined;
  const redacted = redactValue(document, rules);
  return JSON.stringify(redacted) === JSON.stringify(document) ? undefined : (redacted as Document);
}

/** Text (an email body) with the person's mentions replaced, name included. */
export function redactText(text: string, redaction: Redaction): string {
  return redactString(text, rulesOf(redaction, true));
}

/**
 * A condition true where a jsonb column's text may mention the person (each address, and the name when asked), to
 * narrow the rows `redactDocument` reads; false when there is nothing to look for.
 */
export function mentionsIn(column: AnyPgColumn, redaction: Redaction, options: { withName: boolean }): SQL {
  const terms = [...redaction.addresses.filter((address) => address.length > 0)];
  const name = options.withName ? searchableName(redaction.name) : undefined;
  if (name) terms.push(name);
  if (terms.length === 0) return sql`false`;
  // As a jsonb document prints it: JSON-escaped, then escaped for LIKE.
  const patterns = terms.map(
    (term) =>
      `%${JSON.stringify(term)
        .slice(1, -1)
        .replace(/[\\%_]/g, '\\$&')}%`,
  );
  return sql`(${sql.join(
    patterns.map((pattern) => sql`${column}::text ilike ${pattern}`),
    sql` or `,
  )})`;
}
