import { readChunksFixture } from '@webox/gateway/testing';
import { describe, expect, it } from 'vitest';
import { uniqueEmail } from '../../server/src/modules/accounts/testing.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { signUpInPage } from './flows.js';

const streamFixture = new URL(
  '../../gateway/src/providers/openai-compatible/__fixtures__/text.chunks.txt',
  import.meta.url,
);

describe('studio folders and presets in Chromium', () => {
  const suite = useBrowserSuite(() => startGatewayHarness(backendPairs()[0]!));

  it('files a conversation in a folder, lists by folder, and saves then applies a preset', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => void dialog.accept());
    await signUpInPage(page, harness, uniqueEmail('organise'));

    // A preset keeps a model and a system prompt.
    await page.locator('details > summary').first().click();
    await page.getByTestId('system-prompt').fill('Réponds en une phrase.');
    await page.getByTestId('preset-save-start').click();
    await page.getByTestId('preset-name').fill('Bref');
    await page.getByTestId('preset-save').click();
    await expect
      .poll(() => page.getByTestId('preset-picker').locator('option').allTextContents())
      .toContain('Bref');

    harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(streamFixture) });
    await page.getByTestId('composer-input').fill('Première question');
    await page.getByTestId('composer-input').press('Enter');
    await page.getByTestId('message-assistant').waitFor();
    const sent = harness.primary.requests.at(-1)!.body as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'Réponds en une phrase.' });

    await page.getByTestId('folder-new').click();
    await page.getByTestId('folder-name').fill('Travail');
    await page.getByTestId('folder-save').click();
    // The new folder is selected: it is empty until the conversation moves in.
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(0);
    await page.getByTestId('folder-filter').selectOption({ label: 'Toutes les conversations' });
    await page.getByTestId('move-conversation').selectOption({ label: 'Travail' });
    await page.getByTestId('folder-filter').selectOption({ label: 'Travail' });
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(1);
    await screenshot(page, 'studio-folders-fr');

    // A new conversation starts from the preset.
    await page.getByTestId('new-conversation').click();
    await page.getByTestId('system-prompt').fill('');
    await page.getByTestId('preset-picker').selectOption({ label: 'Bref' });
    expect(await page.getByTestId('system-prompt').inputValue()).toBe('Réponds en une phrase.');

    await page.getByTestId('folder-filter').selectOption({ label: 'Travail' });
    await page.getByTestId('folder-delete').click();
    await expect.poll(() => page.getByTestId('folder-filter').locator('option').count()).toBe(1);
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(1);

    await page.getByTestId('language-switcher').selectOption('ar');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'studio-organise-ar-390');
  });
});
