/**
 * Test hooks inside the PDF export's worker threads (`PdfThreadsOptions.setup`, `AppOptions.pdfWorkerSetup`): tests
 * cannot spy on PDFKit there from their own thread, so this module, imported by each worker before its first render,
 * changes what a render does according to the conversation's title, and talks to the test over a BroadcastChannel
 * named `pdfWorkerHooksChannel`:
 *
 * - `[hold]` in the title: the render stops before PDFKit's `end` and posts `{ type: 'held', threadId }`; it ends
 *   when the test posts `{ type: 'release' }`. A render in progress, kept there as long as a test needs.
 * - `[block]`: at its first line of text the render posts `{ type: 'blocked', threadId, gate }` and then holds its
 *   thread synchronously (`Atomics.wait` on `gate`, an Int32Array's SharedArrayBuffer) until the test stores 1 in
 *   it and notifies: PDFKit's work, which no pause can cut, in progress. Never notified, only `terminate` ends it.
 * - `[throw]`: PDFKit fails at the first line of text (`glyph table is corrupt`).
 * - `[break]`: PDFKit fails at its `end` (`font subsetting failed`), after every page was written.
 * - `[bloat]`: at its first line of text the render allocates 512 MiB, then holds its thread forever: a runaway
 *   render, which only a heap limit below that ends (without waiting for PDFKit to get there on a huge export).
 *
 * Imported by a test's own thread (for the channel's name), it changes nothing.
 */
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import PDFDocument from 'pdfkit';

export const pdfWorkerHooksChannel = 'webox:pdf-worker-hooks';

/** This module, for `pdfWorkerSetup`: each PDF worker thread of a test app imports it before its first render. */
export const pdfWorkerHooks = new URL(import.meta.url);

/** What a worker posts on the channel. */
export type PdfWorkerHookEvent =
  | { type: 'held'; threadId: number }
  | { type: 'blocked'; threadId: number; gate: SharedArrayBuffer };

/** The marker (`hold`, `block`, `throw`, `break`, `bloat`) in a document's title, if any. */
function marker(document: PDFKit.PDFDocument): string | undefined {
  const title = String((document as unknown as { info: { Title?: unknown } }).info.Title ?? '');
  return /\[(hold|block|throw|break|bloat)\]/.exec(title)?.[1];
}

if (!isMainThread) {
  const channel = new BroadcastChannel(pdfWorkerHooksChannel);
  // The worker lives while its parent port listens; the channel alone keeps nothing alive.
  channel.unref();
  const releases: Array<() => void> = [];
  channel.onmessage = (event) => {
    if ((event as { data?: { type?: unknown } }).data?.type === 'release')
      for (const release of releases.splice(0)) release();
  };
  const post = (message: PdfWorkerHookEvent) => channel.postMessage(message);

  const end = PDFDocument.prototype.end;
  PDFDocument.prototype.end = function (this: PDFKit.PDFDocument) {
    const kind = marker(this);
    if (kind === 'break') throw new Error('font subsetting failed');
    if (kind !== 'hold') return end.call(this);
    // Kept referenced while held, so the worker's loop has something to wait for.
    channel.ref();
    releases.push(() => {
      channel.unref();
      end.call(this);
    });
    post({ type: 'held', threadId });
    return this;
  };

  const text = PDFDocument.prototype.text;
  const blocked = new WeakSet<PDFKit.PDFDocument>();
  PDFDocument.prototype.text = function (this: PDFKit.PDFDocument, ...args: unknown[]) {
    const kind = marker(this);
    if (kind === 'throw') throw new Error('glyph table is corrupt');
    if (kind === 'bloat') {
      // 512 MiB at most, then held forever: a worker without a tighter heap limit never ends this render.
      const hoard: number[][] = [];
      while (hoard.length < 64) hoard.push(new Array<number>(1_000_000).fill(hoard.length));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    if (kind === 'block' && !blocked.has(this)) {
      blocked.add(this);
      const gate = new SharedArrayBuffer(4);
      post({ type: 'blocked', threadId, gate });
      Atomics.wait(new Int32Array(gate), 0, 0);
    }
    return (text as (...args: unknown[]) => PDFKit.PDFDocument).apply(this, args);
  } as typeof text;
}

/**
 * Holds every PDF render of a conversation titled `[hold] …` at its end (before PDFKit's `end`, after the layout, in
 * its worker) until `release`: a render in progress, kept there as long as a test needs, so what other exports meet
 * meanwhile does not depend on timing. After `release`, such renders run as usual until `close`.
 */
export function holdPdfRenders() {
  const channel = new BroadcastChannel(pdfWorkerHooksChannel);
  let held = 0;
  let released = false;
  channel.onmessage = (event) => {
    if ((event as { data: PdfWorkerHookEvent }).data.type !== 'held') return;
    held += 1;
    if (released) channel.postMessage({ type: 'release' });
  };
  return {
    get count() {
      return held;
    },
    /** Lets the held renders end, and every later one run as usual. */
    release() {
      released = true;
      channel.postMessage({ type: 'release' });
    },
    close() {
      channel.close();
    },
  };
}
