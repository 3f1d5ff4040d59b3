import { readFile } from 'node:fs/promises';
import { readChunksFixture } from '@webox/gateway/testing';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/src/errors.js';
import { uniqueEmail } from '../../server/src/modules/accounts/testing.js';
import type { Metering } from '../../server/src/modules/gateway/metering.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { holdPdfRenders, pdfWorkerHooks } from '../../server/src/testing/pdf-worker-hooks.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { sendInStudio, signUpInPage } from './flows.js';

const streamFixture = new URL(
  '../../gateway/src/providers/openai-compatible/__fixtures__/text.chunks.txt',
  import.meta.url,
);

/** Free for everyone except the people listed, who have no credits at all. */
const withoutCredits = new Set<string>();
const testMetering: Metering = {
  enabled: true,
  async begin({ caller }) {
    if (withoutCredits.has(caller.userId)) {
      throw new AppError('insufficient_credits', 'Your balance does not cover this request.');
    }
    return { settle: async () => ({ charged: 7 }), release: async () => {} };
  },
};

describe('the chat studio in Chromium, against a local fake provider', () => {
  const suite = useBrowserSuite(() =>
    startGatewayHarness(backendPairs()[0]!, { metering: testMetering, pdfWorkerSetup: pdfWorkerHooks }),
  );

  it('streams an answer, keeps the conversation across a reload, exports it, and reads right to left in Arabic', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    await signUpInPage(page, harness, uniqueEmail('studio'), 'Nour');
    await expect.poll(() => page.getByTestId('model-details').textContent()).toContain('128');

    harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(streamFixture), eventDelayMs: 40 });
    await sendInStudio(page, '[hold] Dis bonjour');
    // The answer shows while it streams (stop is offered), then is stored with its cost.
    await page.getByTestId('stop').waitFor();
    await page.getByTestId('streaming-answer').waitFor();
    const answer = page.getByTestId('message-assistant');
    await answer.waitFor();
    expect(await answer.textContent()).toContain('Hello, world!');
    await expect.poll(() => page.getByTestId('answer-cost').textContent()).toMatch(/1\s?200/);
    const sent = harness.primary.requests.at(-1)!.body as { messages: Array<{ content: string }> };
    expect(sent.messages.at(-1)?.content).toBe('[hold] Dis bonjour');
    await screenshot(page, 'studio-answer-fr');

    // Everything came from the server: a reload (another device would do the same) brings it back.
    await page.reload();
    await page.getByTestId('message-assistant').waitFor();
    expect(await page.getByTestId('message-user').textContent()).toContain('Dis bonjour');
    expect(await page.getByTestId('conversation-item').first().textContent()).toContain('Dis bonjour');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-markdown').click(),
    ]);
    const markdown = await readFile((await download.path())!, 'utf8');
    expect(markdown).toContain('Dis bonjour');
    expect(markdown).toContain('Hello, world!');

    // One export at a time per person: with a PDF still rendering (held at PDFKit's end in its worker: the
    // conversation's title, its first message, carries the hooks' `[hold]` marker), the same person's second tab is
    // told to wait instead of saving the server's refusal as a file; then the PDF arrives.
    const held = holdPdfRenders();
    try {
      const pdfDownload = page.waitForEvent('download');
      await page.getByTestId('export-pdf').click();
      // A PDF worker thread starting on a loaded machine takes longer than the default second.
      await expect.poll(() => held.count, { timeout: 15_000 }).toBe(1);
      expect(await page.getByTestId('export-markdown').isDisabled()).toBe(true);
      const otherTab = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
      await otherTab.context().addCookies(await page.context().cookies());
      await otherTab.goto(page.url());
      await otherTab.getByTestId('export-markdown').click();
      await otherTab.getByTestId('export-error').waitFor();
      expect(await otherTab.getByTestId('export-error').textContent()).toContain('déjà en préparation');
      await screenshot(otherTab, 'studio-export-busy-fr');
      await otherTab.close();
      held.release();
      const pdf = await readFile((await (await pdfDownload).path())!);
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    } finally {
      held.release();
      held.close();
    }

    await page.getByTestId('language-switcher').selectOption('ar');
    await expect.poll(() => page.getAttribute('html', 'dir')).toBe('rtl');
    // The sidebar is the first column: in Arabic it sits on the right.
    const sidebar = await page.getByTestId('conversation-sidebar').boundingBox();
    expect(sidebar!.x).toBeGreaterThan(1280 / 2);
    await screenshot(page, 'studio-ar');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'studio-ar-390');
  });

  it('says why nothing can be sent while the models load, when they cannot be loaded, and when there are none', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    await signUpInPage(page, harness, uniqueEmail('models'), 'Nour');

    // Loading: Enter sends nothing, and the text waits in the composer until a model can take it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/v1/models', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${harness.origin}/studio`);
    await page.getByTestId('models-loading').waitFor();
    const providerCalls = harness.primary.requests.length;
    await page.getByTestId('composer-input').fill('Bonjour');
    await page.getByTestId('composer-input').press('Enter');
    expect(await page.getByTestId('send').isDisabled()).toBe(true);
    release();
    await page.locator('[data-testid="send"]:enabled').waitFor();
    expect(await page.getByTestId('models-loading').count()).toBe(0);
    expect(harness.primary.requests.length).toBe(providerCalls);
    expect(await page.getByTestId('composer-input').inputValue()).toBe('Bonjour');
    await page.unroute('**/v1/models');

    // Unreachable: the reason, and a button that tries again.
    await page.route('**/v1/models', (route) => route.abort('failed'));
    await page.reload();
    await page.getByTestId('models-error').waitFor();
    expect(await page.getByTestId('send').isDisabled()).toBe(true);
    await screenshot(page, 'studio-models-error-fr');
    await page.unroute('**/v1/models');
    await page.getByTestId('models-retry').click();
    await page.getByTestId('model-details').waitFor();
    expect(await page.getByTestId('models-error').count()).toBe(0);

    // None that can chat (no provider connected yet): said so.
    await page.route('**/v1/models', (route) => route.fulfill({ json: { object: 'list', data: [] } }));
    await page.reload();
    await page.getByTestId('no-models').waitFor();
    expect(await page.getByTestId('send').isDisabled()).toBe(true);
  });

  it('tells a person without credits how to top up', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
    const email = uniqueEmail('broke');
    await signUpInPage(page, harness, email, 'Nour');
    const account = await page.request.get(`${harness.origin}/api/account`);
    withoutCredits.add((await account.json()).user.id);
    await page.getByTestId('composer-input').fill('Une question');
    await page.getByTestId('send').click();
    await page.getByTestId('insufficient-credits').waitFor();
    await screenshot(page, 'studio-no-credits-fr-390');
    await page.getByTestId('top-up-link').click();
    await page.waitForURL('**/credits');
    await page.getByTestId('credits-balance').waitFor();
    await page.getByTestId('usage-model').waitFor();
    await screenshot(page, 'credits-fr-390');
  });
});
