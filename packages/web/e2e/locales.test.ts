import { randomUUID } from 'node:crypto';
import { readChunksFixture } from '@webox/gateway/testing';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signUpAndSignIn } from '../../server/src/modules/accounts/testing.js';
import { postEntry } from '../../server/src/modules/billing/index.js';
import { testPaymentsConfig } from '../../server/src/modules/payments/testing/harness.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { flatTranslations } from '../src/i18n/flat.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { sendInStudio, signInInPage } from './flows.js';

const resources = flatTranslations;

/**
 * What a page shows a person (visible text nodes) and tells a screen reader (labels, placeholders, titles,
 * alternative text). A string: this file is type-checked without the DOM library.
 */
const collectTexts = `(() => {
  const texts = [];
  const visible = (element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    return style.visibility !== 'hidden' && style.display !== 'none' && (box.width > 0 || box.height > 0);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.closest('script, style, pre, code, [data-i18n-ignore]')) continue;
    if (parent.closest('.sr-only') || visible(parent)) texts.push(text);
  }
  for (const element of document.querySelectorAll('[placeholder], [aria-label], [title], img[alt]')) {
    for (const name of ['placeholder', 'aria-label', 'title', 'alt']) {
      const value = element.getAttribute(name)?.trim();
      if (value) texts.push(value);
    }
  }
  texts.push(document.title);
  return texts;
})()`;

/** An English resource as a whole-string pattern, its interpolations matching anything. */
function patternOf(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{\\\{\s*\w+\s*\\\}\\\}/g, '.+?');
  return new RegExp(`^${escaped}$`, 's');
}

/**
 * Strings of the other languages (English, or French through i18next's fallback) that this language would never
 * show, and translation keys themselves: what a page leaks when a translation is missing or text is hard-coded.
 */
function leaksIn(language: 'fr' | 'en' | 'ar') {
  const own = new Set(resources[language].values());
  const foreign = (['en', 'fr', 'ar'] as const)
    .filter((other) => other !== language)
    .flatMap((other) => [...resources[other].values()].map((text) => ({ other, text })))
    // Skipped: texts with markup (split over elements), and those with too few words of their own to tell apart.
    .filter(
      ({ text }) => !own.has(text) && !/<\w+>/.test(text) && /\p{L}{3}/u.test(text.replace(/{{.*?}}/g, '')),
    )
    .map(({ other, text }) => ({ other, pattern: patternOf(text) }));
  const keys = new Set(resources.en.keys());
  return (texts: string[]) =>
    texts.flatMap((text) => {
      if (keys.has(text) || /^[a-z][a-zA-Z]*(\.[a-zA-Z0-9_]+){1,4}$/.test(text)) return [`raw key: ${text}`];
      const leaked = foreign.find((candidate) => candidate.pattern.test(text));
      return leaked ? [`${leaked.other}: ${text}`] : [];
    });
}

/** What a reader sees: Intl separates with no-break spaces and marks Arabic amounts with direction marks. */
const plain = (text: string | null) => (text ?? '').replace(/\s+/g, ' ').replace(/[\u200e\u200f\u061c]/g, '');

/** A balance of 1,234,567 credits and a price of 1,000 dinars, as people in Algeria write them. */
const amounts = {
  fr: { credits: '1 234 567 crédits', dinars: '1 000 DA' },
  en: { credits: '1,234,567 credits', dinars: 'DZD 1,000' },
  ar: { credits: '1.234.567 رصيد', dinars: '1.000 د.ج.' },
};

/** Sideways scrolling means something sticks out of the page. */
async function expectNoSidewaysScroll(page: Page, what: string) {
  const overflow = await page.evaluate<number>(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  );
  expect(overflow, what).toBeLessThanOrEqual(0);
}

interface Visit {
  name: string;
  path: string;
  /** What shows once the page has loaded its data. */
  ready: string;
  signedIn: boolean;
}

