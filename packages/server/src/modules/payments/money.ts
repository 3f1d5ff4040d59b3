/** Minor-unit exponent of each currency we sell in: Chargily counts DZD in whole dinars. */
const exponents: Record<string, number> = { DZD: 0, EUR: 2, USD: 2 };

export function currencyExponent(currency: string): number {
  return exponents[currency.toUpperCase()] ?? 2;
}

/** "1000 DZD", "7.50 EUR": integer arithmetic only. */
export function formatMoney(amount: number, currency: string): string {
  return `${toDecimalString(amount, currency)} ${currency.toUpperCase()}`;
}

/** Minor units to the decimal string providers such as PayPal expect ("7.50"). */
export function toDecimalString(amount: number, currency: string): string {
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(amount);
  const scale = 10 ** exponent;
  const sign = amount < 0 ? '-' : '';
  const absolute = Math.abs(amount);
  return `${sign}${Math.floor(absolute / scale)}.${String(absolute % scale).padStart(exponent, '0')}`;
}

/** "7.50" to 750 minor units; answers undefined for anything not a plain decimal with at most `exponent` digits. */
export function fromDecimalString(value: string, currency: string): number | undefined {
  const exponent = currencyExponent(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return undefined;
  const minor = Number(match[1]) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
  return Number.isSafeInteger(minor) ? minor : undefined;
}
