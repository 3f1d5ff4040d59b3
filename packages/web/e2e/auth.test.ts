import { describe, expect, it } from 'vitest';
import { tokenFromEmail, uniqueEmail, waitForEmail } from '../../server/src/modules/accounts/testing.js';
import { screenshot, serveWebApp, useBrowserSuite } from './browser.js';
import { password, signInInPage } from './flows.js';

describe('account pages in Chromium', () => {
  const suite = useBrowserSuite(serveWebApp);

  it('signs up, confirms the address from the email, signs in and out', async () => {
    const { origin, harness } = suite;
    const email = uniqueEmail('web');
    const page = await suite.newPage({ locale: 'fr-FR' });
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

    await signInInPage(page, origin, email, 'wrong password here');
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
    const { origin, harness } = suite;
    const email = uniqueEmail('reset');
    await harness.app.inject({
      method: 'POST',
      url: '/api/auth/sign-up',
      payload: { email, password: 'the first passphrase', name: 'Karim' },
    });
    const page = await suite.newPage({ locale: 'ar', viewport: { width: 390, height: 844 } });
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

    await signInInPage(page, origin, email, 'the second passphrase');
    await page.getByTestId('account-menu').waitFor();
    await screenshot(page, 'signed-in-ar-390');
  });
});