describe('every page in French, English and Arabic, in Chromium', () => {
  const suite = useBrowserSuite(async () => {
    const harness = await startGatewayHarness(backendPairs()[0]!);
    harness.app.payments.publicUrl = harness.origin;
    harness.app.payments.config = testPaymentsConfig;
    return harness;
  });

  /** An account with credits, a key, an organisation, a conversation and a pending bank transfer. */
  async function furnishedAccount() {
    const { harness } = suite;
    const person = await signUpAndSignIn(harness.app, { name: 'Nour Benali' });
    const wallet = await harness.app.billing.userWallet(person.userId);
    await postEntry(harness.app.db, {
      walletId: wallet.id,
      kind: 'grant',
      amount: 1_234_567,
      idempotencyKey: `e2e-locales-${randomUUID()}`,
    });
    const post = (url: string, payload: object) =>
      harness.app.inject({ method: 'POST', url, headers: person.headers, payload });
    expect((await post('/api/keys', { name: 'Robot factures' })).statusCode).toBe(201);
    const organization = await post('/api/organizations', { name: 'Atelier Nord' });
    expect(organization.statusCode).toBe(201);
    const intent = await post('/api/payments/intents', {
      packId: 'starter',
      currency: 'DZD',
      provider: 'bank_transfer',
    });
    expect(intent.statusCode, intent.body).toBe(201);
    return {
      person,
      organizationId: organization.json().organization.id as string,
      intentId: intent.json().id as string,
    };
  }

  async function signedIn(locale: string, person: { email: string; password: string }): Promise<Page> {
    const page = await suite.newPage({ locale, viewport: { width: 1280, height: 900 } });
    await signInInPage(page, suite.origin, person.email, person.password);
    await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
    return page;
  }

  it.each([
    ['fr', 'fr-DZ'],
    ['en', 'en-US'],
    ['ar', 'ar-DZ'],
  ] as const)(
    'shows every page in %s with no raw key and no text of another language',
    async (language, locale) => {
      const { harness } = suite;
      const { person, organizationId, intentId } = await furnishedAccount();
      const anonymous = await suite.newPage({ locale, viewport: { width: 1280, height: 900 } });
      const page = await signedIn(locale, person);
      // One conversation, answered by the local fake provider.
      harness.primary.enqueue({
        kind: 'sse',
        events: readChunksFixture(
          new URL(
            '../../gateway/src/providers/openai-compatible/__fixtures__/text.chunks.txt',
            import.meta.url,
          ),
        ),
      });
      await page.goto(`${suite.origin}/studio`);
      await sendInStudio(page, 'Bonjour');
      await page.getByTestId('message-assistant').waitFor();
      const studio = `${new URL(page.url()).pathname}${new URL(page.url()).search}`;

      const visits: Visit[] = [
        { name: 'sign-in', path: '/sign-in', ready: 'sign-in-submit', signedIn: false },
        { name: 'sign-up', path: '/sign-up', ready: 'sign-up-submit', signedIn: false },
        {
          name: 'forgot-password',
          path: '/forgot-password',
          ready: 'forgot-password-submit',
          signedIn: false,
        },
        {
          name: 'reset-password',
          path: '/reset-password?token=x',
          ready: 'reset-password-submit',
          signedIn: false,
        },
        { name: 'setup', path: '/setup', ready: 'setup-missing-token', signedIn: false },
        { name: 'not-found', path: '/no/such/page', ready: 'not-found', signedIn: false },
        { name: 'home', path: '/', ready: 'home-studio-link', signedIn: true },
        { name: 'studio', path: studio, ready: 'message-assistant', signedIn: true },
        { name: 'credits', path: '/credits', ready: 'credits-balance', signedIn: true },
        { name: 'buy-credits', path: '/credits/buy', ready: 'buy-form', signedIn: true },
        { name: 'payments', path: '/payments', ready: 'payments-list', signedIn: true },
        {
          name: 'payment-result',
          path: `/payments/${intentId}/success`,
          ready: 'payment-pending',
          signedIn: true,
        },
        { name: 'keys', path: '/keys', ready: 'key-item', signedIn: true },
        {
          name: 'organizations',
          path: `/organizations?id=${organizationId}`,
          ready: 'organization-details',
          signedIn: true,
        },
        { name: 'profile', path: '/settings/profile', ready: 'preferences-language', signedIn: true },
        { name: 'security', path: '/settings/security', ready: 'two-factor-off', signedIn: true },
      ];

      const leaks = leaksIn(language);
      const problems: string[] = [];
      for (const visit of visits) {
        const target = visit.signedIn ? page : anonymous;
        await target.goto(`${suite.origin}${visit.path}`);
        await target.getByTestId(visit.ready).first().waitFor();
        await expect.poll(() => target.getAttribute('html', 'lang')).toBe(language);
        expect(await target.getAttribute('html', 'dir')).toBe(language === 'ar' ? 'rtl' : 'ltr');
        await expectNoSidewaysScroll(target, visit.name);
        await screenshot(target, `locale-${visit.name}-${language}`);
        if (language === 'ar') {
          // Right to left is where phones clip and overlap first.
          await target.setViewportSize({ width: 390, height: 844 });
          await expectNoSidewaysScroll(target, `${visit.name} at 390 px`);
          await screenshot(target, `locale-${visit.name}-ar-390`);
          await target.setViewportSize({ width: 1280, height: 900 });
        }
        if (visit.name === 'buy-credits') {
          expect(plain(await target.getByTestId('header-balance').textContent())).toContain(
            amounts[language].credits,
          );
          expect(plain(await target.getByTestId('buy-submit').textContent())).toContain(
            amounts[language].dinars,
          );
        }
        for (const problem of leaks(await target.evaluate<string[]>(collectTexts))) {
          problems.push(`${visit.name}: ${problem}`);
        }
      }
      expect(problems).toEqual([]);
    },
    120_000,
  );
});
