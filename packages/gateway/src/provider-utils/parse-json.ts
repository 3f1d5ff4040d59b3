import type { z } from 'zod';
import { invalidUpstreamResponse } from '../spec/gateway-error.js';

/**
 * Parses a provider's JSON text; text that is not JSON is an invalid-response error (final once the engine knows the
 * provider answered 2xx: `unreadableAnswer`).
 */
export function parseProviderText(provider: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidUpstreamResponse(provider, 'the body is not valid JSON', error);
  }
}

/** Parses and validates a provider payload; a mismatch is an invalid-response error, as for text that is not JSON. */
export function parseProviderJson<T extends z.ZodType>(
  provider: string,
  schema: T,
  value: string | unknown,
): z.output<T> {
  const data = typeof value === 'string' ? parseProviderText(provider, value) : value;
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? issue.path.join('.') || 'root' : 'root';
    throw invalidUpstreamResponse(provider, `unexpected shape at ${where}`, result.error);
  }
  return result.data;
}

/** Parses a tool call's JSON arguments; providers that want an object get `{}` for empty input. */
export function parseToolArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    // The model produced invalid JSON; passing the raw text lets the provider answer it.
    return { _raw: text };
  }
}

/** Text of an OpenAI content value (string or text parts). */
export function contentText(
  content: string | Array<{ type: string; text?: string }> | null | undefined,
): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((part) => part.type === 'text')
    .map((part) => part.text ?? '')
    .join('');
}

/**
 * The head of a base64 `data:` URL, its media type captured: what adapters send inline, and what holds classify as
 * inline (`classifyMediaPart`), so both read a part the same way.
 */
export const dataUrlHead = /^data:([^;,]+);base64,/;

/** Splits a `data:` URL into its media type and base64 payload. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const head = dataUrlHead.exec(url);
  if (!head) return undefined;
  return { mediaType: head[1]!, data: url.slice(head[0].length) };
}
