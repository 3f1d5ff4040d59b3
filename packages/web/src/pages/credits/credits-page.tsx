import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { lazy, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, apiRequest } from '../../api/client';
import {
  ErrorAlert,
  PageHeading,
  primaryButtonClass,
  textLinkClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatNumber } from '../../components/use-format-number';
import { directionOf, isSupportedLanguage, numberLocaleOf } from '../../i18n/languages';
import { RequireAccount } from '../../session/require-account';
import { useBalance } from '../../session/use-session';
import { SpendingLimitsSection } from './spending-limits-section';

const UsageChart = lazy(() => import('./usage-chart'));

interface UsageReport {
  rows: Array<{ group: string; requests: number; credits: number }>;
  total: { requests: number; credits: number };
}

async function fetchUsage(groupBy: 'day' | 'model', signal: AbortSignal): Promise<UsageReport | null> {
  try {
    return await apiRequest<UsageReport>(`/api/billing/usage?groupBy=${groupBy}`, { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function UsageSection({ groupBy }: { groupBy: 'day' | 'model' }) {
  const { t, i18n } = useTranslation();
  const explain = useErrorMessage();
  const formatCredits = useFormatNumber();
  const language = i18n.resolvedLanguage;
  const rightToLeft = isSupportedLanguage(language) && directionOf(language) === 'rtl';
  const usage = useQuery({
    queryKey: ['billing', 'usage', groupBy],
    queryFn: ({ signal }) => fetchUsage(groupBy, signal),
  });
  const title = t(`credits.usageBy.${groupBy}`);
  return (
    <section aria-label={title} className="flex flex-col gap-3" data-testid={`usage-${groupBy}`}>
      <h2 className="text-xl font-bold">{title}</h2>
      {usage.isError && <ErrorAlert testId={`usage-${groupBy}-error`}>{explain(usage.error)}</ErrorAlert>}
      {usage.data?.rows.length === 0 && (
        <p className="text-slate-600 dark:text-slate-400">{t('credits.noUsage')}</p>
      )}
      {usage.data && usage.data.rows.length > 0 && (
        <>
          <Suspense fallback={<p role="status">{t('auth.loading')}</p>}>
            <UsageChart rows={usage.data.rows} label={t('credits.creditsSpent')} rightToLeft={rightToLeft} />
          </Suspense>
          {/* The same figures as a table: charts alone say nothing to screen readers. */}
          <table className="w-full text-start text-sm">
            <thead>
              <tr className="border-b border-slate-200 dark:border-slate-800">
                <th className="py-1 text-start font-medium">{t(`credits.group.${groupBy}`)}</th>
                <th className="py-1 text-end font-medium">{t('credits.requests')}</th>
                <th className="py-1 text-end font-medium">{t('credits.creditsSpent')}</th>
              </tr>
            </thead>
            <tbody>
              {usage.data.rows.map((row) => (
                <tr key={row.group} className="border-b border-slate-100 dark:border-slate-900">
                  <td className="py-1">
                    <bdi>{row.group}</bdi>
                  </td>
                  <td className="py-1 text-end">{formatCredits(row.requests)}</td>
                  <td className="py-1 text-end">{formatCredits(row.credits)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function CreditsContent() {
  const { t, i18n } = useTranslation();
  // The server's `formatted` has no currency sign; the reader's locale writes the amount with its currency.
  const formatMoney = (amount: { currency: string; minor: number }) => {
    const format = new Intl.NumberFormat(numberLocaleOf(i18n.resolvedLanguage), {
      style: 'currency',
      currency: amount.currency,
    });
    return format.format(amount.minor / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  };
  const balance = useBalance(true);
  const formatCredits = useFormatNumber();
  return (
    <div className="flex flex-col gap-8">
      <PageHeading id="credits-title" title={t('credits.title')} />
      {balance.data === null && <p>{t('credits.billingOff')}</p>}
      {balance.data && (
        <section
          aria-label={t('credits.balance')}
          data-testid="credits-balance"
          className="flex flex-col gap-2 rounded-lg border border-slate-200 p-5 dark:border-slate-800"
        >
          <p className="text-sm text-slate-600 dark:text-slate-400">{t('credits.balance')}</p>
          <p className="text-3xl font-bold">
            {t('account.credits', { credits: formatCredits(balance.data.available) })}
          </p>
          {balance.data.held > 0 && (
            <p className="text-sm">{t('credits.held', { credits: formatCredits(balance.data.held) })}</p>
          )}
          {balance.data.display.length > 0 && (
            <p className="text-sm text-slate-600 dark:text-slate-400">
              {t('credits.worth', {
                amounts: balance.data.display.map(formatMoney).join(' · '),
              })}
            </p>
          )}
          <p className="text-sm">{t('credits.topUpHelp')}</p>
          <p className="flex flex-wrap items-center gap-4 pt-2">
            <Link to="/credits/buy" className={primaryButtonClass} data-testid="credits-buy-link">
              {t('payments.buyLink')}
            </Link>
            <Link to="/payments" className={textLinkClass}>
              {t('payments.history.title')}
            </Link>
          </p>
        </section>
      )}
      {balance.data !== null && (
        <>
          <UsageSection groupBy="day" />
          <UsageSection groupBy="model" />
          <SpendingLimitsSection />
        </>
      )}
    </div>
  );
}

export function CreditsPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('credits.title'));
  return <RequireAccount>{() => <CreditsContent />}</RequireAccount>;
}
