import { useMutation, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type BankDetails,
  fetchPaymentOptions,
  formatMinorUnits,
  type PaymentIntent,
  type PaymentProvider,
  startPayment,
} from '../../api/payments-api';
import { ErrorAlert, PageHeading, primaryButtonClass, textLinkClass } from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatNumber } from '../../components/use-format-number';
import { isSupportedLanguage } from '../../i18n/languages';
import { RequireAccount } from '../../session/require-account';
import { BankTransferPanel } from './payments-bank-transfer';
import { usePaymentErrorMessage } from './payments-common';

const choiceClass =
  'flex cursor-pointer items-start gap-3 rounded-lg border border-slate-200 p-4 has-[:checked]:border-indigo-600 has-[:checked]:bg-indigo-50 has-[:disabled]:cursor-not-allowed has-[:disabled]:opacity-60 dark:border-slate-700 dark:has-[:checked]:border-indigo-400 dark:has-[:checked]:bg-indigo-950';

function BuyCreditsContent() {
  const { t, i18n } = useTranslation();
  const language = isSupportedLanguage(i18n.resolvedLanguage) ? i18n.resolvedLanguage : 'fr';
  const formatCredits = useFormatNumber();
  const explain = usePaymentErrorMessage();
  const currencyId = useId();
  const options = useQuery({
    queryKey: ['payments', 'options'],
    queryFn: ({ signal }) => fetchPaymentOptions(signal),
  });
  const [packId, setPackId] = useState<string>();
  const [currency, setCurrency] = useState<string>();
  const [provider, setProvider] = useState<PaymentProvider>();
  const [bankIntent, setBankIntent] = useState<{ intent: PaymentIntent; details: BankDetails }>();

  const start = useMutation({
    mutationFn: startPayment,
    onSuccess: (intent) => {
      if (intent.checkoutUrl) {
        window.location.assign(intent.checkoutUrl);
        return;
      }
      if (intent.provider === 'bank_transfer' && options.data?.bankTransfer) {
        setBankIntent({ intent, details: options.data.bankTransfer });
      }
    },
  });

  if (options.isPending) return <p role="status">{t('auth.loading')}</p>;
  if (options.isError) return <ErrorAlert testId="buy-options-error">{explain(options.error)}</ErrorAlert>;
  if (bankIntent) return <BankTransferPanel intent={bankIntent.intent} details={bankIntent.details} />;

  const { packs, methods } = options.data;
  // Only currencies that some method takes and some pack is priced in.
  const currencies = [...new Set(methods.flatMap((method) => method.currencies))].filter((code) =>
    packs.some((pack) => pack.prices[code] !== undefined),
  );
  const chosenCurrency = currency && currencies.includes(currency) ? currency : currencies[0];
  const methodsInCurrency = methods.filter(
    (method) => chosenCurrency && method.currencies.includes(chosenCurrency),
  );
  const chosenProvider =
    provider && methodsInCurrency.some((method) => method.provider === provider)
      ? provider
      : methodsInCurrency[0]?.provider;
  const packsInCurrency = packs.filter((pack) => chosenCurrency && pack.prices[chosenCurrency] !== undefined);
  const chosenPack = packsInCurrency.find((pack) => pack.id === packId) ?? packsInCurrency[0];

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!chosenPack || !chosenCurrency || !chosenProvider) return;
    start.mutate({
      packId: chosenPack.id,
      currency: chosenCurrency,
      provider: chosenProvider,
      locale: language,
    });
  };

  if (packs.length === 0 || currencies.length === 0) {
    return <p data-testid="buy-none">{t('payments.buy.none')}</p>;
  }

  return (
    <form
      onSubmit={onSubmit}
      className="flex flex-col gap-6"
      data-testid="buy-form"
      aria-labelledby="buy-title"
    >
      <div className="flex flex-col gap-1.5 sm:max-w-xs">
        <label htmlFor={currencyId} className="font-medium">
          {t('payments.buy.currency')}
        </label>
        <select
          id={currencyId}
          data-testid="buy-currency"
          value={chosenCurrency}
          onChange={(event) => setCurrency(event.target.value)}
          className="rounded-md border border-slate-300 bg-white px-3 py-2 dark:border-slate-600 dark:bg-slate-900"
        >
          {currencies.map((code) => (
            <option key={code} value={code}>
              {code}
            </option>
          ))}
        </select>
      </div>

      <fieldset className="flex flex-col gap-3">
        <legend className="mb-2 text-lg font-bold">{t('payments.buy.packs')}</legend>
        <div className="grid gap-3 sm:grid-cols-2">
          {packsInCurrency.map((pack) => (
            <label key={pack.id} className={choiceClass} data-testid={`pack-${pack.id}`}>
              <input
                type="radio"
                name="pack"
                value={pack.id}
                checked={chosenPack?.id === pack.id}
                onChange={() => setPackId(pack.id)}
                className="mt-1"
              />
              <span className="flex flex-col gap-1">
                <span className="font-semibold">{pack.name}</span>
                <span className="text-sm text-slate-700 dark:text-slate-300">
                  {t('account.credits', { credits: formatCredits(pack.credits) })}
                </span>
                <span className="text-lg font-bold">
                  <bdi>{formatMinorUnits(pack.prices[chosenCurrency!]!, chosenCurrency!, language)}</bdi>
                </span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset className="flex flex-col gap-3">
        <legend className="mb-2 text-lg font-bold">{t('payments.buy.method')}</legend>
        <div className="grid gap-3 sm:grid-cols-2">
          {methodsInCurrency.map((method) => (
            <label key={method.provider} className={choiceClass} data-testid={`method-${method.provider}`}>
              <input
                type="radio"
                name="method"
                value={method.provider}
                checked={chosenProvider === method.provider}
                onChange={() => setProvider(method.provider)}
                className="mt-1"
              />
              <span className="font-medium">{t(`payments.methods.${method.provider}`)}</span>
            </label>
          ))}
        </div>
      </fieldset>

      {start.isError && <ErrorAlert testId="buy-error">{explain(start.error)}</ErrorAlert>}
      <div className="flex flex-wrap items-center gap-4">
        <button
          type="submit"
          data-testid="buy-submit"
          className={primaryButtonClass}
          disabled={start.isPending || !chosenPack || !chosenProvider}
        >
          {start.isPending
            ? t('payments.buy.redirecting')
            : chosenPack && chosenCurrency
              ? t('payments.buy.pay', {
                  amount: formatMinorUnits(chosenPack.prices[chosenCurrency]!, chosenCurrency, language),
                })
              : t('payments.buy.pickPack')}
        </button>
        <Link to="/payments" className={textLinkClass} data-testid="buy-history-link">
          {t('payments.history.title')}
        </Link>
      </div>
    </form>
  );
}

export function BuyCreditsPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('payments.buy.title'));
  return (
    <div className="flex flex-col gap-6">
      <PageHeading id="buy-title" title={t('payments.buy.title')} intro={t('payments.buy.intro')} />
      <RequireAccount>{() => <BuyCreditsContent />}</RequireAccount>
    </div>
  );
}
