import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { users } from '../../server/src/modules/accounts/tables.js';
import {
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from '../../server/src/modules/accounts/testing.js';
import { postEntry } from '../../server/src/modules/billing/index.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { signUpInPage } from './flows.js';

/** Digits only: French groups thousands with a narrow no-break space, Arabic may use its own digits. */
const digits = (text: string | null) =>
  (text ?? '').replace(/[٠-٩]/g, (digit) => String(digit.charCodeAt(0) - 0x0660)).replace(/\D/g, '');

describe('Organisations in Chromium', () => {
  const suite = useBrowserSuite(() => startGatewayHarness(backendPairs()[0]!));

  it('creates an organisation, moves credits into it, sees the balance, invites and makes a key for it', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('org-owner');
    await signUpInPage(page, harness, email);
    const [person] = await harness.app.db.select().from(users).where(eq(users.email, email));
    const wallet = await harness.app.billing.userWallet(person!.id);
    await postEntry(harness.app.db, {
      walletId: wallet.id,
      kind: 'grant',
      amount: 5_000,
      idempotencyKey: `e2e-grant-${randomUUID()}`,
    });

    await page.getByTestId('nav-organizations').click();
    await page.getByTestId('organizations-empty').waitFor();
    // A name is required.
    await page.getByTestId('create-organization-submit').click();
    await page.getByTestId('organization-name-error').waitFor();
    await page.getByTestId('organization-name').fill('Atelier Nord');
    await page.getByTestId('create-organization-submit').click();
    await page.getByTestId('organization-details').waitFor();
    expect(await page.getByTestId('organization-title').textContent()).toBe('Atelier Nord');
    await expect
      .poll(async () => digits(await page.getByTestId('organization-balance').textContent()))
      .toBe('0');

    // More than the personal wallet holds is refused; then 1,200 credits move.
    await page.getByTestId('transfer-amount').fill('6000');
    await page.getByTestId('transfer-submit').click();
    await page.getByTestId('transfer-error').waitFor();
    await page.getByTestId('transfer-amount').fill('1200');
    await page.getByTestId('transfer-submit').click();
    await page.getByTestId('transfer-done').waitFor();
    await expect
      .poll(async () => digits(await page.getByTestId('organization-balance').textContent()))
      .toBe('1200');
    await page.getByTestId('organization-ledger').waitFor();

    const invitee = uniqueEmail('org-invitee');
    await page.getByTestId('invite-email').fill(invitee);
    await page.getByTestId('invite-submit').click();
    await page.getByTestId('invite-sent').waitFor();
    await page.getByTestId('invitation-item').waitFor();
    const mail = await waitForEmail(harness.app, { to: invitee, template: 'organization_invitation' });
    expect(mail.locale).toBe('fr');
    expect(mail.text).toContain('Atelier Nord');
    await screenshot(page, 'organizations-fr');

    // The invitee accepts while the owner's page still offers to withdraw the invitation: the withdrawal is refused
    // (409) and the page says so, stops offering it and shows the new member without a reload.
    const invited = await signUpAndSignIn(harness.app, { email: invitee });
    const accepted = await harness.app.inject({
      method: 'POST',
      url: '/api/organizations/invitations/accept',
      headers: invited.headers,
      payload: { token: tokenFromEmail(mail.text, '/organizations/accept') },
    });
    expect(accepted.statusCode).toBe(200);
    expect(await page.getByTestId('invitation-withdraw').count()).toBe(1);
    await page.getByTestId('invitation-withdraw').click();
    await page.getByTestId('withdraw-error').waitFor();
    await page.getByTestId('invitation-withdraw').waitFor({ state: 'detached' });
    expect(await page.getByTestId('invitation-item').textContent()).toContain('Acceptée');
    expect(await page.getByTestId('withdraw-error').textContent()).toContain('acceptée entre-temps');
    await page.locator(`[data-testid="member-item"][data-email="${invitee}"]`).waitFor();
    await expect.poll(() => page.getByTestId('organization-members-count').textContent()).toContain('2');
    await screenshot(page, 'organizations-withdraw-refused-fr');

    // The personal balance in the header went down by what moved.
    await expect
      .poll(async () => digits(await page.getByTestId('header-balance').textContent()))
      .toBe('3800');

    // A key created for the organisation says who pays for it.
    await page.getByTestId('nav-keys').click();
    await page.getByTestId('key-payer').waitFor();
    await page.getByTestId('key-name').fill('Robot atelier');
    await page.getByTestId('key-payer').selectOption({ label: 'Atelier Nord' });
    await page.getByTestId('create-key-submit').click();
    expect(await page.getByTestId('created-key-secret').inputValue()).toMatch(/^wbx_/);
    await page.getByTestId('created-key-done').click();
    expect(await page.getByTestId('key-payer-name').textContent()).toBe('Atelier Nord');

    await page.getByTestId('nav-organizations').click();
    await page.getByTestId('organization-details').waitFor();
    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    await expect
      .poll(async () => digits(await page.getByTestId('organization-balance').textContent()))
      .toBe('1200');
    await screenshot(page, 'organizations-ar');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'organizations-ar-390');
  });
});
