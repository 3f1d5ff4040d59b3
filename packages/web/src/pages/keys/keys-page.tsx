import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type ApiKey,
  createKey,
  listAllModels,
  listKeys,
  MAX_BUDGET_CREDITS,
  MAX_DAILY_REQUESTS,
  type NewApiKey,
  revokeKey,
} from '../../api/keys';
import { listOrganizations, type Organization, organizationsQueryKey } from '../../api/organizations';
import { CodeSnippet } from '../../components/code-snippet';
import { CopyButton } from '../../components/copy-button';
import { FormField } from '../../components/form-field';
import {
  DangerConfirmation,
  ErrorAlert,
  PageHeading,
  primaryButtonClass,
  SubmitButton,
  secondaryButtonClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatDate } from '../../components/use-format-date';
import { useFormatNumber } from '../../components/use-format-number';

const keysQueryKey = ['keys'] as const;
const dangerButtonClass =
  'rounded-md border border-red-700 px-3 py-1.5 text-sm font-medium text-red-800 hover:bg-red-50 disabled:opacity-60 dark:border-red-400 dark:text-red-300 dark:hover:bg-red-950';

function usageSnippet(origin: string, model: string): string {
  return `import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: '${origin}/v1',
  apiKey: process.env.WEBOX_API_KEY, // wbx_...
});

const completion = await client.chat.completions.create({
  model: '${model}',
  messages: [{ role: 'user', content: 'Bonjour !' }],
});
console.log(completion.choices[0].message.content);`;
}

function curlSnippet(origin: string): string {
  return `curl ${origin}/v1/models \\
  -H "Authorization: Bearer $WEBOX_API_KEY"`;
}

/** An optional whole number typed by hand: empty means "no limit", anything else must be a positive integer. */
function parseLimit(value: string, maximum: number): number | undefined | 'invalid' {
  if (value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 1 && parsed <= maximum ? parsed : 'invalid';
}

type KeyState = 'active' | 'revoked' | 'expired';
function stateOf(key: ApiKey): KeyState {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now()) return 'expired';
  return 'active';
}

export function KeysPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('keys.title'));
  const keys = useQuery({ queryKey: keysQueryKey, queryFn: ({ signal }) => listKeys(signal) });
  const models = useQuery({
    queryKey: ['models', 'all'],
    queryFn: ({ signal }) => listAllModels(signal),
    staleTime: 300_000,
  });
  // The organisations a key can be created for (their wallet then pays for its calls).
  const organizations = useQuery({
    queryKey: organizationsQueryKey,
    queryFn: ({ signal }) => listOrganizations(signal),
  });
  const explain = useErrorMessage();
  const [created, setCreated] = useState<{ key: string; summary: ApiKey }>();
  const exampleModel = models.data?.[0]?.id ?? 'gpt-4o-mini';

  return (
    <div className="flex flex-col gap-10">
      <PageHeading id="keys-title" title={t('keys.title')} intro={t('keys.intro')} />

      {created ? (
        <CreatedKey created={created} onDone={() => setCreated(undefined)} />
      ) : (
        <CreateKeyForm
          models={models.data ?? []}
          organizations={organizations.data ?? []}
          onCreated={setCreated}
        />
      )}

      <section aria-labelledby="keys-list-title" className="flex flex-col gap-4">
        <h2 id="keys-list-title" className="text-xl font-bold">
          {t('keys.listTitle')}
        </h2>
        {keys.isError && <ErrorAlert testId="keys-error">{explain(keys.error)}</ErrorAlert>}
        {keys.isPending && <p role="status">{t('auth.loading')}</p>}
        {keys.data?.length === 0 && (
          <p className="text-slate-700 dark:text-slate-300" data-testid="keys-empty">
            {t('keys.empty')}
          </p>
        )}
        <ul className="flex flex-col gap-3" data-testid="keys-list">
          {keys.data?.map((key) => (
            <KeyItem
              key={key.id}
              apiKey={key}
              organization={organizations.data?.find(
                (organization) => organization.id === key.organizationId,
              )}
            />
          ))}
        </ul>
      </section>

      <section aria-labelledby="keys-usage-title" className="flex flex-col gap-4">
        <h2 id="keys-usage-title" className="text-xl font-bold">
          {t('keys.usage.title')}
        </h2>
        <p className="text-slate-700 dark:text-slate-300">{t('keys.usage.body')}</p>
        <CodeSnippet
          code={usageSnippet(window.location.origin, exampleModel)}
          label={t('home.developers.snippetLabel')}
        />
        <CodeSnippet code={curlSnippet(window.location.origin)} label={t('keys.usage.curlLabel')} />
      </section>
    </div>
  );
}

