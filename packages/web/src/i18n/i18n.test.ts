import { describe, expect, it } from 'vitest';
import { flatTranslations } from './flat';
import { chooseLanguage } from './languages';

const locales = flatTranslations;

describe('translations', () => {
  it('give the three languages exactly the same keys', () => {
    const frenchKeys = [...locales.fr.keys()].sort();
    expect([...locales.en.keys()].sort()).toEqual(frenchKeys);
    expect([...locales.ar.keys()].sort()).toEqual(frenchKeys);
  });

  it.each(Object.entries(locales))('leave no string empty in %s', (_code, entries) => {
    const empty = [...entries].filter(([, value]) => value.trim() === '').map(([key]) => key);
    expect(empty).toEqual([]);
  });

  it.each(Object.entries(locales))(
    'use the same interpolations and tags in %s as in English',
    (_code, entries) => {
      const placeholders = (text: string) =>
        [...text.matchAll(/{{\s*(\w+)\s*}}|<(\w+)>/g)].map((match) => match[0]).sort();
      for (const [key, english] of locales.en) {
        expect(placeholders(entries.get(key) ?? ''), key).toEqual(placeholders(english));
      }
    },
  );

  // An irreversible action sits next to the Cancel button of its confirmation (DangerConfirmation): its label must
  // not be read as "cancel" too (Arabic once wrote both revoke and cancel as إلغاء).
  it.each(Object.entries(locales))(
    'never names an irreversible action like Cancel in %s',
    (_code, entries) => {
      const cancel = entries.get('studio.cancel')!;
      const actions = [
        'keys.revoke.button',
        'keys.revoke.yes',
        'organizations.leave.yes',
        'settings.profile.deleteButton',
      ];
      for (const key of actions) {
        expect(entries.get(key), key).toBeDefined();
        expect(entries.get(key)!.startsWith(cancel), key).toBe(false);
      }
    },
  );
});

describe('chooseLanguage', () => {
  it('keeps an earlier explicit choice', () => {
    expect(chooseLanguage('ar', ['en-US'])).toBe('ar');
  });

  it('detects the first supported browser language, ignoring the region', () => {
    expect(chooseLanguage(null, ['de-DE', 'ar-DZ', 'en'])).toBe('ar');
  });

  it('ignores a stored value it does not support', () => {
    expect(chooseLanguage('klingon', ['en-GB'])).toBe('en');
  });

  it('falls back to French', () => {
    expect(chooseLanguage(null, ['de-DE', 'zh'])).toBe('fr');
  });
});
