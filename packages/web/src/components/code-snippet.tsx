import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';

/** A copyable code block; code stays left-to-right even inside an Arabic page. */
export function CodeSnippet({ code, label }: { code: string; label: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  // The clipboard API only exists on secure origins (https, localhost); elsewhere people select by hand.
  const canCopy = typeof navigator !== 'undefined' && navigator.clipboard !== undefined;

  useEffect(() => {
    if (!copied) return;
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);

  return (
    <figure className="overflow-hidden rounded-lg border border-slate-200 bg-slate-50 dark:border-slate-700 dark:bg-slate-900">
      <figcaption className="flex items-center justify-between gap-2 border-b border-slate-200 px-4 py-2 text-xs text-slate-600 dark:border-slate-700 dark:text-slate-400">
        <span>{label}</span>
        {canCopy && (
          <button
            type="button"
            className="rounded px-2 py-1 font-medium text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-slate-800"
            onClick={() => {
              navigator.clipboard.writeText(code).then(
                () => setCopied(true),
                () => setCopied(false),
              );
            }}
          >
            <span aria-live="polite">{copied ? t('code.copied') : t('code.copy')}</span>
          </button>
        )}
      </figcaption>
      <pre dir="ltr" className="overflow-x-auto p-4 text-start text-sm leading-relaxed">
        <code>{code}</code>
      </pre>
    </figure>
  );
}
