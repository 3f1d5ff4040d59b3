import { useTranslation } from 'react-i18next';

/** Dates and times written the reader's way, in their language (and their browser's time zone). */
export function useFormatDate(): (iso: string, withTime?: boolean) => string {
  const { i18n } = useTranslation();
  const language = i18n.resolvedLanguage ?? 'fr';
  const dateTime = new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' });
  const dateOnly = new Intl.DateTimeFormat(language, { dateStyle: 'long' });
  return (iso, withTime = true) => (withTime ? dateTime : dateOnly).format(new Date(iso));
}
