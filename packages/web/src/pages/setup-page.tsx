import { useMutation } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type ChangeEvent, type FormEvent, useEffect, useRef, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { type CreateAdministratorOptions, createAdministrator } from '../api/setup';
import { FormField } from '../components/form-field';
import { useDocumentTitle } from '../components/use-document-title';

const fields = ['name', 'email', 'password', 'confirmPassword'] as const;
type Field = (typeof fields)[number];

/** Element ids, also the `data-testid`s browser tests use. */
const fieldIds: Record<Field, string> = {
  name: 'setup-name',
  email: 'setup-email',
  password: 'setup-password',
  confirmPassword: 'setup-confirm-password',
};
type FieldErrors = Partial<Record<Field, FieldProblem>>;
type FieldProblem = 'nameRequired' | 'emailInvalid' | 'passwordTooShort' | 'passwordsDiffer';

/** Must match the server's rule; checked here too so people learn it before a round trip. */
const minimumPasswordLength = 10;

// The server's messages are English; people get our translation of what each field needs instead.
const problemForServerField: Partial<Record<string, FieldProblem>> = {
  name: 'nameRequired',
  email: 'emailInvalid',
  password: 'passwordTooShort',
};

const knownErrorCodes = [
  'validation_failed',
  'setup_token_invalid',
  'admin_exists',
  'rate_limited',
  'network_error',
] as const;
type KnownErrorCode = (typeof knownErrorCodes)[number];

function validate(values: Record<Field, string>): FieldErrors {
  const errors: FieldErrors = {};
  if (values.name.trim() === '') errors.name = 'nameRequired';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim())) errors.email = 'emailInvalid';
  if (values.password.length < minimumPasswordLength) errors.password = 'passwordTooShort';
  if (values.confirmPassword !== values.password) errors.confirmPassword = 'passwordsDiffer';
  return errors;
}

/** `body.password`, `/password` and `["password"]` (joined) all name the same field. */
function fieldOfServerPath(path: string): string {
  return path.split(/[./]/).filter(Boolean).at(-1) ?? '';
}

/**
 * A malformed token (the server checks its length) is a broken link to the person holding it, not a form
 * mistake they can fix, so it is reported like an unknown token.
 */
function effectiveErrorCode(error: ApiError): string {
  const tokenRejected = error.details.some((detail) => fieldOfServerPath(detail.path) === 'token');
  return error.code === 'validation_failed' && tokenRejected ? 'setup_token_invalid' : error.code;
}

function MissingToken() {
  const { t } = useTranslation();
  return (
    <section
      aria-labelledby="setup-missing-title"
      data-testid="setup-missing-token"
      className="flex max-w-2xl flex-col gap-4"
    >
      <h1 id="setup-missing-title" className="text-2xl font-bold tracking-tight sm:text-3xl">
        {t('setup.missingToken.title')}
      </h1>
      <p className="text-slate-700 dark:text-slate-300">
        <Trans
          i18nKey="setup.missingToken.body"
          values={{ link: `${window.location.origin}/setup?token=…` }}
          components={{
            code: <code dir="ltr" className="break-all rounded bg-slate-100 px-1 dark:bg-slate-800" />,
          }}
        />
      </p>
      <p className="text-slate-700 dark:text-slate-300">
        <Trans
          i18nKey="setup.missingToken.environment"
          components={{ code: <code dir="ltr" className="rounded bg-slate-100 px-1 dark:bg-slate-800" /> }}
        />
      </p>
    </section>
  );
}

function SetupSuccess({ email }: { email: string }) {
  const { t } = useTranslation();
  const sectionRef = useRef<HTMLElement>(null);
  // Focus moves here once, so keyboard and screen reader users learn the outcome at once.
  useEffect(() => sectionRef.current?.focus(), []);
  return (
    <section
      aria-labelledby="setup-success-title"
      data-testid="setup-success"
      className="flex max-w-2xl flex-col gap-4 rounded-lg border border-emerald-300 bg-emerald-50 p-6 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100"
      tabIndex={-1}
      ref={sectionRef}
    >
      <h1 id="setup-success-title" className="text-2xl font-bold tracking-tight">
        {t('setup.success.title')}
      </h1>
      <p>
        <Trans
          i18nKey="setup.success.body"
          values={{ email }}
          components={{ email: <bdi className="font-semibold" /> }}
        />
      </p>
      <p>
        <Link to="/" className="font-medium underline underline-offset-4">
          {t('setup.success.home')}
        </Link>
      </p>
    </section>
  );
}

