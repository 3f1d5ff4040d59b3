import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../../server/src/modules/accounts/service.js';
import { databaseBackends, storeBackends } from '../../server/src/testing/backends.js';
import { createTestApp, type TestApp } from '../../server/src/testing/test-app.js';
import { launchBrowser, screenshot } from './browser.js';

const webRoot = fileURLToPath(new URL('../dist', import.meta.url));

describe('the web app in Chromium, served by the real server', () => {
  let harness: TestApp;
  let browser: Browser;
  let origin: string;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(`${webRoot}/index.html`))
      throw new Error('packages/web/dist is missing: npm test builds it first');
    harness = await createTestApp(
      { database: databaseBackends()[0]!, stores: storeBackends()[0]! },
      {},
      { webRoot },
    );
    await harness.app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  afterEach(async (context) => {
    if (page && context.task.result?.state === 'fail')
      await screenshot(page, `failed-${context.task.name.replace(/\W+/g, '-')}`);
    await page?.close();
  });

  it('shows the shell with navigation and a live status badge, in French by default', async () => {
    page = await browser.newPage({ locale: 'fr-FR' });
    await page.goto(origin);
    await expect.poll(() => page.getAttribute('html', 'lang')).toBe('fr');
    expect(await page.getAttribute('html', 'dir')).toBe('ltr');
    await page.getByTestId('main-nav').waitFor();
    // The badge reflects /ready of the real server.
    await expect
      .poll(() => page.getByTestId('status-badge').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('operational');
    await screenshot(page, 'home-fr');
  });

  it('switches the whole layout to right-to-left in Arabic and remembers the choice', async () => {
    page = await browser.newPage({ locale: 'en-US' });
    await page.goto(origin);
    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    expect(await page.getAttribute('html', 'lang')).toBe('ar');
    // The navigation now sits on the right: its start edge is the page's right side.
    const nav = await page.getByTestId('main-nav').boundingBox();
    const width = page.viewportSize()!.width;
    expect(nav!.x + nav!.width).toBeGreaterThan(width / 2);
    await screenshot(page, 'home-ar');
    await page.reload();
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
  });

  it('creates the first administrator through the one-time setup link', async () => {
    const issued = await ensureAdmin(harness.database.db, { setupTokenTtlMinutes: 10 });
    if (issued.kind !== 'setup_token') throw new Error('expected a setup token');
    page = await browser.newPage({ locale: 'en-US' });
    await page.goto(`${origin}/setup?token=${issued.token}`);
    await page.getByTestId('setup-name').fill('Amina Benali');
    await page.getByTestId('setup-email').fill('amina@example.com');
    await page.getByTestId('setup-password').fill('short');
    await page.getByTestId('setup-confirm-password').fill('short');
    await page.getByTestId('setup-submit').click();
    await page.getByTestId('setup-password-error').waitFor();
    await page.getByTestId('setup-password').fill('a long enough password');
    await page.getByTestId('setup-confirm-password').fill('a long enough password');
    await page.getByTestId('setup-submit').click();
    await page.getByTestId('setup-success').waitFor();
    await screenshot(page, 'setup-done');
    expect((await ensureAdmin(harness.database.db, { setupTokenTtlMinutes: 10 })).kind).toBe('exists');
  });

  it('answers an unknown page with the app not-found page, and an unknown API path with JSON', async () => {
    page = await browser.newPage();
    await page.goto(`${origin}/no/such/page`);
    await page.getByTestId('not-found').waitFor();
    const api = await page.request.get(`${origin}/api/no-such-thing`);
    expect(api.status()).toBe(404);
    expect((await api.json()).error.code).toBe('not_found');
  });
});
