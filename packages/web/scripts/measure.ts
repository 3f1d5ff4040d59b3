// npm run measure:web — the web app's two speed budgets, measured, not asserted (see CONVENTIONS: a benchmark
// prints a table). Builds nothing: run `npm run build -w @webox/web` first.
//
// 1. First-load JavaScript: the scripts Chromium actually fetches to show `/` (a visitor) and `/studio`
//    (a signed-in person), gzipped from packages/web/dist. Budget: 250 KB each.
// 2. Token latency: the gateway harness streams a paced answer from its fake provider; each token's send time is
//    taken where the fake provider writes it to its socket, and its display time by a MutationObserver in the
//    studio page. Both clocks are this machine's (performance.timeOrigin + now). Budget: 50 ms at p95.
import { existsSync, readFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { BrowserContext } from 'playwright-core';
import { signUpAndSignIn, uniqueEmail } from '../../server/src/modules/accounts/testing.js';
import { backendPairs } from '../../server/src/testing/backend-pairs.js';
import { startGatewayHarness } from '../../server/src/testing/gateway-harness.js';
import { launchBrowser } from '../e2e/browser.js';

const distDirectory = fileURLToPath(new URL('../dist', import.meta.url));
const bundleBudgetBytes = 250 * 1024;
const latencyBudgetMs = 50;
const streams = 3;
const tokensPerStream = 40;
const eventDelayMs = 25;

if (!existsSync(path.join(distDirectory, 'index.html'))) {
  process.stderr.write('packages/web/dist is missing: run `npm run build -w @webox/web` first.\n');
  process.exit(1);
}

const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const percentile = (sorted: number[], fraction: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;

function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  process.stdout.write(`${line(headers)}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write('\n');
}

/** Send times of the fake provider's tokens, keyed by marker ("t01-007"), recorded as the bytes leave. */
const sentAt = new Map<string, number>();
let providerPort = 0;
const originalWrite = ServerResponse.prototype.write;
// The harness runs in this process, so the fake provider's writes pass through here; the gateway's own writes
// (to the browser) carry the same markers and are told apart by the socket's local port.
ServerResponse.prototype.write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
  if (providerPort !== 0 && this.socket?.localPort === providerPort && typeof chunk === 'string') {
    for (const match of chunk.matchAll(/⟦(t\d\d-\d\d\d)⟧/g))
      sentAt.set(match[1]!, performance.timeOrigin + performance.now());
  }
  return (originalWrite as (...parameters: unknown[]) => boolean).call(this, chunk, ...rest);
} as typeof ServerResponse.prototype.write;

function pacedAnswer(stream: number): Array<{ data: string }> {
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    JSON.stringify({
      id: `chatcmpl-measure-${stream}`,
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, finish_reason: finish }],
      usage: null,
    });
  const events = [{ data: chunk({ role: 'assistant', content: '' }, null) }];
  for (let token = 1; token <= tokensPerStream; token += 1) {
    const marker = `t${String(stream).padStart(2, '0')}-${String(token).padStart(3, '0')}`;
    events.push({ data: chunk({ content: `⟦${marker}⟧ ` }, null) });
  }
  events.push({ data: chunk({}, 'stop') });
  events.push({
    data: JSON.stringify({
      id: `chatcmpl-measure-${stream}`,
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: tokensPerStream, total_tokens: 10 + tokensPerStream },
    }),
  });
  events.push({ data: '[DONE]' });
  return events;
}

/** Opens `url` in a fresh page and returns the JavaScript files it fetched, by name in dist/assets. */
async function scriptsFetched(context: BrowserContext, url: string, ready: string): Promise<string[]> {
  const page = await context.newPage();
  const scripts = new Set<string>();
  page.on('response', (response) => {
    const pathname = new URL(response.url()).pathname;
    if (pathname.startsWith('/assets/') && pathname.endsWith('.js'))
      scripts.add(pathname.slice('/assets/'.length));
  });
  await page.goto(url);
  await page.getByTestId(ready).waitFor();
  await page.waitForLoadState('networkidle');
  await page.close();
  return [...scripts].sort();
}

const harness = await startGatewayHarness(backendPairs()[0]!);
providerPort = Number(new URL(harness.primary.url).port);
const browser = await launchBrowser();
try {
  // --- First load -------------------------------------------------------------------------------------------
  const visitor = await browser.newContext({ locale: 'fr-FR' });
  const homeScripts = await scriptsFetched(visitor, `${harness.origin}/`, 'main-nav');
  await visitor.close();

  const email = uniqueEmail('measure');
  const password = 'a sturdy passphrase 42';
  await signUpAndSignIn(harness.app, { email, password });
  const member = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
  const signIn = await member.request.post(`${harness.origin}/api/auth/sign-in`, {
    data: { email, password },
  });
  if (!signIn.ok()) throw new Error(`sign-in failed: ${signIn.status()} ${await signIn.text()}`);
  const studioScripts = await scriptsFetched(member, `${harness.origin}/studio`, 'composer-input');

  const sizeOf = (file: string) => {
    const bytes = readFileSync(path.join(distDirectory, 'assets', file));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const bundleRows = [
    ['/', homeScripts],
    ['/studio', studioScripts],
  ].map(([route, files]) => {
    const list = files as string[];
    const total = list
      .map(sizeOf)
      .reduce((sum, size) => ({ raw: sum.raw + size.raw, gzip: sum.gzip + size.gzip }), {
        raw: 0,
        gzip: 0,
      });
    return [
      route as string,
      String(list.length),
      kilobytes(total.raw),
      kilobytes(total.gzip),
      kilobytes(bundleBudgetBytes),
      total.gzip <= bundleBudgetBytes ? 'yes' : 'NO',
    ];
  });
  process.stdout.write('First-load JavaScript (files Chromium fetched, gzip -9 of packages/web/dist)\n\n');
  printTable(['page', 'files', 'raw', 'gzip', 'budget', 'within'], bundleRows);
  for (const [route, files] of [
    ['/', homeScripts],
    ['/studio', studioScripts],
  ] as const) {
    process.stdout.write(
      `${route}: ${files.map((file) => `${file} (${kilobytes(sizeOf(file).gzip)})`).join(', ')}\n`,
    );
  }
  process.stdout.write('\n');

  // --- Token latency ----------------------------------------------------------------------------------------
  const page = await member.newPage();
  await page.goto(`${harness.origin}/studio`);
  await page.getByTestId('composer-input').waitFor();
  // Records when each marker first appears anywhere in the page's text, as the DOM changes.
  // Passed as source text: tsx would wrap a function's inner names in a helper the page does not have.
  await page.evaluate(`(() => {
    const seen = {};
    window.__shownAt = seen;
    new MutationObserver(() => {
      for (const match of (document.body.textContent ?? '').matchAll(/⟦(t\\d\\d-\\d\\d\\d)⟧/g)) {
        seen[match[1]] ??= performance.timeOrigin + performance.now();
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`);

  for (let stream = 1; stream <= streams; stream += 1) {
    harness.primary.enqueue({ kind: 'sse', events: pacedAnswer(stream), eventDelayMs });
    await page.getByTestId('composer-input').fill(`Measure ${stream}`);
    await page.getByTestId('composer-input').press('Enter');
    await page.getByTestId('streaming-answer').waitFor();
    await page.getByTestId('streaming-answer').waitFor({ state: 'detached', timeout: 30_000 });
  }
  const shownAt = (await page.evaluate('window.__shownAt')) as Record<string, number>;
  const delays: number[] = [];
  let missing = 0;
  for (const [marker, sent] of sentAt) {
    const shown = shownAt[marker];
    if (shown === undefined) missing += 1;
    else delays.push(shown - sent);
  }
  delays.sort((a, b) => a - b);
  const p95 = percentile(delays, 0.95);
  process.stdout.write(
    `Token latency: fake provider writes the token → it is in the studio's DOM (${streams} streams × ${tokensPerStream} tokens, one every ${eventDelayMs} ms)\n\n`,
  );
  printTable(
    ['tokens', 'missing', 'p50', 'p95', 'max', 'budget (p95)', 'within'],
    [
      [
        String(delays.length),
        String(missing),
        `${percentile(delays, 0.5).toFixed(1)} ms`,
        `${p95.toFixed(1)} ms`,
        `${(delays.at(-1) ?? Number.NaN).toFixed(1)} ms`,
        `${latencyBudgetMs} ms`,
        p95 <= latencyBudgetMs && missing === 0 ? 'yes' : 'NO',
      ],
    ],
  );
  await member.close();
} finally {
  await browser.close();
  await harness.close();
  ServerResponse.prototype.write = originalWrite;
}
