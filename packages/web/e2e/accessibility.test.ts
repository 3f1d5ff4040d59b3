import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signUpAndSignIn } from '../../server/src/modules/accounts/testing.js';
import { testPaymentsConfig } from '../../server/src/modules/payments/testing/harness.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { signInInPage } from './flows.js';

/** Roles a person operates, which a screen reader can only announce by their accessible name. */
const namedRoles = new Set([
  'button',
  'checkbox',
  'combobox',
  'link',
  'listbox',
  'menuitem',
  'radio',
  'searchbox',
  'slider',
  'spinbutton',
  'switch',
  'tab',
  'textbox',
  'date',
  'DateTime',
  'InputTime',
]);

interface AxNode {
  ignored: boolean;
  role?: { value: string };
  name?: { value: string };
  backendDOMNodeId?: number;
}

/** Controls whose accessible name (as Chromium computes it for screen readers) is empty. */
async function controlsWithoutName(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Accessibility.enable');
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AxNode[] };
    const unnamed: string[] = [];
    for (const node of nodes) {
      const role = node.role?.value ?? '';
      if (node.ignored || !namedRoles.has(role) || (node.name?.value ?? '').trim() !== '') continue;
      const { node: element } = (await cdp.send('DOM.describeNode', {
        backendNodeId: node.backendDOMNodeId!,
      })) as { node: { localName: string; attributes?: string[] } };
      const attributes = element.attributes ?? [];
      const attribute = (name: string) => {
        const index = attributes.indexOf(name);
        return index >= 0 && index % 2 === 0 ? attributes[index + 1] : undefined;
      };
      unnamed.push(
        `${role} <${element.localName}> ${attribute('data-testid') ?? attribute('id') ?? attribute('type') ?? ''}`.trim(),
      );
    }
    return unnamed;
  } finally {
    await cdp.detach();
  }
}

/** The focused element, and whether it shows a focus indicator (an outline or a ring). */
const focusState = `(() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow !== 'none';
  const label = element.getAttribute('data-testid') || element.id || element.getAttribute('aria-label')
    || element.textContent.trim().slice(0, 30) || element.tagName;
  return { label: element.tagName.toLowerCase() + ' ' + label, visible: outline || ring };
})()`;

/** Tabs through the whole page from the top: every stop must show where the focus is. */
async function focusStopsWithoutIndicator(page: Page): Promise<string[]> {
  await page.evaluate('document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)');
  const invisible: string[] = [];
  const seen = new Set<string>();
  for (let step = 0; step < 80; step += 1) {
    await page.keyboard.press('Tab');
    const state = await page.evaluate<{ label: string; visible: boolean } | null>(focusState);
    if (!state) break;
    if (seen.has(state.label) && step > 0 && state.label === [...seen][0]) break; // wrapped around
    seen.add(state.label);
    if (!state.visible) invisible.push(state.label);
  }
  return invisible;
}

/**
 * Error messages on the page that a screen reader would not announce: each must sit in a live region
 * (role alert or status, or aria-live) so it is read out when it appears.
 */
const unannouncedErrors = `(() => {
  const errors = [...document.querySelectorAll('[data-testid$="-error"]')].filter(
    (element) => element.getClientRects().length > 0,
  );
  return errors
    .filter((element) => !element.closest('[role="alert"], [role="status"], [aria-live]:not([aria-live="off"])'))
    .map((element) => element.getAttribute('data-testid'));
})()`;

const visibleErrorCount = `document.querySelectorAll('[data-testid$="-error"]').length`;

interface Audit {
  name: string;
  path: string;
  ready: string;
  signedIn: boolean;
  /** Submits the page's form with mistakes, so its error messages show. */
  provoke?: (page: Page) => Promise<void>;
}

