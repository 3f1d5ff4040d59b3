import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { FormField } from '../../components/form-field';
import {
  ErrorAlert,
  primaryButtonClass,
  secondaryButtonClass,
  useErrorMessage,
} from '../../components/form-layout';

/** For actions that cannot be undone (turning 2FA off, deleting the account). */
export const dangerButtonClass =
  'rounded-md bg-red-700 px-5 py-2.5 font-medium text-white hover:bg-red-800 disabled:opacity-60';

const tabClass =
  'whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800';
const activeTabClass = 'bg-slate-100 text-slate-950 dark:bg-slate-800 dark:text-white';

/** The two settings pages share a heading and a way to switch between them. */
export function SettingsLayout({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="flex flex-col gap-8">
      <div className="flex flex-col gap-4">
        <h1 className="text-2xl font-bold tracking-tight sm:text-3xl">{t('settings.title')}</h1>
        <nav aria-label={t('settings.sections')}>
          <ul className="flex flex-wrap gap-2 border-b border-slate-200 pb-2 dark:border-slate-800">
            {(['profile', 'security'] as const).map((tab) => (
              <li key={tab}>
                <Link
                  to={`/settings/${tab}`}
                  data-testid={`settings-${tab}-tab`}
                  className={tabClass}
                  activeProps={{ className: activeTabClass, 'aria-current': 'page' }}
                >
                  {t(`settings.${tab}.title`)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </div>
      {children}
    </div>
  );
}

/** One titled block of a settings page. */
export function SettingsSection({
  id,
  title,
  intro,
  children,
}: {
  id: string;
  title: string;
  intro?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section
      aria-labelledby={`${id}-title`}
      data-testid={id}
      className="flex flex-col gap-4 rounded-lg border border-slate-200 p-4 sm:p-6 dark:border-slate-800"
    >
      <h2 id={`${id}-title`} className="text-xl font-bold">
        {title}
      </h2>
      {intro && <p className="text-slate-700 dark:text-slate-300">{intro}</p>}
      {children}
    </section>
  );
}

/** A short confirmation that an action went through, read out by screen readers. */
export function Saved({ testId, children }: { testId: string; children: ReactNode }) {
  return (
    <p
      role="status"
      data-testid={testId}
      className="rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100"
    >
      {children}
    </p>
  );
}

/** Like useErrorMessage, with the wording of a settings page: a wrong password here is the person's own. */
export function useSettingsErrorMessage(): (error: unknown, conflictMessage?: string) => string {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  return (error, conflictMessage) => {
    if (error instanceof ApiError && error.code === 'invalid_credentials')
      return t('settings.errors.wrongPassword');
    // Settings forms carry no links: a refused token here is a code emailed to confirm a change.
    if (error instanceof ApiError && error.code === 'token_invalid')
      return t('settings.errors.emailCodeInvalid');
    if (error instanceof ApiError && error.code === 'conflict' && conflictMessage) return conflictMessage;
    if (error instanceof ApiError && error.status === 413) return t('settings.errors.tooLarge');
    if (error instanceof ApiError && (error.status === 415 || error.code === 'image_invalid'))
      return t('settings.errors.imageType');
    return explain(error);
  };
}

/** What a settings form's mutation came to: a confirmation once it went through, the reason when it failed. */
export function MutationOutcome({
  mutation,
  savedTestId,
  errorTestId,
  saved,
  conflictMessage,
}: {
  mutation: { isSuccess: boolean; isError: boolean; error: unknown };
  savedTestId?: string;
  errorTestId: string;
  /** Shown on success (nothing when absent). */
  saved?: ReactNode;
  /** Shown instead of the generic message for a 409 conflict. */
  conflictMessage?: string;
}) {
  const explain = useSettingsErrorMessage();
  return (
    <>
      {mutation.isSuccess && saved !== undefined && savedTestId && (
        <Saved testId={savedTestId}>{saved}</Saved>
      )}
      {mutation.isError && (
        <ErrorAlert testId={errorTestId}>{explain(mutation.error, conflictMessage)}</ErrorAlert>
      )}
    </>
  );
}

/** The submit button of a settings form, with a Cancel beside it when the form can be left. */
export function FormActions({
  testId,
  label,
  pending,
  danger = false,
  onCancel,
}: {
  testId: string;
  label: string;
  pending: boolean;
  danger?: boolean;
  onCancel?: () => void;
}) {
  const { t } = useTranslation();
  return (
    <div className="flex flex-wrap gap-2">
      <button
        type="submit"
        data-testid={testId}
        disabled={pending}
        className={danger ? dangerButtonClass : primaryButtonClass}
      >
        {label}
      </button>
      {onCancel && (
        <button type="button" className={secondaryButtonClass} onClick={onCancel}>
          {t('studio.cancel')}
        </button>
      )}
    </div>
  );
}

/** The account's current password, asked again before a sensitive change. */
export function CurrentPasswordField({
  id,
  label,
  value,
  onChange,
  missing = false,
}: {
  id: string;
  label?: string;
  value: string;
  onChange: (value: string) => void;
  /** The form was sent with this field empty: say so rather than doing nothing. */
  missing?: boolean;
}) {
  const { t } = useTranslation();
  return (
    <FormField
      id={id}
      label={label ?? t('auth.fields.password')}
      type="password"
      autoComplete="current-password"
      required
      value={value}
      error={missing ? t('auth.validation.passwordRequired') : undefined}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}
