import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { apiRequest } from '../../api/client';
import { MAX_BUDGET_CREDITS, MAX_DAILY_REQUESTS } from '../../api/keys';
import { FormField } from '../../components/form-field';
import { ErrorAlert, primaryButtonClass, useErrorMessage } from '../../components/form-layout';
import { useFormatNumber } from '../../components/use-format-number';

type Field = 'dailyRequests' | 'dailyCredits' | 'monthlyCredits';
type Budget = Record<Field, number | null>;

interface Budgets {
  timeZone: string;
  budget: Budget;
  status: Array<{ metric: 'requests' | 'credits'; period: 'day' | 'month'; used: number; limit: number }>;
}

const fields: Array<[Field, number]> = [
  ['dailyRequests', MAX_DAILY_REQUESTS],
  ['dailyCredits', MAX_BUDGET_CREDITS],
  ['monthlyCredits', MAX_BUDGET_CREDITS],
];
const queryKey = ['billing', 'budgets'];

/** The limits a person sets on their own /v1 spending (every key and the studio); empty means no limit. */
export function SpendingLimitsSection() {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const formatNumber = useFormatNumber();
  const budgets = useQuery({
    queryKey,
    queryFn: ({ signal }) => apiRequest<Budgets>('/api/billing/budgets', { signal }),
  });
  const [values, setValues] = useState<Record<Field, string>>({
    dailyRequests: '',
    dailyCredits: '',
    monthlyCredits: '',
  });
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  useEffect(() => {
    if (!budgets.data) return;
    const { budget } = budgets.data;
    setValues({
      dailyRequests: budget.dailyRequests === null ? '' : String(budget.dailyRequests),
      dailyCredits: budget.dailyCredits === null ? '' : String(budget.dailyCredits),
      monthlyCredits: budget.monthlyCredits === null ? '' : String(budget.monthlyCredits),
    });
  }, [budgets.data]);
  const save = useMutation({
    mutationFn: (budget: Budget) =>
      apiRequest<Budgets>('/api/billing/budgets', { method: 'PUT', body: budget }),
    onSuccess: (result) => queryClient.setQueryData(queryKey, result),
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const found: typeof errors = {};
    const budget: Budget = { dailyRequests: null, dailyCredits: null, monthlyCredits: null };
    for (const [field, maximum] of fields) {
      const text = values[field].trim();
      if (text === '') continue;
      const value = Number(text);
      if (!/^\d+$/.test(text) || value < 1 || value > maximum)
        found[field] = t('keys.validation.limit', { maximum: formatNumber(maximum) });
      else budget[field] = value;
    }
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate(budget);
  };

  const used = (field: Field) => {
    const metric = field === 'dailyRequests' ? 'requests' : 'credits';
    const period = field === 'monthlyCredits' ? 'month' : 'day';
    const status = budgets.data?.status.find((item) => item.metric === metric && item.period === period);
    return status
      ? t('credits.limits.used', {
          used: formatNumber(status.used),
          limit: formatNumber(status.limit),
        })
      : t('credits.limits.hint');
  };

  return (
    <section
      aria-labelledby="spending-limits-title"
      data-testid="spending-limits"
      className="flex flex-col gap-4 rounded-lg border border-slate-200 p-5 dark:border-slate-800"
    >
      <h2 id="spending-limits-title" className="text-xl font-bold">
        {t('credits.limits.title')}
      </h2>
      <p className="text-sm">{t('credits.limits.intro')}</p>
      {budgets.isError && (
        <ErrorAlert testId="spending-limits-load-error">{explain(budgets.error)}</ErrorAlert>
      )}
      {save.isError && <ErrorAlert testId="spending-limits-error">{explain(save.error)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4" aria-busy={save.isPending}>
        <div className="grid gap-5 sm:grid-cols-3">
          {fields.map(([field]) => (
            <FormField
              key={field}
              id={`spending-${field}`}
              label={t(`credits.limits.${field}`)}
              hint={used(field)}
              inputMode="numeric"
              dir="ltr"
              value={values[field]}
              error={errors[field]}
              onChange={(event) => setValues({ ...values, [field]: event.target.value })}
            />
          ))}
        </div>
        <p>
          <button type="submit" className={primaryButtonClass} disabled={save.isPending}>
            {save.isSuccess ? t('credits.limits.saved') : t('credits.limits.save')}
          </button>
        </p>
      </form>
    </section>
  );
}
