import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { type SignedInClient, signUpAndSignIn } from '../../server/src/modules/accounts/testing.js';
import { createChargilyClient } from '../../server/src/modules/payments/providers/chargily.js';
import { listIntentEvents } from '../../server/src/modules/payments/service.js';
import {
  type FakeChargily,
  startFakeChargily,
} from '../../server/src/modules/payments/testing/fake-chargily.js';
import {
  balanceOf,
  madeUpKey,
  makeAdmin,
  testPaymentsConfig,
} from '../../server/src/modules/payments/testing/harness.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { signInInPage } from './flows.js';

/** The smallest valid PNG: a proof of transfer as a phone would send one. */
const onePixelPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

describe('buying credits in Chromium: bank transfer and Chargily through a local fake', () => {
  const chargilyKey = madeUpKey('test_sk_');
  let chargily: FakeChargily;
  let admin: SignedInClient;
  const suite = useBrowserSuite(async () => {
    const harness = await startGatewayHarness(backendPairs()[0]!);
    try {
      chargily = await startFakeChargily({ secretKey: chargilyKey });
      // The origin is known once the server listens: return and webhook URLs point back at it.
      harness.app.payments.publicUrl = harness.origin;
      harness.app.payments.config = testPaymentsConfig;
      harness.app.payments.providers.chargily = createChargilyClient({
        secretKey: chargilyKey,
        apiUrl: chargily.apiUrl,
        timeoutMs: 5_000,
      });
      admin = await makeAdmin(harness.app);
    } catch (error) {
      await harness.close();
      await chargily?.close();
      throw error;
    }
    return {
      ...harness,
      async close() {
        await harness.close();
        await chargily.close();
      },
    };
  });

  /** A phone-sized page in the given language, signed in through the form. */
  async function signedInPhone(locale: string, buyer: SignedInClient): Promise<Page> {
    const page = await suite.newPage({
      viewport: { width: 390, height: 844 },
      locale,
      acceptDownloads: true,
    });
    await signInInPage(page, suite.origin, buyer.email, buyer.password);
    await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
    return page;
  }

  /** The page must not scroll sideways on a phone. */
  async function expectNoHorizontalScroll(target: Page) {
    // A string: this file is type-checked without the DOM library.
    const overflow = await target.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
  }

  it('buys a pack by bank transfer in French: reference shown, proof sent, admin confirms, balance rises, receipt downloads', async () => {
    const { harness } = suite;
    const buyer = await signUpAndSignIn(harness.app, { name: 'Yacine' });
    const phone = await signedInPhone('fr-FR', buyer);
    await phone.goto(`${harness.origin}/credits`);
    await phone.getByTestId('credits-buy-link').click();
    await phone.getByTestId('buy-form').waitFor();
    await phone.getByLabel('Devise').selectOption('DZD');
    await phone.getByTestId('method-bank_transfer').click();
    await phone.getByTestId('pack-pro').click();
    await phone.getByTestId('pack-starter').click();
    await expect
      .poll(() => phone.getByTestId('buy-submit').textContent())
      .toMatch(/Payer 1\s?000\sDZD|Payer/);
    await expectNoHorizontalScroll(phone);
    await screenshot(phone, 'payments-buy-fr-390');

    await phone.getByTestId('buy-submit').click();
    const reference = (await phone.getByTestId('bank-reference').textContent())!.trim();
    expect(reference).toMatch(/^WBX-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(await phone.getByTestId('bank-account').textContent()).toBe(
      testPaymentsConfig.bankTransfer!.accountNumber,
    );
    await phone
      .getByLabel(/Preuve du virement/)
      .setInputFiles({ name: 'virement.png', mimeType: 'image/png', buffer: onePixelPng });
    await phone.getByTestId('proof-submit').click();
    await phone.getByTestId('proof-uploaded').waitFor();
    await expectNoHorizontalScroll(phone);
    await screenshot(phone, 'payments-bank-transfer-fr-390');

    // The back office sees the money arrive and confirms the exact amount.
    const list = await harness.app.inject({
      url: '/api/admin/payments/intents?status=pending',
      headers: admin.headers,
    });
    const intent = list
      .json()
      .intents.find((candidate: { bankReference: string }) => candidate.bankReference === reference);
    expect(intent).toBeDefined();
    const confirmed = await harness.app.inject({
      method: 'POST',
      url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
      headers: admin.headers,
      payload: { amount: 1000, currency: 'DZD' },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(await balanceOf(harness.app, buyer.userId)).toBe(100_000);

    await phone.goto(`${harness.origin}/credits`);
    await expect
      .poll(async () => (await phone.getByTestId('credits-balance').textContent())?.replace(/\s/g, ''))
      .toContain('100000crédits');

    await phone.goto(`${harness.origin}/payments`);
    const row = phone.locator(`[data-payment-id="${intent.id}"]`);
    await row.getByTestId('payment-status').filter({ hasText: 'Payé' }).waitFor();
    const [download] = await Promise.all([
      phone.waitForEvent('download'),
      row.getByTestId('receipt-link').click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^WBX-\d{4}-\d{6}\.pdf$/);
    const file = await download.path();
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(file)).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await expectNoHorizontalScroll(phone);
    await screenshot(phone, 'payments-history-fr-390');
  });

  it('pays with Chargily in Arabic: checkout page, signed webhook, the success page shows it paid', async () => {
    const { harness } = suite;
    const buyer = await signUpAndSignIn(harness.app, { name: 'Nour' });
    const phone = await signedInPhone('ar-DZ', buyer);
    expect(await phone.evaluate<string>('document.documentElement.dir')).toBe('rtl');
    await phone.goto(`${harness.origin}/credits/buy`);
    await phone.getByTestId('buy-form').waitFor();
    await phone.getByLabel('العملة').selectOption('DZD');
    await phone.getByTestId('method-chargily').click();
    await phone.getByTestId('pack-starter').click();
    await expectNoHorizontalScroll(phone);
    await screenshot(phone, 'payments-buy-ar-390');

    // Off to Chargily's page, which "pays", sends its signed webhook, and sends the buyer back.
    await phone.getByTestId('buy-submit').click();
    await phone.waitForURL(/\/payments\/[0-9a-f-]{36}\/success$/);
    await phone.getByTestId('payment-paid').waitFor();
    expect(await phone.getByTestId('payment-status').getAttribute('data-status')).toBe('paid');
    await expectNoHorizontalScroll(phone);
    await screenshot(phone, 'payments-success-ar-390');

    expect(chargily.behaviour.deliveries.at(-1)).toMatchObject({ status: 200 });
    expect(JSON.parse(chargily.behaviour.deliveries.at(-1)!.body).outcome).toBe('paid');
    const intentId = /\/payments\/([0-9a-f-]{36})\/success/.exec(phone.url())![1]!;
    const checkout = [...chargily.checkouts.values()].find(
      (candidate) => (candidate.metadata as { intent_id: string }).intent_id === intentId,
    )!;
    expect(checkout).toMatchObject({ amount: 1000, locale: 'ar', status: 'paid' });
    // Paid by the webhook; the success page's own check found it already paid and added nothing.
    const paid = (await listIntentEvents(harness.app.db, intentId)).filter(
      (event) => event.toStatus === 'paid',
    );
    expect(paid).toMatchObject([{ cause: 'webhook' }]);
    expect(await balanceOf(harness.app, buyer.userId)).toBe(100_000);
  });

  it('shows the failure page in French when the buyer comes back without paying', async () => {
    const { harness } = suite;
    const buyer = await signUpAndSignIn(harness.app);
    const start = await harness.app.inject({
      method: 'POST',
      url: '/api/payments/intents',
      headers: buyer.headers,
      payload: { packId: 'starter', currency: 'DZD', provider: 'chargily', locale: 'fr' },
    });
    const intent = start.json();
    const checkout = [...chargily.checkouts.values()].find((candidate) =>
      intent.checkoutUrl.includes(candidate.id),
    )!;
    chargily.setStatus(checkout.id, 'canceled');
    const phone = await signedInPhone('fr-FR', buyer);
    await phone.goto(`${harness.origin}/payments/${intent.id}/failure`);
    await phone.getByTestId('payment-not-paid').waitFor();
    expect(await phone.getByTestId('payment-status').getAttribute('data-status')).toBe('canceled');
    await phone.getByTestId('result-try-again').waitFor();
    await screenshot(phone, 'payments-failure-fr-390');
    expect(await balanceOf(harness.app, buyer.userId)).toBe(0);
  });
});
