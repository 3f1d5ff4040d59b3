import { useMutation } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { signUp } from '../../api/auth';
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
import { isSupportedLanguage } from '../../i18n/languages';

type Problem = 'emailInvalid' | 'passwordTooShort' | 'passwordsDiffer';

export function SignUpPage() {
  const { t, i18n } = useTranslation();
  useDocumentTitle(t('auth.signUp.title'));
  const explain = useErrorMessage();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [problems, setProblems] = useState<Partial<Record<'email' | 'password' | 'confirmation', Problem>>>(
    {},
  );
  const mutation = useMutation({ mutationFn: signUp });

  if (mutation.isSuccess) {
    return (
      <div className="flex max-w-xl flex-col gap-6">
        <SuccessPanel testId="sign-up-success" title={t('auth.signUp.successTitle')}>
          <p>
            <Trans
              i18nKey="auth.signUp.successBody"
              values={{ email: email.trim() }}
              components={{ email: <bdi className="font-semibold" /> }}
            />
          </p>
          <p>
            <Link to="/sign-in" className={textLinkClass}>
              {t('auth.signUp.goToSignIn')}
            </Link>
          </p>
        </SuccessPanel>
      </div>
    );
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    const found: typeof problems = {};
    if (!isEmail(email)) found.email = 'emailInvalid';
    if (password.length < minimumPasswordLength) found.password = 'passwordTooShort';
    if (confirmation !== password) found.confirmation = 'passwordsDiffer';
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    const language = i18n.resolvedLanguage;
    mutation.mutate({
      name: name.trim(),
      email: email.trim(),
      password,
      // Emails from the server come in the language the person signed up in.
      locale: isSupportedLanguage(language) ? language : 'fr',
    });
  }

  const problemText = (problem: Problem | undefined) =>
    problem ? t(`auth.validation.${problem}`, { minimum: minimumPasswordLength }) : undefined;

  return (
    <section aria-labelledby="sign-up-title" className="flex max-w-xl flex-col gap-6">
      <PageHeading id="sign-up-title" title={t('auth.signUp.title')} intro={t('auth.signUp.intro')} />
      {mutation.isError && <ErrorAlert testId="sign-up-error">{explain(mutation.error)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5" aria-busy={mutation.isPending}>
        <FormField
          id="sign-up-name"
          label={t('auth.fields.name')}
          autoComplete="name"
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <FormField
          id="sign-up-email"
          label={t('auth.fields.email')}
          type="email"
          autoComplete="email"
          dir="ltr"
          required
          value={email}
          error={problemText(problems.email)}
          onChange={(event) => setEmail(event.target.value)}
        />
        <FormField
          id="sign-up-password"
          label={t('auth.fields.password')}
          hint={t('auth.fields.passwordHint', { minimum: minimumPasswordLength })}
          type="password"
          autoComplete="new-password"
          required
          value={password}
          error={problemText(problems.password)}
          onChange={(event) => setPassword(event.target.value)}
        />
        <FormField
          id="sign-up-confirm-password"
          label={t('auth.fields.confirmPassword')}
          type="password"
          autoComplete="new-password"
          required
          value={confirmation}
          error={problemText(problems.confirmation)}
          onChange={(event) => setConfirmation(event.target.value)}
        />
        <button
          type="submit"
          data-testid="sign-up-submit"
          disabled={mutation.isPending}
          className={`self-start ${primaryButtonClass}`}
        >
          {mutation.isPending ? t('auth.signUp.submitting') : t('auth.signUp.submit')}
        </button>
      </form>
      <p className="text-slate-700 dark:text-slate-300">
        {t('auth.signUp.haveAccount')}{' '}
        <Link to="/sign-in" className={textLinkClass}>
          {t('auth.signIn.title')}
        </Link>
      </p>
    </section>
  );
}
