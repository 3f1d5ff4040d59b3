import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useTranslation } from 'react-i18next';
import { fetchPayments, formatMinorUnits, receiptUrl } from '../../api/payments-api';
import { ErrorAlert, PageHeading, textLinkClass } from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatDate } from '../../components/use-format-date';
import { useFormatNumber } from '../../components/use-format-number';
import { RequireAccount } from '../../session/require-account';
import { PaymentStatusBadge, usePaymentErrorMessage } from './payments-common';

function PaymentsHistory() {
  const { t, i18n } = useTranslation();
  const language = i18n.resolvedLanguage ?? 'fr';
  const explain = usePaymentErrorMessage();
  const formatCredits = useFormatNumber();
  const payments = useQuery({
    queryKey: ['payments', 'list'],
    queryFn: ({ signal }) => fetchPayments(signal),
  });
  const formatDate = useFormatDate();

  if (payments.isPending) return <p role="status">{t('auth.loading')}</p>;
  if (payments.isError) return <ErrorAlert testId="payments-error">{explain(payments.error)}</ErrorAlert>;
  if (payments.data.length === 0) return <p data-testid="payments-empty">{t('payments.history.empty')}</p>;
  return (
    // Cards rather than a table: six columns do not fit a phone.
    <ul className="flex flex-col gap-3" data-testid="payments-list">
      {payments.data.map((payment) => (
        <li
          key={payment.id}
          data-testid="payment-row"
          data-payment-id={payment.id}
          className="flex flex-col gap-2 rounded-lg border border-slate-200 p-4 sm:flex-row sm:items-center sm:justify-between dark:border-slate-800"
        >
          <div className="flex flex-col gap-1">
            <p className="font-semibold">
              <bdi>{formatMinorUnits(payment.amount, payment.currency, language)}</bdi>
              {' · '}
              {t('account.credits', { credits: formatCredits(payment.credits) })}
            </p>
            <p className="text-sm text-slate-600 dark:text-slate-400">
              <time dateTime={payment.createdAt}>{formatDate(payment.createdAt)}</time>
              {' · '}
              {t(`payments.methods.${payment.provider}`)}
              {payment.bankReference && (
                <>
                  {' · '}
                  <bdi className="whitespace-nowrap font-mono">{payment.bankReference}</bdi>
                </>
              )}
            </p>
          </div>
          <div className="flex flex-wrap items-center gap-3">
            <PaymentStatusBadge status={payment.status} />
            {payment.receiptNumber && (
              <a
                href={receiptUrl(payment.id)}
                download={`${payment.receiptNumber}.pdf`}
                className={textLinkClass}
                data-testid="receipt-link"
              >
                {t('payments.history.receipt', { number: payment.receiptNumber })}
              </a>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}

export function PaymentsHistoryPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('payments.history.title'));
  return (
    <div className="flex flex-col gap-6">
      <PageHeading id="payments-title" title={t('payments.history.title')} />
      <p>
        <Link to="/credits/buy" className={textLinkClass} data-testid="history-buy-link">
          {t('payments.buyLink')}
        </Link>
      </p>
      <RequireAccount>{() => <PaymentsHistory />}</RequireAccount>
    </div>
  );
}
