import { Link } from '@tanstack/react-router';
import { useTranslation } from 'react-i18next';
import { useDocumentTitle } from '../components/use-document-title';

export function NotFoundPage() {
  const { t } = useTranslation();
  useDocumentTitle(t('notFound.title'));
  return (
    <section
      aria-labelledby="not-found-title"
      data-testid="not-found"
      className="flex flex-col items-start gap-4"
    >
      <p className="font-mono text-sm font-semibold text-indigo-700 dark:text-indigo-300">404</p>
      <h1 id="not-found-title" className="text-2xl font-bold tracking-tight sm:text-3xl">
        {t('notFound.title')}
      </h1>
      <p className="text-slate-700 dark:text-slate-300">{t('notFound.body')}</p>
      <Link to="/" className="font-medium text-indigo-700 underline underline-offset-4 dark:text-indigo-300">
        {t('notFound.home')}
      </Link>
    </section>
  );
}
