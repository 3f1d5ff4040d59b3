import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';

/** Copies `text` to the clipboard; says so for two seconds (announced to screen readers). */
export function CopyButton({
  text,
  label,
  className,
  testId,
}: {
  text: string;
  label: string;
  className: string;
  testId?: string;
}) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);
  // The clipboard API only exists on secure origins (https, localhost); elsewhere people select by hand.
  if (typeof navigator === 'undefined' || navigator.clipboard === undefined) return null;
  return (
    <button
      type="button"
      data-testid={testId}
      className={className}
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        );
      }}
    >
      <span aria-live="polite">{copied ? t('code.copied') : label}</span>
    </button>
  );
}
