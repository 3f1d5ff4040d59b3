import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { paidStatuses, receiptUrl, syncPayment } from '../../api/payments-api';
import {
  ErrorAlert,
  PageHeading,
  SuccessPanel,
  secondaryButtonClass,
  textLinkClass,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatNumber } from '../../components/use-format-number';
import { RequireAccount } from '../../session/require-account';
import { balanceQueryKey } from '../../session/use-session';
import { PaymentStatusBadge, usePaymentErrorMessage } from './payments-common';

/** How long the page keeps asking about a payment the provider has not confirmed yet. */
const pollEveryMs = 3_000;
const pollTries = 40;

/**
 * Where the provider sends the buyer back. The page asks the server to check with the provider (so a deployment that
 * webhooks cannot reach still completes the payment), then keeps checking while the payment is pending.
 */
function PaymentResult({ id, returned }: { id: string; returned: 'success' | 'failure' }) {
  const { t } = useTranslation();
  const formatCredits = useFormatNumber();
  const explain = usePaymentErrorMessage();
  const queryClient = useQueryClient();
  const sync = useQuery({
    queryKey: ['payments', 'sync', id],
    queryFn: () => syncPayment(id),
    retry: 1,
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return (status === 'pending' || status === 'created') && query.state.dataUpdateCount < pollTries
        ? pollEveryMs
        : false;
    },
  });
  const paid = sync.data ? paidStatuses.includes(sync.data.status) : false;
  useEffect(() => {
    if (!paid) return;
    void queryClient.invalidateQueries({ queryKey: balanceQueryKey });
    void queryClient.invalidateQueries({ queryKey: ['payments', 'list'] });
  }, [paid, queryClient]);

  if (sync.isPending)
    return (
      <p role="status" data-testid="payment-checking">
        {t('payments.result.checking')}
      </p>
    );
  if (sync.isError) return <ErrorAlert testId="payment-result-error">{explain(sync.error)}</ErrorAlert>;
  const intent = sync.data;
  return (
    <div className="flex flex-col gap-4" data-testid="payment-result" data-status={intent.status}>
      <p>
        <PaymentStatusBadge status={intent.status} />
      </p>
      {paid ? (
        <SuccessPanel testId="payment-paid" title={t('payments.result.paidTitle')}>
          <p>{t('payments.result.paid', { credits: formatCredits(intent.credits) })}</p>
          {intent.receiptNumber && (
            <a
              href={receiptUrl(intent.id)}
              download
              className={textLinkClass}
              data-testid="result-receipt-link"
            >
              {t('payments.history.receipt', { number: intent.receiptNumber })}
            </a>
          )}
        </SuccessPanel>
      ) : intent.status === 'pending' || intent.status === 'created' ? (
        <div role="status" className="flex flex-col gap-3" data-testid="payment-pending">
          <p>
            {t(returned === 'success' ? 'payments.result.pending' : 'payments.result.pendingAfterCancel')}
          </p>
          <div>
            <button type="button" className={secondaryButtonClass} onClick={() => void sync.refetch()}>
              {t('payments.result.checkAgain')}
            </button>
          </div>
        </div>
      ) : (
        <div role="alert" className="flex flex-col gap-2" data-testid="payment-not-paid">
          <p>{t('payments.result.notPaid')}</p>
        </div>
      )}
      <div className="flex flex-wrap gap-4">
        {!paid && (
          <Link to="/credits/buy" className={textLinkClass} data-testid="result-try-again">
            {t('payments.result.tryAgain')}
          </Link>
        )}
        <Link to="/credits" className={textLinkClass}>
          {t('payments.result.backToCredits')}
        </Link>
        <Link to="/payments" className={textLinkClass}>
          {t('payments.history.title')}
        </Link>
      </div>
    </div>
  );
}

export function PaymentsResultPage({ id, returned }: { id: string; returned: 'success' | 'failure' }) {
  const { t } = useTranslation();
  const title = t(returned === 'success' ? 'payments.result.successTitle' : 'payments.result.failureTitle');
  useDocumentTitle(title);
  return (
    <div className="flex flex-col gap-6">
      <PageHeading id="payment-result-title" title={title} />
      <RequireAccount>{() => <PaymentResult id={id} returned={returned} />}</RequireAccount>
    </div>
  );
}
