/** The languages the interface ships in; the first one is the fallback for unknown browsers. */
export const supportedLanguages = [
  { code: 'fr', nativeName: 'Français', direction: 'ltr' },
  { code: 'en', nativeName: 'English', direction: 'ltr' },
  { code: 'ar', nativeName: 'العربية', direction: 'rtl' },
] as const;

export type LanguageCode = (typeof supportedLanguages)[number]['code'];

// French is the default because most WeBox customers are in Algeria, where it is the working language
// of business software; Arabic speakers are detected from the browser or pick it once.
export const defaultLanguage: LanguageCode = 'fr';

export const languageStorageKey = 'webox.language';

export function isSupportedLanguage(value: unknown): value is LanguageCode {
  return supportedLanguages.some((language) => language.code === value);
}

export function directionOf(code: LanguageCode): 'ltr' | 'rtl' {
  return supportedLanguages.find((language) => language.code === code)?.direction ?? 'ltr';
}

// Numbers and amounts are written the Algerian way, where most customers are: `fr-DZ` writes 1 500,00 DA rather
// than 1 500,00 DZD, and `ar-DZ` writes 1.500,00 د.ج. with Latin digits and the separators used in Algeria.
// English keeps its own conventions. One locale for every number on a page, so counts and prices never disagree.
const numberLocales: Record<LanguageCode, string> = { fr: 'fr-DZ', en: 'en', ar: 'ar-DZ' };

/** The locale `Intl.NumberFormat` uses for numbers and amounts shown in the given interface language. */
export function numberLocaleOf(language: string | undefined): string {
  return numberLocales[isSupportedLanguage(language) ? language : defaultLanguage];
}

/**
 * Picks the interface language: an explicit earlier choice wins, then the first browser language
 * we support (`ar-DZ` counts as `ar`), then the default.
 */
export function chooseLanguage(stored: string | null, browserLanguages: readonly string[]): LanguageCode {
  if (isSupportedLanguage(stored)) return stored;
  for (const tag of browserLanguages) {
    const primary = tag.toLowerCase().split('-')[0];
    if (isSupportedLanguage(primary)) return primary;
  }
  return defaultLanguage;
}
