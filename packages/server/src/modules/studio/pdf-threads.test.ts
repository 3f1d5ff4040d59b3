import { existsSync } from 'node:fs';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type PdfWorkerHookEvent, pdfWorkerHooksChannel } from '../../testing/pdf-worker-hooks.js';
import type { ExportedConversation } from './export.js';
import { toPdf } from './export-pdf.js';
import { type PdfRender, PdfThreads } from './pdf-threads.js';

const hooks = new URL('../../testing/pdf-worker-hooks.ts', import.meta.url);
const dejaVu = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

function conversation(title: string, content: string): ExportedConversation {
  return {
    title,
    model: 'gpt-test',
    systemPrompt: '',
    createdAt: '2026-01-01T00:00:00.000Z',
    messages: [
      {
        role: 'user',
        content,
        model: null,
        inputTokens: 0,
        outputTokens: 0,
        credits: 0,
        createdAt: '2026-01-01T00:00:00.000Z',
      },
    ],
  };
}

/** The bytes `render` streams, and how it ended. */
async function read(render: PdfRender) {
  const chunks: Buffer[] = [];
  render.body.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = await render.done;
  return { pdf: Buffer.concat(chunks), ...ended };
}

/** The next event the workers' hooks post of `type`. */
function nextHookEvent<T extends PdfWorkerHookEvent['type']>(type: T) {
  const channel = new BroadcastChannel(pdfWorkerHooksChannel);
  return new Promise<Extract<PdfWorkerHookEvent, { type: T }>>((resolve) => {
    channel.onmessage = (event) => {
      const data = (event as { data: PdfWorkerHookEvent }).data;
      if (data.type !== type) return;
      channel.close();
      resolve(data as Extract<PdfWorkerHookEvent, { type: T }>);
    };
  });
}

describe('PDF worker threads', () => {
  let pool: PdfThreads;
  afterEach(async () => {
    await pool.close();
  });

  it('render in another thread than the caller, streaming a whole PDF with its fonts embedded', async () => {
    pool = new PdfThreads({ threads: 2 });
    const arabic = 'مرحبا، هذه إجابة طويلة بما يكفي لتمتد على عدة أسطر من الصفحة. ';
    const { pdf, threadId: renderedIn } = await read(
      pool.render(conversation('Bilingual', `${arabic.repeat(400)}\n\nAnd in English too.`)),
    );
    // PDFKit's layout and its `end` ran in a worker: the caller's thread only passed the bytes on.
    expect(renderedIn).not.toBe(threadId);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
    // The Unicode font (Arabic glyphs) is subset into the file, as when the render ran on the main thread.
    if (existsSync(dejaVu)) expect(pdf.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+DejaVuSans\b/);
    // The worker waits for the next render.
    expect(pool.alive).toBe(1);
  });

  it('render a large export, posted to the worker in parts, whole: the pages the caller’s thread would lay out', async () => {
    pool = new PdfThreads({ threads: 1 });
    const sentence = 'An answer long enough to wrap over a few lines of the page, as most answers do. ';
    const exported = conversation('Long', `1. ${sentence.repeat(2_400)}`);
    // Six messages of about 190,000 characters: more than one part each time (parts of 262,144 characters).
    for (let index = 2; index <= 6; index += 1) {
      exported.messages.push({ ...exported.messages[0]!, content: `${index}. ${sentence.repeat(2_400)}` });
    }
    const pages = (pdf: Buffer) => pdf.toString('latin1').match(/\/Type \/Page\n/g)?.length ?? 0;
    const { pdf } = await read(pool.render(exported));
    const here = await toPdf(exported);
    expect(pages(here)).toBeGreaterThan(100);
    expect(pages(pdf)).toBe(pages(here));
  });

  it('end a render whose worker outgrows its heap limit, alone: the process and the next render carry on', async () => {
    pool = new PdfThreads({ threads: 1, maxHeapMb: 32, setup: hooks });
    await expect(read(pool.render(conversation('[bloat] Runaway', 'Any answer.')))).rejects.toThrow(
      /PDF worker crashed.*memory/i,
    );
    const { pdf } = await read(pool.render(conversation('Small', 'A short answer.')));
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('keep the caller’s event loop turning while PDFKit holds the worker’s thread', async () => {
    pool = new PdfThreads({ threads: 1, setup: hooks });
    const blocked = nextHookEvent('blocked');
    const render = pool.render(conversation('[block] Stuck', 'A line of text.'));
    const { gate, threadId: stuckIn } = await blocked;
    // The render is inside PDFKit, its thread held synchronously; this thread still runs what it is given.
    const turned = await new Promise<string>((resolve) => setImmediate(() => resolve('turned')));
    expect(turned).toBe('turned');
    const flag = new Int32Array(gate);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const { pdf, threadId: renderedIn } = await read(render);
    expect(renderedIn).toBe(stuckIn);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('end the worker of a render whose signal aborts, even mid-PDFKit, and serve the next in a new one', async () => {
    pool = new PdfThreads({ threads: 1, setup: hooks });
    const blocked = nextHookEvent('blocked');
    const leaving = new AbortController();
    const render = pool.render(conversation('[block] Abandoned', 'A line of text.'), {
      signal: leaving.signal,
    });
    const { threadId: stuckIn } = await blocked;
    expect(pool.alive).toBe(1);
    // Nobody will ever let this render go on (the gate is never opened): only ending its thread stops it.
    leaving.abort();
    await expect(render.done).rejects.toMatchObject({ name: 'AbortError' });
    await expect(render.started).rejects.toMatchObject({ name: 'AbortError' });
    expect(render.body.destroyed).toBe(true);
    await vi.waitFor(() => expect(pool.alive).toBe(0));

    const next = await read(pool.render(conversation('After', 'Served.')));
    expect(next.pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(next.threadId).not.toBe(stuckIn);
  });

  it('fail a render that PDFKit fails with its message, and keep the worker for the next', async () => {
    pool = new PdfThreads({ threads: 1, setup: hooks });
    const first = await read(pool.render(conversation('Before', 'Fine.')));
    const broken = pool.render(conversation('[throw] Broken font', 'Text.'));
    await expect(broken.started).rejects.toThrow('The PDF render failed: glyph table is corrupt');
    await expect(broken.done).rejects.toThrow('glyph table is corrupt');
    const after = await read(pool.render(conversation('After', 'Fine again.')));
    expect(after.pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(after.threadId).toBe(first.threadId);
    expect(pool.alive).toBe(1);
  });

  it('fail renders asked for once closed, and what was already aborted, without starting a worker', async () => {
    pool = new PdfThreads({ threads: 1 });
    const aborted = pool.render(conversation('Gone', 'Text.'), { signal: AbortSignal.abort() });
    await expect(aborted.done).rejects.toMatchObject({ name: 'AbortError' });
    await pool.close();
    await expect(pool.render(conversation('Late', 'Text.')).done).rejects.toThrow('closed');
    expect(pool.alive).toBe(0);
  });
});
