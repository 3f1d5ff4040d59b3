import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './env.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed document.
 * Substitution runs after YAML parsing, so a value in the environment can never change the document's structure.
 * `${NAME}` with NAME unset is an error; `${NAME:-}` is the way to say "optional".
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        `Invalid setting ${name}: not set, but referenced by the config file at ${path || 'its root'}`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, `${path}[${index}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolateEnv(item, env, path ? `${path}.${key}` : key),
      ]),
    );
  }
  return value;
}

/** Reads, interpolates and validates the YAML config file; every failure is one ConfigError line. */
export async function loadConfigFile<Schema extends z.ZodType>(
  filePath: string,
  schema: Schema,
  env: NodeJS.ProcessEnv,
): Promise<z.output<Schema>> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'file not readable';
    throw new ConfigError(`Invalid setting WEBOX_CONFIG: ${reason} (${filePath})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text) ?? {};
  } catch (error) {
    const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    throw new ConfigError(
      `Invalid setting WEBOX_CONFIG: ${filePath} is not valid YAML${line ? ` (line ${line})` : ''}`,
    );
  }
  const parsed = schema.safeParse(interpolateEnv(document, env));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path
    .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
    .join('');
  throw new ConfigError(
    `Invalid setting WEBOX_CONFIG: ${filePath} at ${where.replace(/^\./, '') || 'root'}: ${issue.message}`,
  );
}
