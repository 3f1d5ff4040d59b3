/** Shapes of credentials commonly echoed back by providers (OpenAI, Anthropic, Google, bearer tokens). */
const credentialPatterns = [
  /\bsk-[A-Za-z0-9_-]{6,}/g,
  /\bAIza[0-9A-Za-z_-]{20,}/g,
  /\b(?:gsk|xai|pplx|csk|r8)_[A-Za-z0-9_-]{8,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
];

/**
 * Removes known secrets and anything shaped like a key from a message that may reach a client or a
 * log. Known keys are matched whole and by any 8-character fragment, because providers often quote
 * a truncated key.
 */
export function redactSecrets(message: string, secrets: string[]): string {
  let result = message;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    result = result.split(secret).join('[redacted]');
    for (let start = 0; start + 8 <= secret.length; start += 4) {
      const fragment = secret.slice(start, start + 8);
      if (result.includes(fragment)) result = result.split(fragment).join('[redacted]');
    }
  }
  for (const pattern of credentialPatterns) result = result.replace(pattern, '[redacted]');
  return result;
}
