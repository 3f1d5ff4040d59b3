import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useAccount } from '../session/use-session';

/** A formatter in `timeZone`, or in the browser's own when the zone is unknown to this browser. */
function formatterIn(language: string, options: Intl.DateTimeFormatOptions, timeZone: string | undefined) {
  try {
    return new Intl.DateTimeFormat(language, { ...options, ...(timeZone ? { timeZone } : {}) });
  } catch {
    return new Intl.DateTimeFormat(language, options);
  }
}

/**
 * Dates and times written the reader's way: in their language, and in the time zone of their account's
 * preferences (the browser's own for visitors), so a date reads the same on every device they use.
 */
export function useFormatDate(): (iso: string, withTime?: boolean) => string {
  const { i18n } = useTranslation();
  const { account } = useAccount();
  const language = i18n.resolvedLanguage ?? 'fr';
  const timeZone = account?.timeZone;
  return useMemo(() => {
    const dateTime = formatterIn(language, { dateStyle: 'medium', timeStyle: 'short' }, timeZone);
    const dateOnly = formatterIn(language, { dateStyle: 'long' }, timeZone);
    return (iso: string, withTime = true) => (withTime ? dateTime : dateOnly).format(new Date(iso));
  }, [language, timeZone]);
}