export function SetupPage({ token }: { token: string | undefined }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  useDocumentTitle(t('setup.title'));
  const formRef = useRef<HTMLFormElement>(null);
  const [values, setValues] = useState<Record<Field, string>>({
    name: '',
    email: '',
    password: '',
    confirmPassword: '',
  });
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  // Set with new errors, consumed once the inputs are enabled again: a disabled input cannot take focus.
  const [focusRequested, setFocusRequested] = useState(false);

  const mutation = useMutation({
    mutationFn: (options: CreateAdministratorOptions) => createAdministrator(options),
    onSuccess: () => {
      // The token is spent: drop it from the address bar and history so it is not shared or bookmarked.
      void navigate({ to: '/setup', search: {}, replace: true });
    },
    onError: (error) => {
      if (!(error instanceof ApiError) || error.code !== 'validation_failed') return;
      const errors: FieldErrors = {};
      for (const detail of error.details) {
        const field = fieldOfServerPath(detail.path);
        const problem = problemForServerField[field];
        if (problem) errors[field as Field] = problem;
      }
      setFieldErrors(errors);
      setFocusRequested(true);
    },
  });

  useEffect(() => {
    if (!focusRequested || mutation.isPending) return;
    setFocusRequested(false);
    const first = fields.find((field) => fieldErrors[field]);
    if (first) formRef.current?.querySelector<HTMLInputElement>(`#${fieldIds[first]}`)?.focus();
  }, [focusRequested, fieldErrors, mutation.isPending]);

  if (mutation.isSuccess) return <SetupSuccess email={mutation.data.email} />;
  if (!token) return <MissingToken />;

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!token || mutation.isPending) return;
    const errors = validate(values);
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) {
      mutation.reset();
      setFocusRequested(true);
      return;
    }
    mutation.mutate({
      token,
      name: values.name.trim(),
      email: values.email.trim(),
      password: values.password,
    });
  }

  const errorCode = mutation.error instanceof ApiError ? effectiveErrorCode(mutation.error) : 'unknown';
  const generalError = mutation.isError
    ? t(
        `setup.errors.${(knownErrorCodes as readonly string[]).includes(errorCode) ? (errorCode as KnownErrorCode) : 'unknown'}`,
      )
    : undefined;
  const fieldError = (field: Field) => {
    const problem = fieldErrors[field];
    return problem ? t(`setup.validation.${problem}`, { minimum: minimumPasswordLength }) : undefined;
  };
  const bind = (field: Field) => ({
    id: fieldIds[field],
    value: values[field],
    onChange: (event: ChangeEvent<HTMLInputElement>) =>
      setValues((current) => ({ ...current, [field]: event.target.value })),
    error: fieldError(field),
    disabled: mutation.isPending,
  });

  return (
    <section aria-labelledby="setup-title" className="flex max-w-xl flex-col gap-6">
      <div className="flex flex-col gap-3">
        <h1 id="setup-title" className="text-2xl font-bold tracking-tight sm:text-3xl">
          {t('setup.title')}
        </h1>
        <p className="text-slate-700 dark:text-slate-300">{t('setup.intro')}</p>
      </div>
      {generalError && (
        <div
          role="alert"
          data-testid="setup-error"
          data-code={errorCode}
          className="rounded-md border border-red-300 bg-red-50 p-4 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
        >
          {generalError}
        </div>
      )}
      <form
        ref={formRef}
        noValidate
        onSubmit={onSubmit}
        data-testid="setup-form"
        aria-busy={mutation.isPending}
        className="flex flex-col gap-5"
      >
        <FormField label={t('setup.fields.name')} autoComplete="name" required {...bind('name')} />
        <FormField
          label={t('setup.fields.email')}
          type="email"
          autoComplete="email"
          dir="ltr"
          required
          {...bind('email')}
        />
        <FormField
          label={t('setup.fields.password')}
          hint={t('setup.fields.passwordHint', { minimum: minimumPasswordLength })}
          type="password"
          autoComplete="new-password"
          minLength={minimumPasswordLength}
          required
          {...bind('password')}
        />
        <FormField
          label={t('setup.fields.confirmPassword')}
          type="password"
          autoComplete="new-password"
          required
          {...bind('confirmPassword')}
        />
        <button
          type="submit"
          data-testid="setup-submit"
          disabled={mutation.isPending}
          className="self-start rounded-md bg-indigo-700 px-5 py-2.5 font-medium text-white hover:bg-indigo-800 disabled:cursor-wait disabled:opacity-70 dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400"
        >
          {mutation.isPending ? t('setup.submitting') : t('setup.submit')}
        </button>
      </form>
    </section>
  );
}
