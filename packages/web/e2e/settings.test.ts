import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { accountsContext } from '../../server/src/modules/accounts/context.js';
import { updateSecurityPolicy } from '../../server/src/modules/accounts/policy.js';
import { passwordBudget, signInThrottle } from '../../server/src/modules/accounts/sign-in-throttle.js';
import { users } from '../../server/src/modules/accounts/tables.js';
import { codeFromEmail, uniqueEmail, waitForEmail } from '../../server/src/modules/accounts/testing.js';
import { hashToken } from '../../server/src/modules/accounts/tokens.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { password, signInInPage, signUpInPage } from './flows.js';

/** A 2×2 red PNG, enough for the server to decode and re-encode. */
const tinyPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);

/** Starts set-up on the security page, types the app's code, and clears the backup codes; returns the secret. */
async function enrolInPage(page: Page): Promise<{ secret: string; codes: string[] }> {
  await page.getByTestId('two-factor-start').click();
  await page.getByTestId('two-factor-qr').waitFor();
  const secret = (await page.getByTestId('two-factor-secret').textContent())!.trim();
  await page.getByTestId('two-factor-enable-code').fill(await generate({ secret }));
  await page.getByTestId('two-factor-enable-password').fill(password);
  await page.getByTestId('two-factor-enable').click();
  await page.getByTestId('backup-codes').waitFor();
  const codes = await page.getByTestId('backup-code').allTextContents();
  await page.getByTestId('backup-codes-done').click();
  await page.getByTestId('two-factor-on').waitFor();
  return { secret, codes };
}

