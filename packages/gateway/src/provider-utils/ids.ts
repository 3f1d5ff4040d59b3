import { randomBytes } from 'node:crypto';

/** Random id with a prefix, the shape OpenAI uses (`chatcmpl-…`, `call_…`). */
export function generateId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}
