/**
 * A worker thread that renders PDF exports (started by `pdf-threads.ts`): one render at a time. The export comes in
 * parts (`PdfJob`: its head with its first messages, more messages, then `render`), so no one copy of a large export
 * holds the main thread for long. It answers `{ type: 'data', bytes }` as the file grows (the bytes' memory moves to
 * the main thread, not copied), then `{ type: 'end', threadId }`, or `{ type: 'error', message }`.
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { ExportedConversation } from './export.js';
import { renderPdf } from './export-pdf.js';

/**
 * What the worker gathers before it posts: PDFKit writes many small pieces (an object, a line of a page's content),
 * and one message of 64 KiB costs the main thread what one of a few bytes does.
 */
const batchBytes = 64 * 1024;

/** What the main thread posts for one render, in this order: `begin`, any number of `messages`, `render`. */
export type PdfJob =
  | { type: 'begin'; exported: ExportedConversation }
  | { type: 'messages'; messages: ExportedConversation['messages'] }
  | { type: 'render' };

/** What the worker answers, in this order: any number of `data`, then one `end` or `error`. */
export type PdfReply =
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'end'; threadId: number }
  | { type: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('pdf-worker.ts runs in a worker thread (see pdf-threads.ts)');

const post = (reply: PdfReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

async function render(exported: ExportedConversation): Promise<void> {
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

/** The export being received. */
let receiving: ExportedConversation | undefined;

port.on('message', (job: PdfJob) => {
  if (job.type === 'begin') receiving = job.exported;
  else if (job.type === 'messages') receiving?.messages.push(...job.messages);
  else if (receiving) {
    const exported = receiving;
    receiving = undefined;
    void render(exported);
  }
});
