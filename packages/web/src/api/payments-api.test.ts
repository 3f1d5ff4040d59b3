import { describe, expect, it } from 'vitest';
import { formatMinorUnits } from './payments-api';

/** Intl separates with no-break spaces and marks Arabic with direction marks: compare what a reader sees. */
const plain = (text: string) => text.replace(/\s/g, ' ').replace(/[\u200e\u200f\u061c]/g, '');

describe('formatMinorUnits', () => {
  it('writes dinars as people in Algeria read them, in each interface language', () => {
    expect(plain(formatMinorUnits(1500, 'DZD', 'fr'))).toBe('1 500 DA');
    expect(plain(formatMinorUnits(1500, 'DZD', 'ar'))).toBe('1.500 د.ج.');
    expect(plain(formatMinorUnits(1500, 'DZD', 'en'))).toBe('DZD 1,500');
  });

  it('keeps cents exact and writes other currencies with their own sign', () => {
    expect(plain(formatMinorUnits(150_050, 'EUR', 'fr'))).toBe('1 500,50 €');
    expect(plain(formatMinorUnits(-7, 'EUR', 'ar'))).toBe('-0,07 €');
    expect(plain(formatMinorUnits(123_456_789_012, 'USD', 'en'))).toBe('$1,234,567,890.12');
  });

  it('falls back to the default language for one it does not know', () => {
    expect(plain(formatMinorUnits(9000, 'DZD', 'de'))).toBe('9 000 DA');
  });
});
