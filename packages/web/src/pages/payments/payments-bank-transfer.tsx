import { useMutation } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useId, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { type BankDetails, formatMinorUnits, type PaymentIntent, uploadProof } from '../../api/payments-api';
import { ErrorAlert, SuccessPanel, secondaryButtonClass, textLinkClass } from '../../components/form-layout';
import { usePaymentErrorMessage } from './payments-common';

/** After choosing a bank transfer: what to transfer, where, with which reference; then the proof. */
export function BankTransferPanel({ intent, details }: { intent: PaymentIntent; details: BankDetails }) {
  const { t, i18n } = useTranslation();
  const explain = usePaymentErrorMessage();
  const fileId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const amount = formatMinorUnits(intent.amount, intent.currency, i18n.resolvedLanguage ?? 'fr');
  const upload = useMutation({ mutationFn: (file: File) => uploadProof(intent.id, file) });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const file = fileInput.current?.files?.[0];
    if (file) upload.mutate(file);
  };

  const rows: Array<[string, string, string]> = [
    ['holder', t('payments.bank.holder'), details.accountHolder],
    ['bank', t('payments.bank.bank'), details.bankName],
    ['account', t('payments.bank.account'), details.accountNumber],
    ...(details.bic ? [['bic', t('payments.bank.bic'), details.bic] as [string, string, string]] : []),
  ];

  return (
    <section className="flex flex-col gap-6" aria-labelledby="bank-title" data-testid="bank-transfer">
      <h2 id="bank-title" className="text-xl font-bold">
        {t('payments.bank.title')}
      </h2>
      <p>{t('payments.bank.intro', { amount })}</p>
      <div className="flex flex-col gap-1 rounded-lg border-2 border-indigo-600 p-4 dark:border-indigo-400">
        <p className="text-sm text-slate-700 dark:text-slate-300">{t('payments.bank.reference')}</p>
        {/* The reference is Latin letters and digits: kept left-to-right inside Arabic text. */}
        <p dir="ltr" className="break-all font-mono text-2xl font-bold" data-testid="bank-reference">
          {intent.bankReference}
        </p>
      </div>
      <dl className="grid gap-x-6 gap-y-2 sm:grid-cols-[auto_1fr]">
        {rows.map(([key, label, value]) => (
          <div key={key} className="contents">
            <dt className="font-medium text-slate-700 dark:text-slate-300">{label}</dt>
            <dd dir="ltr" className="break-all font-mono text-start" data-testid={`bank-${key}`}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
      {details.instructions && <p className="text-sm">{details.instructions}</p>}

      {upload.isSuccess ? (
        <SuccessPanel testId="proof-uploaded" title={t('payments.bank.uploaded')}>
          <Link to="/payments" className={textLinkClass}>
            {t('payments.history.title')}
          </Link>
        </SuccessPanel>
      ) : (
        <form onSubmit={onSubmit} className="flex flex-col gap-3" data-testid="proof-form">
          <label htmlFor={fileId} className="font-medium">
            {t('payments.bank.proof')}
          </label>
          <input
            id={fileId}
            ref={fileInput}
            type="file"
            required
            accept="image/png,image/jpeg,application/pdf"
            data-testid="proof-file"
            className="max-w-full text-sm"
          />
          {upload.isError && <ErrorAlert testId="proof-error">{explain(upload.error)}</ErrorAlert>}
          <div>
            <button
              type="submit"
              className={secondaryButtonClass}
              disabled={upload.isPending}
              data-testid="proof-submit"
            >
              {t('payments.bank.upload')}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
