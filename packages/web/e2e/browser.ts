import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { databaseBackends, storeBackends } from '../../server/src/testing/backends.js';
import { createTestApp, type TestApp } from '../../server/src/testing/test-app.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots land here (kept after a run, failures included) so a person can look at them. */
export const screenshotDirectory = fileURLToPath(
  new URL('../../../test-results/screenshots', import.meta.url),
);
/** The built app the server serves (npm test builds it before the browser tests). */
export const webRoot = fileURLToPath(new URL('../dist', import.meta.url));

/** Debian's Chromium, headless, with nothing reaching out to the network on its own. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}; npm test installs Debian's chromium package`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDirectory, { recursive: true });
  const file = path.join(screenshotDirectory, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The server on PGlite and memory stores, serving the built app on a free port of 127.0.0.1. */
export async function serveWebApp(): Promise<TestApp & { origin: string }> {
  const harness = await createTestApp(
    { database: databaseBackends()[0]!, stores: storeBackends()[0]! },
    {},
    { webRoot },
  );
  await harness.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...harness, origin: `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}` };
}

export interface BrowserSuite<Harness> {
  /** The started server (available inside tests). */
  readonly harness: Harness;
  readonly origin: string;
  /** A new page (its own browser context); closed after the test, with a screenshot first if the test failed. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

/**
 * The hooks every browser test file needs: start the server and Chromium before its tests and close both after
 * them; after each test, screenshot its pages if it failed, then close them.
 */
export function useBrowserSuite<Harness extends { origin: string; close(): Promise<void> }>(
  start: () => Promise<Harness>,
): BrowserSuite<Harness> {
  let harness: Harness | undefined;
  let browser: Browser | undefined;
  let pages: Page[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(webRoot, 'index.html')))
      throw new Error('packages/web/dist is missing: npm test builds it first');
    harness = await start();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });
  afterEach(async (context) => {
    const open = pages;
    pages = [];
    for (const [index, page] of open.entries()) {
      if (context.task.result?.state === 'fail' && !page.isClosed()) {
        const suffix = open.length > 1 ? `-${index + 1}` : '';
        await screenshot(page, `failed-${context.task.name.replace(/\W+/g, '-')}${suffix}`);
      }
      await page.close();
    }
  });

  const started = () => {
    if (!harness) throw new Error('the browser suite has not started (use it inside tests)');
    return harness;
  };
  return {
    get harness() {
      return started();
    },
    get origin() {
      return started().origin;
    },
    async newPage(options) {
      if (!browser) throw new Error('the browser suite has not started (use it inside tests)');
      const page = await browser.newPage(options);
      // Under the test's own 30 s: a step that waits in vain fails naming what it waited for.
      page.setDefaultTimeout(20_000);
      pages.push(page);
      return page;
    },
  };
}
