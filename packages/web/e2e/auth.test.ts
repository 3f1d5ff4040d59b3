import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tokenFromEmail, uniqueEmail, waitForEmail } from '../../server/src/modules/accounts/testing.js';
import { databaseBackends, storeBackends } from '../../server/src/testing/backends.js';
import { createTestApp, type TestApp } from '../../server/src/testing/test-app.js';
import { launchBrowser, screenshot } from './browser.js';

const webRoot = fileURLToPath(new URL('../dist', import.meta.url));

describe('account pages in Chromium', () => {
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

  it('signs up, confirms the address from the email, signs in and out', async () => {
    const email = uniqueEmail('web');
    const password = 'a sturdy passphrase 42';
    page = await browser.newPage({ locale: 'fr-FR' });
    await page.goto(`${origin}/sign-up`);
    await page.getByTestId('sign-up-name').fill('Leïla Haddad');
    await page.getByTestId('sign-up-email').fill(email);
    await page.getByTestId('sign-up-password').fill('short');
    await page.getByTestId('sign-up-confirm-password').fill('short');
    await page.getByTestId('sign-up-submit').click();
    await page.getByTestId('sign-up-password-error').waitFor();
    await page.getByTestId('sign-up-password').fill(password);
    await page.getByTestId('sign-up-confirm-password').fill(password);
    await page.getByTestId('sign-up-submit').click();
    await page.getByTestId('sign-up-success').waitFor();
    await screenshot(page, 'sign-up-done-fr');

    const mail = await waitForEmail(harness.app, { to: email, template: 'verify_email' });
    expect(mail.locale).toBe('fr');
    await page.goto(
      `${origin}/verify-email?token=${encodeURIComponent(tokenFromEmail(mail.text, '/verify-email'))}`,
    );
    await page.getByTestId('verifyEmail-success').waitFor();

    await page.goto(`${origin}/sign-in`);
    await page.getByTestId('sign-in-email').fill(email);
    await page.getByTestId('sign-in-password').fill('wrong password here');
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('sign-in-error').waitFor();
    await page.getByTestId('sign-in-password').fill(password);
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('account-menu').waitFor();
    expect(await page.getByTestId('header-account-name').textContent()).toContain('Leïla');
    await screenshot(page, 'signed-in-fr');

    // The session survives a reload (cookies), and signing out ends it.
    await page.reload();
    await page.getByTestId('account-menu').waitFor();
    await page.getByTestId('sign-out').click();
    await page.getByTestId('signed-out-menu').waitFor();
    const account = await page.request.get(`${origin}/api/account`);
    expect(account.status()).toBe(401);
  });

  it('resets a forgotten password from the emailed link, at phone width in Arabic', async () => {
    const email = uniqueEmail('reset');
    await harness.app.inject({
      method: 'POST',
      url: '/api/auth/sign-up',
      payload: { email, password: 'the first passphrase', name: 'Karim' },
    });
    page = await browser.newPage({ locale: 'ar', viewport: { width: 390, height: 844 } });
    await page.goto(`${origin}/forgot-password`);
    expect(await page.getAttribute('html', 'dir')).toBe('rtl');
    const before = new Date();
    await page.getByTestId('forgot-password-email').fill(email);
    await page.getByTestId('forgot-password-submit').click();
    await page.getByTestId('forgot-password-success').waitFor();
    const mail = await waitForEmail(harness.app, { to: email, template: 'reset_password', after: before });
    await page.goto(
      `${origin}/reset-password?token=${encodeURIComponent(tokenFromEmail(mail.text, '/reset-password'))}`,
    );
    await page.getByTestId('reset-password-password').fill('the second passphrase');
    await page.getByTestId('reset-password-confirm').fill('the second passphrase');
    await page.getByTestId('reset-password-submit').click();
    await page.getByTestId('reset-password-success').waitFor();
    await screenshot(page, 'reset-password-ar-390');

    await page.goto(`${origin}/sign-in`);
    await page.getByTestId('sign-in-email').fill(email);
    await page.getByTestId('sign-in-password').fill('the second passphrase');
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('account-menu').waitFor();
    await screenshot(page, 'signed-in-ar-390');
  });
});
