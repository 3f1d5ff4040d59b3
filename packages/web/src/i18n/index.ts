import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import ar from './ar.json';
import en from './en.json';
import fr from './fr.json';
import {
  chooseLanguage,
  defaultLanguage,
  directionOf,
  isSupportedLanguage,
  type LanguageCode,
  languageStorageKey,
} from './languages';

function readStoredLanguage(): string | null {
  try {
    return window.localStorage.getItem(languageStorageKey);
  } catch {
    // Storage can be disabled (private modes, strict privacy settings); detection still works.
    return null;
  }
}

function storeLanguage(code: LanguageCode): void {
  try {
    window.localStorage.setItem(languageStorageKey, code);
  } catch {
    // Not persisting is acceptable: the choice still applies for this visit.
  }
}

/** Keeps `<html lang dir>` in step so screen readers, fonts and the logical CSS utilities follow. */
function applyToDocument(code: LanguageCode): void {
  document.documentElement.lang = code;
  document.documentElement.dir = directionOf(code);
}

const initialLanguage = chooseLanguage(readStoredLanguage(), navigator.languages ?? [navigator.language]);
applyToDocument(initialLanguage);

// All three locales are bundled: together they weigh a few kilobytes, less than one extra request.
void i18next.use(initReactI18next).init({
  resources: { fr: { translation: fr }, en: { translation: en }, ar: { translation: ar } },
  lng: initialLanguage,
  fallbackLng: defaultLanguage,
  supportedLngs: ['fr', 'en', 'ar'],
  interpolation: { escapeValue: false }, // React already escapes what it renders.
  returnNull: false,
});

i18next.on('languageChanged', (code) => {
  if (isSupportedLanguage(code)) applyToDocument(code);
});

/** Switches the interface language and remembers it for the next visit. */
export async function changeLanguage(code: LanguageCode): Promise<void> {
  storeLanguage(code);
  await i18next.changeLanguage(code);
}

export { i18next };
