import { readFileSync } from 'node:fs';
import { AppError } from '../../errors.js';

// Resolved from the package root so the same path works from src/ and from dist/.
const listUrl = new URL('../../../src/modules/accounts/common-passwords.txt', import.meta.url);
let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(listUrl, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#')),
  );
  return common;
}

/** Why a password is refused, or undefined when it is acceptable. Length is checked by the route schema. */
export function passwordWeakness(password: string, context: { email?: string; name?: string } = {}) {
  const lowered = password.toLowerCase();
  if (commonPasswords().has(lowered)) return 'is one of the most common passwords';
  if (/^(.)\1+$/.test(password)) return 'repeats a single character';
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lowered.includes(local)) return 'contains your email address';
  if (/^(webox|password|motdepasse)\d*$/.test(lowered)) return 'is too easy to guess';
  return undefined;
}

/** Throws a 400 naming the field when the password is too easy to guess. */
export function assertStrongPassword(
  password: string,
  context: { email?: string; name?: string; field?: string } = {},
): void {
  const weakness = passwordWeakness(password, context);
  if (weakness) {
    throw new AppError('validation_failed', 'Choose a harder password.', {
      details: [{ path: `body.${context.field ?? 'password'}`, message: weakness }],
    });
  }
}
