import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAccount, useBalance, useSignOut } from '../session/use-session';
import { useFormatNumber } from './use-format-number';

const linkClass =
  'rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-950 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white';

/** The header's corner: who is signed in and their credits, or the ways to sign in. */
export function AccountMenu() {
  const { t } = useTranslation();
  const { account, isLoading } = useAccount();
  const balance = useBalance(Boolean(account));
  const formatCredits = useFormatNumber();

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
      <Link
        to="/settings/profile"
        data-testid="header-account-name"
        className={`hidden max-w-44 items-center gap-1.5 md:flex ${linkClass}`}
        title={t('nav.accountSettings', { name: account.name || account.email })}
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" className="size-4 shrink-0">
          <path
            fill="none"
            stroke="currentColor"
            strokeWidth="1.8"
            d="M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7.5 7.5 0 0 0-2-1.2L14.5 3h-4l-.4 2.6a7.5 7.5 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7.5 7.5 0 0 0 2 1.2l.4 2.6h4l.4-2.6a7.5 7.5 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2Z"
          />
        </svg>
        <span className="sr-only">{t('nav.settings')}: </span>
        {/* Below 1536 px the gear alone leaves room for the navigation in every language. */}
        <bdi className="hidden truncate 2xl:inline">{account.name || account.email}</bdi>
      </Link>
      {/* Below 1280 px the sign-out button lives in the menu, where there is room for it. */}
      <SignOutButton className={`hidden xl:block ${linkClass}`} testId="sign-out" />
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
