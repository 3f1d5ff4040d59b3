import { describe, expect, it } from 'vitest';
import { uniqueEmail } from '../../server/src/modules/accounts/testing.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { signUpInPage } from './flows.js';

describe('API keys in Chromium', () => {
  const suite = useBrowserSuite(() => startGatewayHarness(backendPairs()[0]!));

  it('creates a key, shows its secret once, calls /v1/models with it, and refuses it once revoked', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    await signUpInPage(page, harness, uniqueEmail('keys'));
    await page.getByTestId('nav-keys').click();
    await page.getByTestId('keys-empty').waitFor();

    // A name is required; the limits must be whole numbers.
    await page.getByTestId('key-rpm').fill('abc');
    await page.getByTestId('create-key-submit').click();
    await page.getByTestId('key-name-error').waitFor();
    await page.getByTestId('key-rpm-error').waitFor();

    await page.getByTestId('key-name').fill('Robot factures');
    await page.getByTestId('key-rpm').fill('60');
    await page.locator('[data-testid="key-model"][value="gpt-test"]').check();
    await page.getByTestId('create-key-submit').click();
    const secret = await page.getByTestId('created-key-secret').inputValue();
    expect(secret).toMatch(/^wbx_/);
    await screenshot(page, 'keys-created-fr');

    const models = await fetch(`${harness.origin}/v1/models`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(models.status).toBe(200);
    const listed = (await models.json()) as { data: Array<{ id: string }> };
    expect(listed.data.map((model) => model.id)).toEqual(['gpt-test']);

    // Once acknowledged, the secret is gone from the page and never comes back, even after a reload.
    await page.getByTestId('created-key-done').click();
    await page.getByTestId('created-key').waitFor({ state: 'detached' });
    await page.reload();
    const item = page.getByTestId('key-item');
    await item.waitFor();
    expect(await page.content()).not.toContain(secret);
    const text = await item.textContent();
    expect(text).toContain('Robot factures');
    expect(text).toContain(secret.slice(0, 8));
    expect(text).toContain('gpt-test');
    expect(text).toMatch(/60/);
    await page.getByTestId('key-last-used').filter({ hasNotText: 'Pas encore' }).waitFor();

    await page.getByTestId('revoke-key').click();
    await page.getByTestId('revoke-key-confirm').click();
    await expect.poll(() => item.getAttribute('data-state')).toBe('revoked');
    const refused = await fetch(`${harness.origin}/v1/models`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(refused.status).toBe(401);

    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'keys-fr-390');
    // On phones the menu holds the links that do not fit in the header, settings included.
    await page.getByTestId('menu-button').click();
    await page.getByTestId('mobile-nav').getByTestId('nav-settings').waitFor();
    await screenshot(page, 'menu-fr-390');
    await page.getByTestId('menu-button').click();
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    await screenshot(page, 'keys-ar');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'keys-ar-390');
  });
});
