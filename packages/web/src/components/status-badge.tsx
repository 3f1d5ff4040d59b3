import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { fetchSystemStatus } from '../api/system-status';

const stateStyles = {
  checking: {
    dot: 'bg-slate-400',
    badge: 'border-slate-300 text-slate-700 dark:border-slate-600 dark:text-slate-300',
  },
  operational: {
    dot: 'bg-emerald-500',
    badge:
      'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-200',
  },
  degraded: {
    dot: 'bg-amber-500',
    badge:
      'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200',
  },
  unavailable: {
    dot: 'bg-red-500',
    badge: 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200',
  },
} as const;

// Known dependency names get a translated label; a check the server adds later still shows, by name.
const knownChecks = ['database', 'redis', 'migrations'] as const;

/** Live health of the server this page came from, refreshed while the page is open. */
export function StatusBadge() {
  const { t, i18n } = useTranslation();
  const { data } = useQuery({
    queryKey: ['system-status'],
    queryFn: ({ signal }) => fetchSystemStatus(signal),
    refetchInterval: 30_000,
    retry: false,
  });
  const state = data?.state ?? 'checking';
  const failing = (data?.failingChecks ?? []).map((name) =>
    (knownChecks as readonly string[]).includes(name)
      ? t(`status.checks.${name as (typeof knownChecks)[number]}`)
      : name,
  );
  const styles = stateStyles[state];

  return (
    // role=status announces changes politely, without stealing focus.
    <p
      role="status"
      data-testid="status-badge"
      data-state={state}
      className={`inline-flex flex-wrap items-center gap-2 rounded-full border px-3 py-1 text-sm font-medium ${styles.badge}`}
    >
      <span aria-hidden="true" className={`size-2.5 rounded-full ${styles.dot}`} />
      <span>{t('status.summary', { state: t(`status.${state}`) })}</span>
      {failing.length > 0 && (
        <span className="font-normal">
          {t('status.failing', {
            checks: new Intl.ListFormat(i18n.resolvedLanguage, { type: 'conjunction' }).format(failing),
          })}
        </span>
      )}
    </p>
  );
}
