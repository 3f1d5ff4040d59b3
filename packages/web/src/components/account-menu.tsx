import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAccount, useBalance, useSignOut } from '../session/use-session';

const linkClass =
  'rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-950 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white';

/** Credits are whole numbers; grouping digits the reader's way keeps large balances legible. */
export function useFormatCredits(): (credits: number) => string {
  const { i18n } = useTranslation();
  const format = new Intl.NumberFormat(i18n.resolvedLanguage ?? 'fr');
  return (credits) => format.format(credits);
}

/** The header's corner: who is signed in and their credits, or the ways to sign in. */
export function AccountMenu() {
  const { t } = useTranslation();
  const { account, isLoading } = useAccount();
  const balance = useBalance(Boolean(account));
  const formatCredits = useFormatCredits();

  if (isLoading) return null;
  if (!account) {
    return (
      <div className="flex items-center gap-1" data-testid="signed-out-menu">
        <Link to="/sign-in" className={`whitespace-nowrap ${linkClass}`}>
          {t('auth.signIn.title')}
        </Link>
        <Link
          to="/sign-up"
          className="hidden rounded-md bg-indigo-700 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-800 sm:block dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400"
        >
          {t('auth.signUp.title')}
        </Link>
      </div>
    );
  }

  return (
    <div className="flex items-center gap-2" data-testid="account-menu">
      {balance.data && (
        <p
          data-testid="header-balance"
          className="whitespace-nowrap rounded-full border border-slate-300 px-3 py-1 text-sm text-slate-800 dark:border-slate-600 dark:text-slate-200"
        >
          <span className="sr-only">{t('account.balanceLabel')} </span>
          {t('account.credits', { credits: formatCredits(balance.data.available) })}
        </p>
      )}
      <span
        data-testid="header-account-name"
        className="hidden max-w-40 truncate text-sm font-medium md:inline"
        title={account.email}
      >
        <bdi>{account.name || account.email}</bdi>
      </span>
      {/* On phones the sign-out button lives in the menu, where there is room for it. */}
      <SignOutButton className={`hidden lg:block ${linkClass}`} testId="sign-out" />
    </div>
  );
}

export function SignOutButton({ className, testId }: { className: string; testId: string }) {
  const { t } = useTranslation();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const [signingOut, setSigningOut] = useState(false);
  return (
    <button
      type="button"
      data-testid={testId}
      disabled={signingOut}
      className={`whitespace-nowrap text-start ${className}`}
      onClick={async () => {
        setSigningOut(true);
        try {
          await signOut();
          await navigate({ to: '/sign-in' });
        } finally {
          setSigningOut(false);
        }
      }}
    >
      {t('auth.signOut')}
    </button>
  );
}
