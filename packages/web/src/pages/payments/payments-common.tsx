import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { type PaymentStatus, paidStatuses } from '../../api/payments-api';
import { useErrorMessage } from '../../components/form-layout';

/** Payment failures explained in the reader's language; other errors as everywhere else. */
export function usePaymentErrorMessage(): (error: unknown) => string {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  return (error) => {
    if (error instanceof ApiError) {
      if (error.code === 'upstream_error' || error.code === 'upstream_timeout')
        return t('payments.errors.upstream');
      if (error.code === 'unsupported_media_type' || error.code === 'payload_too_large') {
        return t('payments.errors.proof');
      }
      if (error.code === 'unprocessable') return t('payments.errors.unavailable');
    }
    return explain(error);
  };
}

const badgeClass: Record<'good' | 'wait' | 'bad', string> = {
  good: 'bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100',
  wait: 'bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100',
  bad: 'bg-slate-200 text-slate-800 dark:bg-slate-800 dark:text-slate-200',
};

export function PaymentStatusBadge({ status }: { status: PaymentStatus }) {
  const { t } = useTranslation();
  const tone = paidStatuses.includes(status)
    ? 'good'
    : status === 'pending' || status === 'created'
      ? 'wait'
      : 'bad';
  return (
    <span
      data-testid="payment-status"
      data-status={status}
      className={`inline-block rounded-full px-2.5 py-0.5 text-sm font-medium ${badgeClass[tone]}`}
    >
      {t(`payments.status.${status}`)}
    </span>
  );
}