describe('accessibility basics on the main pages, in French', () => {
  const suite = useBrowserSuite(async () => {
    const harness = await startGatewayHarness(backendPairs()[0]!);
    harness.app.payments.publicUrl = harness.origin;
    harness.app.payments.config = testPaymentsConfig;
    return harness;
  });

  const audits: Audit[] = [
    {
      name: 'sign-in',
      path: '/sign-in',
      ready: 'sign-in-submit',
      signedIn: false,
      provoke: (page) => page.getByTestId('sign-in-submit').click(),
    },
    {
      name: 'sign-up',
      path: '/sign-up',
      ready: 'sign-up-submit',
      signedIn: false,
      provoke: (page) => page.getByTestId('sign-up-submit').click(),
    },
    {
      name: 'forgot-password',
      path: '/forgot-password',
      ready: 'forgot-password-submit',
      signedIn: false,
      provoke: (page) => page.getByTestId('forgot-password-submit').click(),
    },
    { name: 'home', path: '/', ready: 'home-studio-link', signedIn: true },
    { name: 'studio', path: '/studio', ready: 'composer-input', signedIn: true },
    { name: 'credits', path: '/credits', ready: 'credits-balance', signedIn: true },
    { name: 'buy-credits', path: '/credits/buy', ready: 'buy-form', signedIn: true },
    {
      name: 'keys',
      path: '/keys',
      ready: 'keys-empty',
      signedIn: true,
      provoke: async (page) => {
        await page.getByTestId('key-rpm').fill('abc');
        await page.getByTestId('create-key-submit').click();
      },
    },
    {
      name: 'organizations',
      path: '/organizations',
      ready: 'organizations-empty',
      signedIn: true,
      provoke: (page) => page.getByTestId('create-organization-submit').click(),
    },
    { name: 'profile', path: '/settings/profile', ready: 'preferences-language', signedIn: true },
    {
      name: 'security',
      path: '/settings/security',
      ready: 'two-factor-off',
      signedIn: true,
      provoke: async (page) => {
        await page.getByTestId('password-new').fill('a new long passphrase');
        await page.getByTestId('password-confirm').fill('a new long passphrase');
        await page.getByTestId('password-submit').click();
      },
    },
  ];

  it('names every control, shows focus at every tab stop, and announces every error message', async () => {
    const { harness, origin } = suite;
    const person = await signUpAndSignIn(harness.app, { name: 'Amina' });
    const anonymous = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    await signInInPage(page, origin, person.email, person.password);
    await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));

    const problems: string[] = [];
    for (const audit of audits) {
      const target = audit.signedIn ? page : anonymous;
      await target.goto(`${origin}${audit.path}`);
      await target.getByTestId(audit.ready).first().waitFor();
      for (const control of await controlsWithoutName(target))
        problems.push(`${audit.name}: no name: ${control}`);
      const current = await target.locator('[data-testid="main-nav"] [aria-current="page"]').count();
      if (current > 1)
        problems.push(`${audit.name}: ${current} navigation links say they are the current page`);
      for (const stop of await focusStopsWithoutIndicator(target))
        problems.push(`${audit.name}: focus not visible: ${stop}`);
      if (audit.provoke) {
        await audit.provoke(target);
        // A form sent with mistakes must say what is wrong, not stay silent.
        const shown = await target
          .waitForFunction(`${visibleErrorCount} > 0`, undefined, { timeout: 5_000 })
          .then(
            () => true,
            () => false,
          );
        if (!shown) problems.push(`${audit.name}: a form sent with mistakes says nothing`);
        for (const error of await target.evaluate<string[]>(unannouncedErrors))
          problems.push(`${audit.name}: error not announced: ${error}`);
        for (const control of await controlsWithoutName(target))
          problems.push(`${audit.name} (with errors): no name: ${control}`);
        await screenshot(target, `a11y-${audit.name}-errors-fr`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('sets lang and dir on the document when the language switcher changes the language', async () => {
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    await page.goto(`${suite.origin}/sign-in`);
    for (const [language, direction] of [
      ['ar', 'rtl'],
      ['en', 'ltr'],
      ['fr', 'ltr'],
    ] as const) {
      await page.getByTestId('language-switcher').selectOption(language);
      await expect.poll(() => page.getAttribute('html', 'lang')).toBe(language);
      expect(await page.getAttribute('html', 'dir')).toBe(direction);
      // The switcher itself is named in the language now shown.
      expect(await controlsWithoutName(page)).toEqual([]);
    }
  });
});
