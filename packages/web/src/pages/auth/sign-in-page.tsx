import { useMutation } from '@tanstack/react-query';
import { Link, useRouter } from '@tanstack/react-router';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { completeTwoFactorSignIn, type SignInResult, signIn } from '../../api/auth';
import { FormField } from '../../components/form-field';
import {
  ErrorAlert,
  PageHeading,
  primaryButtonClass,
  secondaryButtonClass,
  textLinkClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { safeRedirect } from '../../session/paths';
import { useSignedIn } from '../../session/use-session';

export function SignInPage({ redirect }: { redirect: string | undefined }) {
  const { t } = useTranslation();
  useDocumentTitle(t('auth.signIn.title'));
  const explain = useErrorMessage();
  const router = useRouter();
  const recordSignIn = useSignedIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [challengeToken, setChallengeToken] = useState<string>();
  // Set when the form is sent with a field left empty: it says so instead of doing nothing.
  const [missing, setMissing] = useState<{ email?: boolean; password?: boolean; code?: boolean }>({});
  const codeRef = useRef<HTMLInputElement>(null);

  const finish = (result: SignInResult) => {
    if (result.status === 'two_factor_required') {
      setChallengeToken(result.challengeToken);
      return;
    }
    recordSignIn(result.user);
    // A full path with its query (the page that sent the person here), hence the history, not `navigate`.
    router.history.push(safeRedirect(redirect));
  };
  const passwordStep = useMutation({ mutationFn: signIn, onSuccess: finish });
  const codeStep = useMutation({ mutationFn: completeTwoFactorSignIn, onSuccess: finish });

  // The code field appears after the password step: move there so keyboard users can type at once.
  useEffect(() => {
    if (challengeToken) codeRef.current?.focus();
  }, [challengeToken]);

  if (challengeToken) {
    const onSubmitCode = (event: FormEvent) => {
      event.preventDefault();
      setMissing({ code: code.trim() === '' });
      if (code.trim() !== '') codeStep.mutate({ challengeToken, code: code.trim() });
    };
    return (
      <section aria-labelledby="two-factor-title" className="flex max-w-xl flex-col gap-6">
        <PageHeading
          id="two-factor-title"
          title={t('auth.twoFactor.title')}
          intro={t('auth.twoFactor.intro')}
        />
        {codeStep.isError && <ErrorAlert testId="two-factor-error">{explain(codeStep.error)}</ErrorAlert>}
        <form noValidate onSubmit={onSubmitCode} className="flex flex-col gap-5">
          <FormField
            ref={codeRef}
            id="two-factor-code"
            label={t('auth.twoFactor.code')}
            hint={t('auth.twoFactor.codeHint')}
            autoComplete="one-time-code"
            inputMode="text"
            dir="ltr"
            required
            value={code}
            error={missing.code ? t('auth.validation.codeRequired') : undefined}
            onChange={(event) => setCode(event.target.value)}
          />
          <div className="flex flex-wrap gap-3">
            <button
              type="submit"
              data-testid="two-factor-submit"
              disabled={codeStep.isPending}
              className={primaryButtonClass}
            >
              {t('auth.twoFactor.submit')}
            </button>
            <button
              type="button"
              className={secondaryButtonClass}
              onClick={() => {
                setChallengeToken(undefined);
                setCode('');
                codeStep.reset();
              }}
            >
              {t('auth.twoFactor.back')}
            </button>
          </div>
        </form>
      </section>
    );
  }

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const found = { email: email.trim() === '', password: password === '' };
    setMissing(found);
    if (found.email || found.password) return;
    passwordStep.mutate({ email: email.trim(), password });
  };

  return (
    <section aria-labelledby="sign-in-title" className="flex max-w-xl flex-col gap-6">
      <PageHeading id="sign-in-title" title={t('auth.signIn.title')} intro={t('auth.signIn.intro')} />
      {passwordStep.isError && <ErrorAlert testId="sign-in-error">{explain(passwordStep.error)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5" aria-busy={passwordStep.isPending}>
        <FormField
          id="sign-in-email"
          label={t('auth.fields.email')}
          type="email"
          autoComplete="email"
          dir="ltr"
          required
          value={email}
          error={missing.email ? t('auth.validation.emailRequired') : undefined}
          onChange={(event) => setEmail(event.target.value)}
        />
        <FormField
          id="sign-in-password"
          label={t('auth.fields.password')}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          error={missing.password ? t('auth.validation.passwordRequired') : undefined}
          onChange={(event) => setPassword(event.target.value)}
        />
        <div className="flex flex-wrap items-center gap-4">
          <button
            type="submit"
            data-testid="sign-in-submit"
            disabled={passwordStep.isPending}
            className={primaryButtonClass}
          >
            {passwordStep.isPending ? t('auth.signIn.submitting') : t('auth.signIn.submit')}
          </button>
          <Link to="/forgot-password" className={textLinkClass}>
            {t('auth.signIn.forgot')}
          </Link>
        </div>
      </form>
      <p className="text-slate-700 dark:text-slate-300">
        {t('auth.signIn.noAccount')}{' '}
        <Link to="/sign-up" className={textLinkClass}>
          {t('auth.signUp.title')}
        </Link>
      </p>
    </section>
  );
}
