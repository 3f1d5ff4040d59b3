import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { numberLocaleOf } from '../i18n/languages';

/**
 * Writes a whole number (credits, tokens, a limit) the reader's way: digits grouped as in the interface language's
 * Algerian variant (`numberLocaleOf`), so counts and prices on one page never disagree.
 */
export function useFormatNumber(): (value: number) => string {
  const { i18n } = useTranslation();
  const locale = numberLocaleOf(i18n.resolvedLanguage);
  return useMemo(() => {
    const format = new Intl.NumberFormat(locale);
    return (value: number) => format.format(value);
  }, [locale]);
}
