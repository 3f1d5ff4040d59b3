import { useMutation } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { confirmEmailChange, requestPasswordReset, resetPassword, verifyEmail } from '../../api/auth';
import { FormField } from '../../components/form-field';
import {
  ErrorAlert,
  isEmail,
  minimumPasswordLength,
  PageHeading,
  primaryButtonClass,
  SuccessPanel,
  textLinkClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { signedInHome } from '../../session/paths';

/**
 * Spends a one-time token from an email link as soon as the page opens. The ref guards against React's
 * development double effects and re-renders: a second call would find the token already used.
 */
function useSpendTokenOnce(token: string | undefined, spend: (token: string) => Promise<void>) {
  const mutation = useMutation({ mutationFn: spend });
  const started = useRef(false);
  useEffect(() => {
    if (!token || started.current) return;
    started.current = true;
    mutation.mutate(token);
  }, [token, mutation]);
  return mutation;
}

function TokenOutcome({
  kind,
  token,
  spend,
}: {
  kind: 'verifyEmail' | 'confirmEmailChange';
  token: string | undefined;
  spend: (token: string) => Promise<void>;
}) {
  const { t } = useTranslation();
  useDocumentTitle(t(`auth.${kind}.title`));
  const explain = useErrorMessage();
  const mutation = useSpendTokenOnce(token, spend);
  return (
    <section aria-labelledby="token-title" className="flex max-w-xl flex-col gap-6">
      <PageHeading id="token-title" title={t(`auth.${kind}.title`)} />
      {!token && <ErrorAlert testId={`${kind}-error`}>{t('auth.missingToken')}</ErrorAlert>}
      {token && mutation.isPending && (
        <p role="status" className="text-slate-700 dark:text-slate-300">
          {t(`auth.${kind}.working`)}
        </p>
      )}
      {mutation.isError && <ErrorAlert testId={`${kind}-error`}>{explain(mutation.error)}</ErrorAlert>}
      {mutation.isSuccess && (
        <SuccessPanel testId={`${kind}-success`} title={t(`auth.${kind}.successTitle`)}>
          <p>{t(`auth.${kind}.successBody`)}</p>
        </SuccessPanel>
      )}
      <p>
        <Link to={signedInHome} className={textLinkClass}>
          {t('auth.continue')}
        </Link>
      </p>
    </section>
  );
}

export function VerifyEmailPage({ token }: { token: string | undefined }) {
  return <TokenOutcome kind="verifyEmail" token={token} spend={verifyEmail} />;
}

export function ConfirmEmailChangePage({ token }: { token: string | undefined }) {
  return <TokenOutcome kind="confirmEmailChange" token={token} spend={confirmEmailChange} />;
}

export function ForgotPasswordPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('auth.forgotPassword.title'));
  const explain = useErrorMessage();
  const [email, setEmail] = useState('');
  const [invalid, setInvalid] = useState(false);
  const mutation = useMutation({ mutationFn: requestPasswordReset });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const valid = isEmail(email);
    setInvalid(!valid);
    if (valid) mutation.mutate(email.trim());
  };

  return (
    <section aria-labelledby="forgot-title" className="flex max-w-xl flex-col gap-6">
      <PageHeading
        id="forgot-title"
        title={t('auth.forgotPassword.title')}
        intro={t('auth.forgotPassword.intro')}
      />
      {mutation.isError && <ErrorAlert testId="forgot-password-error">{explain(mutation.error)}</ErrorAlert>}
      {mutation.isSuccess ? (
        <SuccessPanel testId="forgot-password-success" title={t('auth.forgotPassword.successTitle')}>
          <p>{t('auth.forgotPassword.successBody')}</p>
        </SuccessPanel>
      ) : (
        <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5">
          <FormField
            id="forgot-password-email"
            label={t('auth.fields.email')}
            type="email"
            autoComplete="email"
            dir="ltr"
            required
            value={email}
            error={invalid ? t('auth.validation.emailInvalid') : undefined}
            onChange={(event) => setEmail(event.target.value)}
          />
          <button
            type="submit"
            data-testid="forgot-password-submit"
            disabled={mutation.isPending}
            className={`self-start ${primaryButtonClass}`}
          >
            {t('auth.forgotPassword.submit')}
          </button>
        </form>
      )}
      <p>
        <Link to="/sign-in" className={textLinkClass}>
          {t('auth.signUp.goToSignIn')}
        </Link>
      </p>
    </section>
  );
}

export function ResetPasswordPage({ token }: { token: string | undefined }) {
  const { t } = useTranslation();
  useDocumentTitle(t('auth.resetPassword.title'));
  const explain = useErrorMessage();
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [problem, setProblem] = useState<'passwordTooShort' | 'passwordsDiffer'>();
  const mutation = useMutation({ mutationFn: resetPassword });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!token) return;
    const found =
      password.length < minimumPasswordLength
        ? 'passwordTooShort'
        : confirmation !== password
          ? 'passwordsDiffer'
          : undefined;
    setProblem(found);
    if (!found) mutation.mutate({ token, password });
  };

  return (
    <section aria-labelledby="reset-title" className="flex max-w-xl flex-col gap-6">
      <PageHeading id="reset-title" title={t('auth.resetPassword.title')} />
      {!token && (
        <ErrorAlert testId="reset-password-error">
          {t('auth.missingToken')}{' '}
          <Link to="/forgot-password" className={textLinkClass}>
            {t('auth.forgotPassword.title')}
          </Link>
        </ErrorAlert>
      )}
      {mutation.isError && <ErrorAlert testId="reset-password-error">{explain(mutation.error)}</ErrorAlert>}
      {mutation.isSuccess ? (
        <SuccessPanel testId="reset-password-success" title={t('auth.resetPassword.successTitle')}>
          <p>
            <Link to="/sign-in" className={textLinkClass}>
              {t('auth.signUp.goToSignIn')}
            </Link>
          </p>
        </SuccessPanel>
      ) : (
        token && (
          <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5">
            <FormField
              id="reset-password-password"
              label={t('auth.fields.newPassword')}
              hint={t('auth.fields.passwordHint', { minimum: minimumPasswordLength })}
              type="password"
              autoComplete="new-password"
              required
              value={password}
              error={
                problem === 'passwordTooShort'
                  ? t('auth.validation.passwordTooShort', { minimum: minimumPasswordLength })
                  : undefined
              }
              onChange={(event) => setPassword(event.target.value)}
            />
            <FormField
              id="reset-password-confirm"
              label={t('auth.fields.confirmPassword')}
              type="password"
              autoComplete="new-password"
              required
              value={confirmation}
              error={problem === 'passwordsDiffer' ? t('auth.validation.passwordsDiffer') : undefined}
              onChange={(event) => setConfirmation(event.target.value)}
            />
            <button
              type="submit"
              data-testid="reset-password-submit"
              disabled={mutation.isPending}
              className={`self-start ${primaryButtonClass}`}
            >
              {t('auth.resetPassword.submit')}
            </button>
          </form>
        )
      )}
    </section>
  );
}
