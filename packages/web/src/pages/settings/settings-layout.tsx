import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { useErrorMessage } from '../../components/form-layout';

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
            <li>
              <Link
                to="/settings/profile"
                data-testid="settings-profile-tab"
                className={tabClass}
                activeProps={{ className: activeTabClass, 'aria-current': 'page' }}
              >
                {t('settings.profile.title')}
              </Link>
            </li>
            <li>
              <Link
                to="/settings/security"
                data-testid="settings-security-tab"
                className={tabClass}
                activeProps={{ className: activeTabClass, 'aria-current': 'page' }}
              >
                {t('settings.security.title')}
              </Link>
            </li>
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
    if (error instanceof ApiError && error.code === 'conflict' && conflictMessage) return conflictMessage;
    if (error instanceof ApiError && error.status === 413) return t('settings.errors.tooLarge');
    if (error instanceof ApiError && (error.status === 415 || error.code === 'image_invalid'))
      return t('settings.errors.imageType');
    return explain(error);
  };
}