function CreateKeyForm({
  models,
  organizations,
  onCreated,
}: {
  models: Array<{ id: string; owned_by: string }>;
  organizations: Organization[];
  onCreated: (created: { key: string; summary: ApiKey }) => void;
}) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const formatNumber = useFormatNumber();
  const [name, setName] = useState('');
  const [allowed, setAllowed] = useState<string[]>([]);
  const [rpm, setRpm] = useState('');
  const [tpm, setTpm] = useState('');
  const [dailyRequests, setDailyRequests] = useState('');
  const [dailyCredits, setDailyCredits] = useState('');
  const [monthlyCredits, setMonthlyCredits] = useState('');
  const [expiry, setExpiry] = useState('');
  // '' is the person's own wallet; otherwise an organisation's id.
  const [payer, setPayer] = useState('');
  const payerId = useId();
  const [errors, setErrors] = useState<
    Partial<
      Record<'name' | 'rpm' | 'tpm' | 'dailyRequests' | 'dailyCredits' | 'monthlyCredits' | 'expiry', string>
    >
  >({});
  const modelsLegendId = useId();
  const create = useMutation({
    mutationFn: createKey,
    onSuccess: (result) => {
      setName('');
      setAllowed([]);
      setRpm('');
      setTpm('');
      setDailyRequests('');
      setDailyCredits('');
      setMonthlyCredits('');
      setExpiry('');
      setPayer('');
      onCreated(result);
      void queryClient.invalidateQueries({ queryKey: keysQueryKey });
    },
  });
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const found: typeof errors = {};
    const options: NewApiKey = { name: name.trim() };
    if (options.name === '') found.name = t('keys.validation.name');
    const rpmLimit = parseLimit(rpm, 100_000);
    const tpmLimit = parseLimit(tpm, 100_000_000);
    if (rpmLimit === 'invalid') found.rpm = t('keys.validation.limit', { maximum: formatNumber(100_000) });
    else if (rpmLimit !== undefined) options.rpmLimit = rpmLimit;
    if (tpmLimit === 'invalid')
      found.tpm = t('keys.validation.limit', { maximum: formatNumber(100_000_000) });
    else if (tpmLimit !== undefined) options.tpmLimit = tpmLimit;
    // Budgets and the daily quota reset at midnight in the server's billing time zone.
    const budgets = [
      ['dailyRequests', dailyRequests, 'dailyRequestQuota', MAX_DAILY_REQUESTS],
      ['dailyCredits', dailyCredits, 'dailyCreditBudget', MAX_BUDGET_CREDITS],
      ['monthlyCredits', monthlyCredits, 'monthlyCreditBudget', MAX_BUDGET_CREDITS],
    ] as const;
    for (const [field, text, option, maximum] of budgets) {
      const value = parseLimit(text, maximum);
      if (value === 'invalid') found[field] = t('keys.validation.limit', { maximum: formatNumber(maximum) });
      else if (value !== undefined) options[option] = value;
    }
    if (expiry !== '') {
      // The key works until the end of the chosen day, in the reader's own time zone.
      const end = new Date(`${expiry}T23:59:59`);
      if (Number.isNaN(end.getTime()) || end.getTime() <= Date.now())
        found.expiry = t('keys.validation.expiry');
      else options.expiresAt = end.toISOString();
    }
    if (allowed.length > 0) options.allowedModels = allowed;
    if (payer !== '') options.organizationId = payer;
    setErrors(found);
    if (Object.keys(found).length === 0) create.mutate(options);
  };

  return (
    <section
      aria-labelledby="create-key-title"
      className="flex flex-col gap-4 rounded-lg border border-slate-200 p-4 sm:p-6 dark:border-slate-800"
    >
      <h2 id="create-key-title" className="text-xl font-bold">
        {t('keys.create.title')}
      </h2>
      {create.isError && <ErrorAlert testId="create-key-error">{explain(create.error)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5" aria-busy={create.isPending}>
        <FormField
          id="key-name"
          label={t('keys.create.name')}
          hint={t('keys.create.nameHint')}
          required
          maxLength={100}
          value={name}
          error={errors.name}
          onChange={(event) => setName(event.target.value)}
        />
        {organizations.length > 0 && (
          <div className="flex flex-col gap-1.5">
            <label htmlFor={payerId} className="font-medium">
              {t('keys.create.payer')}
            </label>
            <select
              id={payerId}
              data-testid="key-payer"
              aria-describedby={`${payerId}-hint`}
              value={payer}
              onChange={(event) => setPayer(event.target.value)}
              className="rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 sm:max-w-md dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
            >
              <option value="">{t('keys.create.payerPersonal')}</option>
              {organizations.map((organization) => (
                <option key={organization.id} value={organization.id}>
                  {organization.name}
                </option>
              ))}
            </select>
            <p id={`${payerId}-hint`} className="text-sm text-slate-600 dark:text-slate-400">
              {t('keys.create.payerHint')}
            </p>
          </div>
        )}
        <fieldset className="flex flex-col gap-2" aria-describedby={`${modelsLegendId}-hint`}>
          <legend className="font-medium">{t('keys.create.models')}</legend>
          <p id={`${modelsLegendId}-hint`} className="text-sm text-slate-600 dark:text-slate-400">
            {t('keys.create.modelsHint')}
          </p>
          <div className="grid max-h-56 gap-1 overflow-y-auto rounded-md border border-slate-200 p-2 sm:grid-cols-2 dark:border-slate-700">
            {models.map((model) => (
              <label key={model.id} className="flex items-center gap-2 rounded px-1 py-1 text-sm">
                <input
                  type="checkbox"
                  data-testid="key-model"
                  value={model.id}
                  checked={allowed.includes(model.id)}
                  onChange={(event) =>
                    setAllowed((previous) =>
                      event.target.checked
                        ? [...previous, model.id]
                        : previous.filter((entry) => entry !== model.id),
                    )
                  }
                  className="size-4 accent-indigo-700"
                />
                <span dir="ltr" className="truncate">
                  {model.id}
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <div className="grid gap-5 sm:grid-cols-3">
          <FormField
            id="key-rpm"
            label={t('keys.create.rpm')}
            hint={t('keys.create.limitHint')}
            inputMode="numeric"
            dir="ltr"
            value={rpm}
            error={errors.rpm}
            onChange={(event) => setRpm(event.target.value)}
          />
          <FormField
            id="key-tpm"
            label={t('keys.create.tpm')}
            hint={t('keys.create.limitHint')}
            inputMode="numeric"
            dir="ltr"
            value={tpm}
            error={errors.tpm}
            onChange={(event) => setTpm(event.target.value)}
          />
          <FormField
            id="key-expiry"
            label={t('keys.create.expiry')}
            hint={t('keys.create.expiryHint')}
            type="date"
            min={tomorrow}
            value={expiry}
            error={errors.expiry}
            onChange={(event) => setExpiry(event.target.value)}
          />
        </div>
        <div className="grid gap-5 sm:grid-cols-3">
          <FormField
            id="key-daily-requests"
            label={t('keys.create.dailyRequests')}
            hint={t('keys.create.budgetHint')}
            inputMode="numeric"
            dir="ltr"
            value={dailyRequests}
            error={errors.dailyRequests}
            onChange={(event) => setDailyRequests(event.target.value)}
          />
          <FormField
            id="key-daily-credits"
            label={t('keys.create.dailyCredits')}
            hint={t('keys.create.budgetHint')}
            inputMode="numeric"
            dir="ltr"
            value={dailyCredits}
            error={errors.dailyCredits}
            onChange={(event) => setDailyCredits(event.target.value)}
          />
          <FormField
            id="key-monthly-credits"
            label={t('keys.create.monthlyCredits')}
            hint={t('keys.create.budgetHint')}
            inputMode="numeric"
            dir="ltr"
            value={monthlyCredits}
            error={errors.monthlyCredits}
            onChange={(event) => setMonthlyCredits(event.target.value)}
          />
        </div>
        <SubmitButton
          testId="create-key-submit"
          pending={create.isPending}
          label={t('keys.create.submit')}
          pendingLabel={t('keys.create.submitting')}
        />
      </form>
    </section>
  );
}

/** The secret, this one time: copy it, then it is gone from the page. */
function CreatedKey({ created, onDone }: { created: { key: string; summary: ApiKey }; onDone: () => void }) {
  const { t } = useTranslation();
  const headingRef = useRef<HTMLHeadingElement>(null);
  // The form the person used is gone: move focus to what replaced it.
  useEffect(() => headingRef.current?.focus(), []);
  return (
    <section
      aria-labelledby="created-key-title"
      data-testid="created-key"
      className="flex flex-col gap-4 rounded-lg border border-emerald-300 bg-emerald-50 p-4 text-emerald-950 sm:p-6 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-50"
    >
      <h2 id="created-key-title" ref={headingRef} tabIndex={-1} className="text-xl font-bold">
        {t('keys.created.title', { name: created.summary.name })}
      </h2>
      <p role="alert" className="font-medium">
        {t('keys.created.once')}
      </p>
      <div className="flex flex-col gap-2 sm:flex-row sm:items-center">
        <label htmlFor="created-key-secret" className="sr-only">
          {t('keys.created.secretLabel')}
        </label>
        <input
          id="created-key-secret"
          data-testid="created-key-secret"
          readOnly
          dir="ltr"
          value={created.key}
          onFocus={(event) => event.target.select()}
          className="min-w-0 flex-1 rounded-md border border-emerald-400 bg-white px-3 py-2 font-mono text-sm text-slate-900 dark:border-emerald-700 dark:bg-slate-900 dark:text-slate-100"
        />
        <CopyButton
          text={created.key}
          label={t('keys.created.copy')}
          testId="copy-key"
          className={primaryButtonClass}
        />
      </div>
      <div>
        <button
          type="button"
          data-testid="created-key-done"
          onClick={onDone}
          className={secondaryButtonClass}
        >
          {t('keys.created.done')}
        </button>
      </div>
    </section>
  );
}

function KeyItem({ apiKey, organization }: { apiKey: ApiKey; organization?: Organization | undefined }) {
  const { t } = useTranslation();
  const formatDate = useFormatDate();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const formatNumber = useFormatNumber();
  const revoke = useMutation({
    mutationFn: () => revokeKey(apiKey.id),
    onSuccess: () => {
      setConfirming(false);
      void queryClient.invalidateQueries({ queryKey: keysQueryKey });
    },
  });
  const state = stateOf(apiKey);
  const stateClass = {
    active:
      'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100',
    revoked: 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100',
    expired:
      'border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100',
  }[state];
  const limit = (value: number | null) => (value === null ? t('keys.item.noLimit') : formatNumber(value));

  return (
    <li
      data-testid="key-item"
      data-state={state}
      className="flex flex-col gap-3 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
    >
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-semibold">
          <bdi>{apiKey.name}</bdi>
        </h3>
        <code dir="ltr" className="rounded bg-slate-100 px-1.5 py-0.5 text-sm dark:bg-slate-800">
          {apiKey.prefix}…
        </code>
        <span
          data-testid="key-state"
          className={`rounded-full border px-2 py-0.5 text-xs font-medium ${stateClass}`}
        >
          {t(`keys.state.${state}`)}
        </span>
      </div>
      <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-2 lg:grid-cols-3">
        {apiKey.organizationId && (
          <div>
            <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.payer')}</dt>
            <dd data-testid="key-payer-name">
              <bdi>{organization?.name ?? t('organizations.title')}</bdi>
            </dd>
          </div>
        )}
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.models')}</dt>
          <dd className="break-words">
            {apiKey.allowedModels ? (
              <span dir="ltr">{apiKey.allowedModels.join(', ')}</span>
            ) : (
              t('keys.item.allModels')
            )}
          </dd>
        </div>
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.limits')}</dt>
          <dd>{t('keys.item.limitsValue', { rpm: limit(apiKey.rpmLimit), tpm: limit(apiKey.tpmLimit) })}</dd>
        </div>
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.budgets')}</dt>
          <dd data-testid="key-budgets">
            {t('keys.item.budgetsValue', {
              requests: limit(apiKey.dailyRequestQuota),
              daily: limit(apiKey.dailyCreditBudget),
              monthly: limit(apiKey.monthlyCreditBudget),
            })}
          </dd>
        </div>
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.expires')}</dt>
          <dd>{apiKey.expiresAt ? formatDate(apiKey.expiresAt) : t('keys.item.never')}</dd>
        </div>
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.lastUsed')}</dt>
          <dd data-testid="key-last-used">
            {apiKey.lastUsedAt ? formatDate(apiKey.lastUsedAt) : t('keys.item.neverUsed')}
          </dd>
        </div>
        <div>
          <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.created')}</dt>
          <dd>{formatDate(apiKey.createdAt)}</dd>
        </div>
        {apiKey.revokedAt && (
          <div>
            <dt className="text-slate-600 dark:text-slate-400">{t('keys.item.revoked')}</dt>
            <dd>{formatDate(apiKey.revokedAt)}</dd>
          </div>
        )}
      </dl>
      {revoke.isError && <ErrorAlert testId="revoke-key-error">{explain(revoke.error)}</ErrorAlert>}
      {state !== 'revoked' &&
        (confirming ? (
          <DangerConfirmation
            label={t('keys.revoke.confirmLabel', { name: apiKey.name })}
            message={t('keys.revoke.confirm', { name: apiKey.name })}
            confirm={t('keys.revoke.yes')}
            confirmTestId="revoke-key-confirm"
            pending={revoke.isPending}
            onConfirm={() => revoke.mutate()}
            onCancel={() => setConfirming(false)}
          />
        ) : (
          <div>
            <button
              type="button"
              data-testid="revoke-key"
              aria-label={t('keys.revoke.buttonNamed', { name: apiKey.name })}
              onClick={() => setConfirming(true)}
              className={dangerButtonClass}
            >
              {t('keys.revoke.button')}
            </button>
          </div>
        ))}
    </li>
  );
}
