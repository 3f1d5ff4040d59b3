import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';

/** Server error codes the auth and account pages explain in the reader's language. */
const explainedCodes = [
  'validation_failed',
  'invalid_credentials',
  'two_factor_invalid',
  'token_invalid',
  'account_locked',
  'rate_limited',
  'conflict',
  'network_error',
] as const;
type ExplainedCode = (typeof explainedCodes)[number];

/** The translated explanation of a failed call (the server's own messages are English only). */
export function useErrorMessage(): (error: unknown) => string {
  const { t } = useTranslation();
  return (error) => {
    const code = error instanceof ApiError ? error.code : 'unknown';
    return (explainedCodes as readonly string[]).includes(code)
      ? t(`errors.${code as ExplainedCode}`)
      : t('errors.unknown');
  };
}

export function PageHeading({ id, title, intro }: { id: string; title: string; intro?: ReactNode }) {
  return (
    <div className="flex flex-col gap-3">
      <h1 id={id} className="text-2xl font-bold tracking-tight sm:text-3xl">
        {title}
      </h1>
      {intro && <p className="text-slate-700 dark:text-slate-300">{intro}</p>}
    </div>
  );
}

export function ErrorAlert({ testId, children }: { testId: string; children: ReactNode }) {
  return (
    <div
      role="alert"
      data-testid={testId}
      className="rounded-md border border-red-300 bg-red-50 p-4 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
    >
      {children}
    </div>
  );
}

export function SuccessPanel({
  testId,
  title,
  children,
}: {
  testId: string;
  title: string;
  children: ReactNode;
}) {
  return (
    <section
      role="status"
      data-testid={testId}
      className="flex flex-col gap-3 rounded-lg border border-emerald-300 bg-emerald-50 p-6 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100"
    >
      <h2 className="text-xl font-bold">{title}</h2>
      {children}
    </section>
  );
}

export const primaryButtonClass =
  'rounded-md bg-indigo-700 px-5 py-2.5 font-medium text-white hover:bg-indigo-800 disabled:cursor-wait disabled:opacity-70 dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400';
export const secondaryButtonClass =
  'rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-800 hover:bg-slate-100 disabled:opacity-60 dark:border-slate-600 dark:text-slate-100 dark:hover:bg-slate-800';
export const textLinkClass = 'font-medium text-indigo-700 underline underline-offset-4 dark:text-indigo-300';

/** A form's submit button on its own row, disabled with its pending label while the form is being sent. */
export function SubmitButton({
  testId,
  pending,
  label,
  pendingLabel,
}: {
  testId: string;
  pending: boolean;
  label: string;
  pendingLabel: string;
}) {
  return (
    <div>
      <button type="submit" data-testid={testId} disabled={pending} className={primaryButtonClass}>
        {pending ? pendingLabel : label}
      </button>
    </div>
  );
}

/** Asks once more before something that cannot be undone (revoking a key, leaving an organisation). */
export function DangerConfirmation({
  label,
  message,
  confirm,
  confirmTestId,
  pending,
  onConfirm,
  onCancel,
}: {
  label?: string;
  message: string;
  confirm: string;
  confirmTestId: string;
  pending: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  return (
    <fieldset
      aria-label={label}
      className="flex flex-col gap-2 rounded-md border border-red-300 bg-red-50 p-3 text-red-950 dark:border-red-800 dark:bg-red-950 dark:text-red-50"
    >
      <p>{message}</p>
      <div className="flex flex-wrap gap-2">
        <button
          type="button"
          data-testid={confirmTestId}
          disabled={pending}
          onClick={onConfirm}
          className="rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-800 disabled:opacity-60"
        >
          {confirm}
        </button>
        <button type="button" onClick={onCancel} className={`text-sm ${secondaryButtonClass}`}>
          {t('studio.cancel')}
        </button>
      </div>
    </fieldset>
  );
}

/** Must match the server's password rule; checked here too so people learn it before a round trip. */
export const minimumPasswordLength = 10;

export function isEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value.trim());
}
