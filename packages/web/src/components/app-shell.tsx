import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { TwoFactorEnrolmentRedirect } from '../session/two-factor-enrolment';
import { useAccount } from '../session/use-session';
import { setTheme } from '../theme';
import { AccountMenu, SignOutButton } from './account-menu';
import { LanguageSwitcher } from './language-switcher';
import { Logo } from './logo';

const navigationLinkClass =
  'block whitespace-nowrap rounded-md px-3 py-2 xl:px-2.5 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-950 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white';
const activeNavigationLinkClass = 'bg-slate-100 text-slate-950 dark:bg-slate-800 dark:text-white';

/** `inHeader`: the one-line navigation of wide screens, where a signed-in person reaches home through the logo. */
function NavigationLinks({ onNavigate, inHeader = false }: { onNavigate?: () => void; inHeader?: boolean }) {
  const { t } = useTranslation();
  const { account } = useAccount();
  return (
    <ul className="flex flex-col gap-1 xl:flex-row xl:items-center">
      <li hidden={inHeader && Boolean(account)}>
        <Link
          to="/"
          onClick={onNavigate}
          className={navigationLinkClass}
          activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
          activeOptions={{ exact: true }}
        >
          {t('nav.home')}
        </Link>
      </li>
      {account && (
        <>
          <li>
            <Link
              to="/studio"
              onClick={onNavigate}
              className={navigationLinkClass}
              activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
            >
              {t('nav.studio')}
            </Link>
          </li>
          <li>
            <Link
              to="/credits"
              onClick={onNavigate}
              className={navigationLinkClass}
              activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
              // /credits/buy has its own entry: only one link may say it is the current page.
              activeOptions={{ exact: true }}
            >
              {t('nav.credits')}
            </Link>
          </li>
          <li>
            <Link
              to="/credits/buy"
              onClick={onNavigate}
              data-testid="nav-buy-credits"
              className={navigationLinkClass}
              activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
            >
              {t('payments.buyLink')}
            </Link>
          </li>
          <li>
            <Link
              to="/keys"
              onClick={onNavigate}
              data-testid="nav-keys"
              className={navigationLinkClass}
              activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
            >
              {t('nav.keys')}
            </Link>
          </li>
          <li>
            <Link
              to="/organizations"
              onClick={onNavigate}
              data-testid="nav-organizations"
              className={navigationLinkClass}
              activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
              activeOptions={{ includeSearch: false }}
            >
              {t('nav.organizations')}
            </Link>
          </li>
          {onNavigate && (
            <li>
              <Link
                to="/settings/profile"
                onClick={onNavigate}
                data-testid="nav-settings"
                className={navigationLinkClass}
                activeProps={{ className: activeNavigationLinkClass, 'aria-current': 'page' }}
              >
                {t('nav.settings')}
              </Link>
            </li>
          )}
        </>
      )}
      <li>
        {/* The reference is served by the server, outside the SPA: a plain link loads it for real. */}
        <a href="/docs" className={navigationLinkClass}>
          {t('nav.apiReference')}
        </a>
      </li>
    </ul>
  );
}

export function AppShell() {
  const { t } = useTranslation();
  const [menuOpen, setMenuOpen] = useState(false);
  const menuId = useId();
  const pathname = useRouterState({ select: (state) => state.location.pathname });
  const { account } = useAccount();

  // The account's theme follows the person from device to device.
  useEffect(() => {
    if (account) setTheme(account.theme);
  }, [account]);

  // A menu left open over the next page hides its content on small screens.
  // biome-ignore lint/correctness/useExhaustiveDependencies: closing is the reaction to a new path.
  useEffect(() => setMenuOpen(false), [pathname]);

  const menuButtonRef = useRef<HTMLButtonElement>(null);
  // Escape closes the menu and gives focus back to its button, as keyboard users expect of a disclosure.
  useEffect(() => {
    if (!menuOpen) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setMenuOpen(false);
      menuButtonRef.current?.focus();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [menuOpen]);

  return (
    <div className="flex min-h-dvh flex-col bg-white text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <a
        href="#main-content"
        className="sr-only focus:not-sr-only focus:absolute focus:start-3 focus:top-3 focus:z-50 focus:rounded-md focus:bg-indigo-700 focus:px-4 focus:py-2 focus:text-white"
      >
        {t('shell.skipToContent')}
      </a>
      <header className="border-b border-slate-200 dark:border-slate-800">
        <div className="mx-auto flex max-w-7xl items-center gap-3 px-4 py-3">
          <Link to="/" className="rounded-md text-slate-950 dark:text-white" aria-label={t('shell.homeLink')}>
            <Logo />
          </Link>
          <nav
            aria-label={t('shell.mainNavigation')}
            data-testid="main-nav"
            className="hidden xl:ms-4 xl:block"
          >
            <NavigationLinks inHeader />
          </nav>
          <div className="ms-auto flex items-center gap-2">
            <AccountMenu />
            <div className="hidden xl:block">
              <LanguageSwitcher />
            </div>
            <button
              ref={menuButtonRef}
              type="button"
              className="rounded-md p-2 text-slate-700 hover:bg-slate-100 xl:hidden dark:text-slate-200 dark:hover:bg-slate-800"
              aria-expanded={menuOpen}
              aria-controls={menuId}
              data-testid="menu-button"
              onClick={() => setMenuOpen((open) => !open)}
            >
              <span className="sr-only">{menuOpen ? t('shell.closeMenu') : t('shell.openMenu')}</span>
              <svg aria-hidden="true" viewBox="0 0 24 24" className="size-6">
                <path
                  fill="none"
                  stroke="currentColor"
                  strokeWidth="2"
                  strokeLinecap="round"
                  d={menuOpen ? 'M6 6l12 12M18 6L6 18' : 'M4 7h16M4 12h16M4 17h16'}
                />
              </svg>
            </button>
          </div>
        </div>
        {menuOpen && (
          <nav
            id={menuId}
            aria-label={t('shell.mainNavigation')}
            data-testid="mobile-nav"
            className="border-t border-slate-200 px-4 py-2 xl:hidden dark:border-slate-800"
          >
            <NavigationLinks onNavigate={() => setMenuOpen(false)} />
            {/* Phones have no room for these in the header bar. */}
            <div className="mt-2 flex flex-col gap-2 border-t border-slate-200 pt-3 dark:border-slate-800">
              <LanguageSwitcher />
              {account && (
                <SignOutButton
                  testId="mobile-sign-out"
                  className="rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
                />
              )}
            </div>
          </nav>
        )}
      </header>
      <main
        id="main-content"
        tabIndex={-1}
        className="mx-auto w-full max-w-5xl flex-1 px-4 py-8 focus:outline-none"
      >
        <TwoFactorEnrolmentRedirect />
        <Outlet />
      </main>
      <footer className="border-t border-slate-200 dark:border-slate-800">
        <p className="mx-auto max-w-5xl px-4 py-6 text-sm text-slate-600 dark:text-slate-400">
          {t('shell.footer')}
        </p>
      </footer>
    </div>
  );
}
