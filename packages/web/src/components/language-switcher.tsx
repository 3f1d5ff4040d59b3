import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { changeLanguage } from '../i18n';
import { isSupportedLanguage, supportedLanguages } from '../i18n/languages';

export function LanguageSwitcher() {
  const { t, i18n } = useTranslation();
  const selectId = useId();
  return (
    <div className="flex items-center gap-2">
      <label htmlFor={selectId} className="sr-only">
        {t('shell.language')}
      </label>
      <svg
        aria-hidden="true"
        viewBox="0 0 24 24"
        className="hidden size-5 shrink-0 text-slate-500 xl:block dark:text-slate-400"
      >
        <path
          fill="none"
          stroke="currentColor"
          strokeWidth="1.8"
          d="M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18Zm0 0c2.5 2.4 3.7 5.4 3.7 9s-1.2 6.6-3.7 9m0-18C9.5 5.4 8.3 8.4 8.3 12s1.2 6.6 3.7 9M3.5 9h17M3.5 15h17"
        />
      </svg>
      <select
        id={selectId}
        data-testid="language-switcher"
        value={i18n.resolvedLanguage}
        onChange={(event) => {
          const code = event.target.value;
          if (isSupportedLanguage(code)) void changeLanguage(code);
        }}
        className="rounded-md border border-slate-300 bg-white py-1.5 ps-2 pe-8 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100"
      >
        {supportedLanguages.map((language) => (
          // Each name is written in its own language and direction, so a reader finds theirs.
          <option key={language.code} value={language.code} lang={language.code} dir={language.direction}>
            {language.nativeName}
          </option>
        ))}
      </select>
    </div>
  );
}