describe('account settings in Chromium', () => {
  const suite = useBrowserSuite(() => startGatewayHarness(backendPairs()[0]!));

  it('turns on two-step verification from the QR page, shows the backup codes once, and asks for a code at the next sign-in', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('totp');
    await signUpInPage(page, harness, email);
    await page.getByTestId('header-account-name').click();
    await page.getByTestId('settings-security-tab').click();
    await page.getByTestId('two-factor-off').waitFor();
    await page.getByTestId('sessions-list').getByTestId('session-item').first().waitFor();

    await page.getByTestId('two-factor-start').click();
    await page.getByTestId('two-factor-qr').waitFor();
    expect(await page.getByTestId('two-factor-qr').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = (await page.getByTestId('two-factor-secret').textContent())!.trim();
    await screenshot(page, 'security-two-factor-setup-fr');
    // The header holds the whole navigation from 1280 px, the menu button below: nothing sticks out of the page.
    for (const language of ['ar', 'fr']) {
      await page.getByTestId('language-switcher').selectOption(language);
      for (const width of [1024, 1280]) {
        await page.setViewportSize({ width, height: 900 });
        expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      }
    }

    await page.getByTestId('two-factor-enable-code').fill('000000');
    await page.getByTestId('two-factor-enable-password').fill(password);
    await page.getByTestId('two-factor-enable').click();
    await page.getByTestId('two-factor-enable-error').waitFor();
    await page.getByTestId('two-factor-enable-code').fill(await generate({ secret }));
    await page.getByTestId('two-factor-enable').click();
    await page.getByTestId('backup-codes').waitFor();
    const codes = await page.getByTestId('backup-code').allTextContents();
    expect(codes).toHaveLength(10);
    await screenshot(page, 'security-backup-codes-fr');
    await page.getByTestId('backup-codes-done').click();
    await page.getByTestId('two-factor-on').waitFor();
    expect(await page.content()).not.toContain(codes[0]!);

    await page.getByTestId('sign-out').click();
    await page.waitForURL('**/sign-in');
    await signInInPage(page, harness.origin, email);
    await page.getByTestId('two-factor-code').waitFor();
    // The enrolment code cannot be replayed: the next 30-second step's code is accepted within tolerance.
    await page
      .getByTestId('two-factor-code')
      .fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByTestId('two-factor-submit').click();
    await page.getByTestId('composer-input').waitFor();

    await page.goto(`${harness.origin}/settings/security`);
    await page.getByTestId('two-factor-on').waitFor();
    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    await screenshot(page, 'security-ar');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'security-ar-390');
  });

  it('turns two-step verification on and off with a code sent by email on an account without a password', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('oauth-only');
    await signUpInPage(page, harness, email);
    // As if it had signed up with Google or GitHub: there is no password to ask for.
    await harness.app.db.update(users).set({ passwordHash: null }).where(eq(users.email, email));
    const emailedCode = async (after: Date) =>
      codeFromEmail(
        (await waitForEmail(harness.app, { to: email, template: 'two_factor_code', after })).text,
      );

    await page.goto(`${harness.origin}/settings/security`);
    await page.getByTestId('two-factor-start').click();
    const secret = (await page.getByTestId('two-factor-secret').textContent())!.trim();
    expect(await page.getByTestId('two-factor-enable-password').count()).toBe(0);
    await page.getByTestId('two-factor-enable-code').fill(await generate({ secret }));
    await page.getByTestId('two-factor-enable').click();
    // Without the emailed code nothing is sent: the field says what is missing.
    await page.getByText('Enter the code.').waitFor();
    const asked = new Date();
    await page.getByTestId('two-factor-enable-email-code-send').click();
    await page.getByTestId('two-factor-enable-email-code-sent').waitFor();
    const enableCode = await emailedCode(asked);
    await page.getByTestId('two-factor-enable-email-code').fill('abcde-23456');
    await page.getByTestId('two-factor-enable').click();
    await page.getByTestId('two-factor-enable-error').getByText('This emailed code is not right').waitFor();
    await page.getByTestId('two-factor-enable-email-code').fill(enableCode);
    await screenshot(page, 'security-two-factor-email-code-en');
    await page.getByTestId('two-factor-enable').click();
    await page.getByTestId('backup-codes').waitFor();
    const codes = await page.getByTestId('backup-code').allTextContents();
    await page.getByTestId('backup-codes-done').click();
    await page.getByTestId('two-factor-on').waitFor();

    await page.getByTestId('two-factor-disable-start').click();
    expect(await page.getByTestId('two-factor-disable-password').count()).toBe(0);
    await page.getByTestId('two-factor-disable-code').fill(codes[0]!);
    const askedAgain = new Date();
    await page.getByTestId('two-factor-disable-email-code-send').click();
    await page.getByTestId('two-factor-disable-email-code-sent').waitFor();
    await page.getByTestId('two-factor-disable-email-code').fill(await emailedCode(askedAgain));
    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    await screenshot(page, 'security-two-factor-email-code-off-ar');
    await page.getByTestId('two-factor-disable').click();
    await page.getByTestId('two-factor-disabled').waitFor();
  });

  it('edits the profile and preferences, uploads an avatar, and schedules then cancels the deletion', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
    await signUpInPage(page, harness, uniqueEmail('profile'));
    await page.goto(`${harness.origin}/settings`);
    await page.waitForURL('**/settings/profile');

    await page.getByTestId('profile-name').fill('Yacine Benali');
    await page.getByTestId('profile-save').click();
    await page.getByTestId('profile-saved').waitFor();

    await page
      .getByTestId('avatar-input')
      .setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: tinyPng });
    await page.getByTestId('avatar-image').waitFor();
    const avatar = await page.request.get(
      `${harness.origin}${await page.getByTestId('avatar-image').getAttribute('src')}`,
    );
    expect(avatar.headers()['content-type']).toBe('image/webp');

    await page.getByTestId('notify-marketing').check();
    await page.getByTestId('notifications-save').click();
    await page.getByTestId('notifications-saved').waitFor();

    await page.getByTestId('theme-dark').check();
    await page.getByTestId('preferences-time-zone').selectOption('Africa/Algiers');
    await page.getByTestId('preferences-save').click();
    await page.getByTestId('preferences-saved').waitFor();
    await expect.poll(() => page.getAttribute('html', 'data-theme')).toBe('dark');

    const account = (await (await page.request.get(`${harness.origin}/api/account`)).json()).user;
    expect(account).toMatchObject({
      name: 'Yacine Benali',
      theme: 'dark',
      timeZone: 'Africa/Algiers',
      notificationPreferences: { marketing: true },
    });
    await screenshot(page, 'profile-dark-fr-390');

    await page.getByTestId('deletion-start').click();
    await page.getByTestId('delete-password').fill('not my password');
    await page.getByTestId('deletion-confirm').click();
    await page.getByTestId('deletion-error').waitFor();
    await page.getByTestId('delete-password').fill(password);
    await page.getByTestId('deletion-confirm').click();
    await page.getByTestId('deletion-scheduled').waitFor();
    await page.getByTestId('deletion-cancel').click();
    await page.getByTestId('deletion-cancelled').waitFor();
    const after = (await (await page.request.get(`${harness.origin}/api/account`)).json()).user;
    expect(after.deletionScheduledFor).toBeNull();

    await page.getByTestId('theme-light').check();
    await page.getByTestId('preferences-language').selectOption('ar');
    await page.getByTestId('preferences-save').click();
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    await screenshot(page, 'profile-ar-390');
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, 'profile-ar');
  });

  it('spends one attempt of the password budget on a wrong password, and renews an expired session once', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('one-attempt');
    await signUpInPage(page, harness, email);
    await page.goto(`${harness.origin}/settings`);
    await page.waitForURL('**/settings/profile');
    const calls: string[] = [];
    page.on('request', (request) => {
      const { pathname } = new URL(request.url());
      if (pathname === '/api/account/deletion' || pathname === '/api/auth/refresh')
        calls.push(`${request.method()} ${pathname}`);
    });

    await page.getByTestId('deletion-start').click();
    await page.getByTestId('delete-password').fill('not my password');
    await page.getByTestId('deletion-confirm').click();
    await page.getByTestId('deletion-error').waitFor();
    // The refusal is the answer: the page neither renews the session nor sends the wrong password a second time.
    expect(calls).toEqual(['POST /api/account/deletion']);
    // On the server, one attempt of the ten before the lock is gone (the probe takes the second, then gives it back).
    const budget = passwordBudget(accountsContext(harness.app));
    const probe = await budget.take(hashToken(email));
    await budget.giveBack(hashToken(email));
    expect(probe.remaining).toBe(signInThrottle(accountsContext(harness.app)).lockAfter - 2);

    // The short-lived access cookie runs out while the page stays open: renewed once, the call sent again once.
    calls.length = 0;
    await page.getByTestId('delete-password').fill(password);
    await page.context().clearCookies({ name: 'webox_access' });
    await page.getByTestId('deletion-confirm').click();
    await page.getByTestId('deletion-scheduled').waitFor();
    expect(calls).toEqual([
      'POST /api/account/deletion',
      'POST /api/auth/refresh',
      'POST /api/account/deletion',
    ]);
    await page.getByTestId('deletion-cancel').click();
    await page.getByTestId('deletion-cancelled').waitFor();
  });

  it('tells the last administrator why their account cannot be deleted', async () => {
    const { harness, origin } = suite;
    const page = await suite.newPage({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('last-admin');
    await signUpInPage(page, harness, email);
    await harness.database.db.update(users).set({ role: 'user' }).where(eq(users.role, 'admin'));
    await harness.database.db.update(users).set({ role: 'admin' }).where(eq(users.email, email));
    await page.goto(`${origin}/settings/profile`);
    await page.getByTestId('deletion-start').click();
    await page.getByTestId('delete-password').fill(password);
    await page.getByTestId('deletion-confirm').click();
    await page.getByTestId('deletion-error').waitFor();
    expect(await page.getByTestId('deletion-error').textContent()).toContain('last administrator');
    expect(await page.getByTestId('deletion-scheduled').count()).toBe(0);
  });

  it('takes staff who must use two-step verification to its set-up from any page, until it is on', async () => {
    const { harness, origin } = suite;
    const page = await suite.newPage({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('staff');
    await signUpInPage(page, harness, email);
    const [admin] = await harness.database.db
      .update(users)
      .set({ role: 'admin' })
      .where(eq(users.email, email))
      .returning({ id: users.id });
    await updateSecurityPolicy(harness.app.db, { requireTwoFactorForStaff: true, actorId: admin!.id });
    try {
      // An open page learns it from the first refused call; a new visit from the account itself.
      await page.getByTestId('nav-keys').click();
      await page.waitForURL('**/settings/security');
      await page.getByTestId('two-factor-required').waitFor();
      for (const path of ['/studio', '/credits', '/settings/profile']) {
        await page.goto(`${origin}${path}`);
        await page.waitForURL('**/settings/security');
      }
      await page.getByTestId('two-factor-required').waitFor();
      const refused = await page.request.get(`${origin}/api/studio/conversations`);
      expect(refused.status()).toBe(403);
      expect((await refused.json()).error.code).toBe('two_factor_required');
      await screenshot(page, 'security-two-factor-required-en');

      // Signing in again lands on the set-up too, not on the studio.
      await page.getByTestId('sign-out').click();
      await page.waitForURL('**/sign-in');
      await signInInPage(page, origin, email);
      await page.waitForURL('**/settings/security');
      await page.getByTestId('two-factor-required').waitFor();

      await enrolInPage(page);
      expect(await page.getByTestId('two-factor-required').count()).toBe(0);
      await page.getByTestId('nav-keys').click();
      await page.waitForURL('**/keys');
      expect((await page.request.get(`${origin}/api/studio/conversations`)).status()).toBe(200);
    } finally {
      await updateSecurityPolicy(harness.app.db, { requireTwoFactorForStaff: false, actorId: admin!.id });
    }
  });

  it("shows dates in the account's time zone, not the browser's", async () => {
    const { harness, origin } = suite;
    // The browser says Los Angeles (UTC-8); the account lives in Kiritimati (UTC+14): a day apart.
    const page = await suite.newPage({ locale: 'fr-FR', timezoneId: 'America/Los_Angeles' });
    await signUpInPage(page, harness, uniqueEmail('zone'));
    await page.goto(`${origin}/settings/profile`);
    await page.getByTestId('preferences-time-zone').selectOption('Pacific/Kiritimati');
    await page.getByTestId('preferences-save').click();
    await page.getByTestId('preferences-saved').waitFor();

    await page.getByTestId('settings-security-tab').click();
    const sessions = await (await page.request.get(`${origin}/api/account/sessions`)).json();
    const created = new Date(sessions.sessions[0].createdAt);
    const timeIn = (timeZone: string) =>
      new Intl.DateTimeFormat('fr-FR', {
        timeZone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(created);
    const details = page.getByTestId('sessions-list').getByTestId('session-item').first();
    await details.waitFor();
    await expect.poll(() => details.textContent()).toContain(timeIn('Pacific/Kiritimati'));
    expect(await details.textContent()).not.toContain(timeIn('America/Los_Angeles'));
    await screenshot(page, 'security-sessions-account-time-zone-fr');
  });

  it('shows the security journal with who tried what from where, filtered by kind', async () => {
    const { harness, origin } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
    const email = uniqueEmail('journal');
    await signUpInPage(page, harness, email);
    // Someone else guesses the password from another address.
    await harness.app.inject({
      method: 'POST',
      url: '/api/auth/sign-in',
      remoteAddress: '203.0.113.7',
      headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Firefox/130.0' },
      payload: { email, password: 'a guess at the password' },
    });
    await page.goto(`${origin}/settings/security`);
    const items = page.getByTestId('activity-list').getByTestId('activity-item');
    const failed = page.locator('[data-testid="activity-item"][data-type="sign_in.failed"]');
    await failed.waitFor();
    expect(await failed.textContent()).toContain('203.0.113.7');
    expect(await failed.textContent()).toContain('Firefox · Windows');
    expect(await items.evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-type')))).toEqual(
      expect.arrayContaining(['sign_up', 'sign_in.succeeded', 'email.verified', 'sign_in.failed']),
    );
    await screenshot(page, 'security-activity-fr-390');

    await page.getByTestId('activity-filter').selectOption('signIns');
    await expect
      .poll(() => items.evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-type'))))
      .toEqual(['sign_in.failed', 'sign_in.succeeded']);
    await page.getByTestId('activity-filter').selectOption('twoFactor');
    await page.getByTestId('activity-empty').waitFor();
  });
});
