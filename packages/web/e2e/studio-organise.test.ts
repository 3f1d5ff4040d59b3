import { readChunksFixture } from '@webox/gateway/testing';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { users } from '../../server/src/modules/accounts/tables.js';
import { uniqueEmail } from '../../server/src/modules/accounts/testing.js';
import { studioConversations } from '../../server/src/modules/studio/tables.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { screenshot, useBrowserSuite } from './browser.js';
import { sendInStudio, signUpInPage } from './flows.js';

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
    await sendInStudio(page, 'Première question');
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

  it('lists the most recent conversations first and shows older ones on request', async () => {
    const { harness } = suite;
    const page = await suite.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const email = uniqueEmail('paging');
    await signUpInPage(page, harness, email);
    const [user] = await harness.app.db.select({ id: users.id }).from(users).where(eq(users.email, email));
    await harness.app.db.insert(studioConversations).values(
      Array.from({ length: 55 }, (_, index) => ({
        userId: user!.id,
        title: `Thread ${index}`,
        updatedAt: new Date(Date.now() - index * 60_000),
      })),
    );
    await page.reload();
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(50);
    await expect.poll(() => page.getByTestId('conversation-list').textContent()).not.toContain('Thread 54');
    await page.getByTestId('load-more-conversations').click();
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(55);
    expect(await page.getByTestId('conversation-list').textContent()).toContain('Thread 54');
    // The last page is shown: nothing more to ask for.
    expect(await page.getByTestId('load-more-conversations').count()).toBe(0);

    // A full conversation says so, and how to go on.
    const [full] = await harness.app.db
      .update(studioConversations)
      .set({ messageCount: 2_000 })
      .where(eq(studioConversations.title, 'Thread 0'))
      .returning({ id: studioConversations.id });
    await page.goto(`${harness.origin}/studio?c=${full!.id}`);
    await sendInStudio(page, 'One more?');
    await expect
      .poll(() => page.getByTestId('conversation-full').textContent())
      .toContain('Start a new conversation');
  });
});
