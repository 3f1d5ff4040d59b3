import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import { Marked } from 'marked';
import { memo, useEffect, useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import 'highlight.js/styles/github-dark.css';

// Only the languages models write most: the full highlight.js bundle would triple the studio's weight.
for (const [name, language] of Object.entries({
  bash,
  css,
  javascript,
  json,
  python,
  sql,
  typescript,
  xml,
})) {
  hljs.registerLanguage(name, language);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : undefined;
      const highlighted = language
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text);
      return `<pre dir="ltr"><code class="hljs${language ? ` language-${language}` : ''}">${highlighted}</code></pre>`;
    },
  },
});

/**
 * Model output is untrusted: it can contain HTML meant to run in the page. Markdown is rendered to HTML and then
 * sanitised by DOMPurify, which keeps formatting and drops scripts, event handlers and javascript: links.
 */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

/** An answer rendered as Markdown, with highlighted code blocks that each get a copy button. */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const { t } = useTranslation();
  const html = useMemo(() => renderMarkdown(text), [text]);
  const container = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const root = container.current;
    if (!root) return;
    for (const pre of root.querySelectorAll('pre')) {
      if (pre.parentElement?.dataset.codeBlock) continue;
      const wrapper = document.createElement('div');
      wrapper.dataset.codeBlock = 'true';
      wrapper.className = 'relative';
      pre.replaceWith(wrapper);
      wrapper.append(pre);
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.copyCode = 'true';
      button.className =
        'absolute end-2 top-2 rounded bg-slate-700 px-2 py-1 text-xs font-medium text-white hover:bg-slate-600';
      button.textContent = t('studio.copyCode');
      wrapper.append(button);
    }
  }, [t]);

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the clicks handled are those of the copy buttons inside.
    // biome-ignore lint/a11y/useKeyWithClickEvents: the copy buttons are real buttons, so keyboards reach them.
    <div
      ref={container}
      className="markdown-body"
      onClick={(event) => {
        const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-copy-code]');
        const code = button?.parentElement?.querySelector('code')?.textContent;
        if (!button || code === undefined || code === null) return;
        void navigator.clipboard?.writeText(code).then(() => {
          button.textContent = t('studio.copied');
          window.setTimeout(() => {
            button.textContent = t('studio.copyCode');
          }, 1500);
        });
      }}
      // biome-ignore lint/security/noDangerouslySetInnerHtml: sanitised by DOMPurify in renderMarkdown.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
});
