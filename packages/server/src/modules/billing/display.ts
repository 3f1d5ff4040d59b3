/** Credits shown in local currencies. Display only: the ledger is always in whole credits. */

export interface CurrencyAmount {
  currency: string;
  /** Minor units (centimes, cents), rounded half up. */
  minor: number;
  /** e.g. "12.34". */
  formatted: string;
}

/** Parses `DZD:100,EUR:15000,USD:13500` (credits per unit of each currency). */
export function parseCreditRates(text: string): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const pair of text.split(',')) {
    const [currency, credits] = pair.split(':');
    const value = Number(credits);
    if (!currency || !Number.isSafeInteger(value) || value <= 0)
      throw new Error(`invalid credit rate: ${pair}`);
    rates[currency.trim()] = value;
  }
  return rates;
}

/** Converts with integer arithmetic: minor = round(credits × 100 / creditsPerUnit). */
export function displayCredits(credits: number, rates: Record<string, number>): CurrencyAmount[] {
  return Object.entries(rates).map(([currency, perUnit]) => {
    const numerator = BigInt(credits) * 200n;
    const denominator = BigInt(perUnit) * 2n;
    const sign = numerator < 0n ? -1n : 1n;
    const minor = Number((sign * numerator + denominator / 2n) / denominator) * Number(sign);
    const absolute = Math.abs(minor);
    const formatted = `${minor < 0 ? '-' : ''}${Math.floor(absolute / 100)}.${String(absolute % 100).padStart(2, '0')}`;
    return { currency, minor, formatted };
  });
}
