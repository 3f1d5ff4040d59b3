import { describe, expect, it } from 'vitest';
import { ensureAdmin } from '../../server/src/modules/accounts/service.js';
import { screenshot, serveWebApp, useBrowserSuite } from './browser.js';

describe('the web app in Chromium, served by the real server', () => {
  const suite = useBrowserSuite(serveWebApp);

  it('shows the shell with navigation and a live status badge, in French by default', async () => {
    const { origin } = suite;
    const page = await suite.newPage({ locale: 'fr-FR' });
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
    const { origin } = suite;
    const page = await suite.newPage({ locale: 'en-US' });
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
    const { harness, origin } = suite;
    const issued = await ensureAdmin(harness.database.db, {
      setupTokenTtlMinutes: 10,
      pubSub: harness.stores.pubSub,
    });
    if (issued.kind !== 'setup_token') throw new Error('expected a setup token');
    const page = await suite.newPage({ locale: 'en-US' });
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
    expect(
      (await ensureAdmin(harness.database.db, { setupTokenTtlMinutes: 10, pubSub: harness.stores.pubSub }))
        .kind,
    ).toBe('exists');
  });

  it('answers an unknown page with the app not-found page, and an unknown API path with JSON', async () => {
    const { origin } = suite;
    const page = await suite.newPage();
    await page.goto(`${origin}/no/such/page`);
    await page.getByTestId('not-found').waitFor();
    const api = await page.request.get(`${origin}/api/no-such-thing`);
    expect(api.status()).toBe(404);
    expect((await api.json()).error.code).toBe('not_found');
  });
});
