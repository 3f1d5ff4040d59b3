import { Link } from '@tanstack/react-router';
import { useTranslation } from 'react-i18next';
import { CodeSnippet } from '../components/code-snippet';
import { textLinkClass } from '../components/form-layout';
import { StatusBadge } from '../components/status-badge';
import { useDocumentTitle } from '../components/use-document-title';
import { useAccount } from '../session/use-session';

function openAiExample(origin: string): string {
  return `import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: '${origin}/v1',
  apiKey: process.env.WEBOX_API_KEY,
});

const completion = await client.chat.completions.create({
  model: 'gpt-4o-mini', // or any model or alias this server routes
  messages: [{ role: 'user', content: 'Bonjour !' }],
});
console.log(completion.choices[0].message.content);`;
}

const features = ['gateway', 'credits', 'studio'] as const;

export function HomePage() {
  const { t } = useTranslation();
  useDocumentTitle(t('nav.home'));
  const { account } = useAccount();
  return (
    <div className="flex flex-col gap-12">
      <section aria-labelledby="home-title" className="flex flex-col items-start gap-5">
        <StatusBadge />
        <h1 id="home-title" className="max-w-3xl text-3xl font-bold tracking-tight text-balance sm:text-4xl">
          {t('home.title')}
        </h1>
        <p className="max-w-2xl text-lg text-slate-700 dark:text-slate-300">{t('home.intro')}</p>
        <div className="flex flex-wrap gap-3">
          {account && (
            <>
              <Link
                to="/studio"
                data-testid="home-studio-link"
                className="rounded-md bg-indigo-700 px-4 py-2 font-medium text-white hover:bg-indigo-800 dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400"
              >
                {t('home.signedIn.studio')}
              </Link>
              <Link
                to="/keys"
                data-testid="home-keys-link"
                className="rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-100 dark:hover:bg-slate-800"
              >
                {t('home.signedIn.keys')}
              </Link>
            </>
          )}
          <a
            href="/docs"
            className={
              account
                ? 'rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-100 dark:hover:bg-slate-800'
                : 'rounded-md bg-indigo-700 px-4 py-2 font-medium text-white hover:bg-indigo-800 dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400'
            }
          >
            {t('home.apiReference')}
          </a>
          <a
            href="/openapi.json"
            className="rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-100 dark:hover:bg-slate-800"
          >
            {t('home.openApiDocument')}
          </a>
        </div>
      </section>

      <section aria-labelledby="features-title">
        <h2 id="features-title" className="sr-only">
          {t('home.featuresTitle')}
        </h2>
        <ul className="grid gap-4 md:grid-cols-3">
          {features.map((feature) => (
            <li
              key={feature}
              className="rounded-lg border border-slate-200 p-5 dark:border-slate-800 dark:bg-slate-900/40"
            >
              <h3 className="font-semibold">{t(`home.features.${feature}.title`)}</h3>
              <p className="mt-2 text-slate-700 dark:text-slate-300">{t(`home.features.${feature}.body`)}</p>
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="developers-title" className="flex flex-col gap-4">
        <h2 id="developers-title" className="text-2xl font-bold tracking-tight">
          {t('home.developers.title')}
        </h2>
        <p className="max-w-2xl text-slate-700 dark:text-slate-300">
          {t('home.developers.body')}{' '}
          {account && (
            <Link to="/keys" className={textLinkClass}>
              {t('home.signedIn.keys')}
            </Link>
          )}
        </p>
        <CodeSnippet code={openAiExample(window.location.origin)} label={t('home.developers.snippetLabel')} />
      </section>
    </div>
  );
}
