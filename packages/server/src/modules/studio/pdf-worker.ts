/**
 * A worker thread that renders PDF exports (started by `pdf-threads.ts`, which describes the protocol): one render at
 * a time, each posted to it as `{ exported }`. It answers `{ type: 'data', bytes }` as the file grows (the bytes'
 * memory moves to the main thread, not copied), then `{ type: 'end', threadId }`, or `{ type: 'error', message }`.
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { ExportedConversation } from './export.js';
import { renderPdf } from './export-pdf.js';

/**
 * What the worker gathers before it posts: PDFKit writes many small pieces (an object, a line of a page's content),
 * and one message of 64 KiB costs the main thread what one of a few bytes does.
 */
const batchBytes = 64 * 1024;

/** A render the main thread asks for. */
export interface PdfJob {
  exported: ExportedConversation;
}

/** What the worker answers, in this order: any number of `data`, then one `end` or `error`. */
export type PdfReply =
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'end'; threadId: number }
  | { type: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('pdf-worker.ts runs in a worker thread (see pdf-threads.ts)');

const post = (reply: PdfReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

async function render({ exported }: PdfJob): Promise<void> {
  let pending: Buffer[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    // Its own memory (PDFKit's buffers may share a pool), handed over whole to the main thread.
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of pending) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    pending = [];
    size = 0;
    post({ type: 'data', bytes }, [bytes.buffer]);
  };
  try {
    await renderPdf(exported, (chunk) => {
      pending.push(chunk);
      size += chunk.length;
      if (size >= batchBytes) flush();
    });
    flush();
    post({ type: 'end', threadId });
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}

port.on('message', (job: PdfJob) => void render(job));
