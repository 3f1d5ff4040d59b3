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
