import { Link, useRouterState } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Account } from '../api/auth';
import { textLinkClass } from '../components/form-layout';
import { useAccount } from './use-session';

/** Renders its children for a signed-in person; visitors get a sign-in link that brings them back here. */
export function RequireAccount({ children }: { children: (account: Account) => ReactNode }) {
  const { t } = useTranslation();
  const { account, isLoading } = useAccount();
  const href = useRouterState({ select: (state) => state.location.href });
  if (isLoading) {
    return (
      <p role="status" className="text-slate-600 dark:text-slate-400">
        {t('auth.loading')}
      </p>
    );
  }
  if (!account) {
    return (
      <section data-testid="sign-in-required" className="flex max-w-xl flex-col gap-4">
        <h1 className="text-2xl font-bold tracking-tight">{t('auth.required.title')}</h1>
        <p className="text-slate-700 dark:text-slate-300">{t('auth.required.body')}</p>
        <p className="flex flex-wrap gap-4">
          <Link to="/sign-in" search={{ redirect: href }} className={textLinkClass}>
            {t('auth.signIn.title')}
          </Link>
          <Link to="/sign-up" className={textLinkClass}>
            {t('auth.signUp.title')}
          </Link>
        </p>
      </section>
    );
  }
  return <>{children(account)}</>;
}
