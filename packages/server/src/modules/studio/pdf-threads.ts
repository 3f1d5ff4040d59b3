import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { ExportedConversation } from './export.js';
import type { PdfJob, PdfReply } from './pdf-worker.js';

/**
 * Where the worker's code is. From `dist` it is the compiled `pdf-worker.js` beside this file. From the TypeScript
 * sources (Vitest, `node --import tsx`) it is `pdf-worker.ts`, which a worker cannot load by itself: it registers
 * tsx's hooks in its own thread first (resolved here, so both threads use the same tsx), then imports the file. A
 * worker does not get them from the main thread's `--import tsx` (Node 20 runs module hooks per thread), hence this.
 */
const fromSources = import.meta.url.endsWith('.ts');
const workerEntry = new URL(fromSources ? './pdf-worker.ts' : './pdf-worker.js', import.meta.url).href;

/** Started with `eval`, so the same few lines start the worker from `dist` and from the sources. */
const bootstrap = /* js */ `
const { workerData } = require('node:worker_threads');
const ready = workerData.tsx ? import(workerData.tsx).then(({ register }) => register()) : Promise.resolve();
ready.then(async () => {
  if (workerData.setup) await import(workerData.setup);
  await import(workerData.entry);
});
`;
/**
 * Characters of message text posted to a worker at a time, with a turn of the event loop between two posts: copying
 * a message to a worker holds the main thread for as long as the copy takes (about 70-200 ms for one post of the
 * 50 MiB a conversation may hold, on a loaded 2-core machine), a post of this much a few milliseconds.
 */
const postCharacters = 256 * 1024;

/** Options of `PdfThreads`. */
export interface PdfThreadsOptions {
  /** Worker threads kept (`exportLimits.renders`: one for each render the slots let run). */
  threads: number;
  /** An idle worker ends after this long (default 30 s): a large render leaves a large heap behind. */
  idleMs?: number;
  /**
   * The most a worker's heap may grow to, in MiB (default 768): past it the worker dies and its render fails, instead
   * of a runaway render taking the memory of the whole process, the gateway's calls with it. The largest export a
   * conversation may hold (50 MiB of text) peaked at about 330 MiB of the whole process's memory.
   */
  maxHeapMb?: number;
  /**
   * A module each worker imports before it takes work. Tests use it to reach PDFKit in that thread (the hooks of
   * `src/testing/pdf-worker-hooks.ts`); the server passes none.
   */
  setup?: URL;
}

/** A render in progress (`PdfThreads.render`). */
export interface PdfRender {
  /**
   * The PDF's bytes as the worker makes them. Ends when the render ends; destroyed with the error when it fails
   * or is aborted (so a download that was already under way is cut, never ends as if complete).
   */
  readonly body: Readable;
  /**
   * Resolves once the first bytes came (or the render ended): then `body` may be sent. Rejects when the render
   * failed or was aborted before that, with the error or the signal's reason.
   */
  readonly started: Promise<void>;
  /** Resolves when the render ended, with the thread that rendered; rejects as `started` does, at any point. */
  readonly done: Promise<{ threadId: number }>;
}

/** One worker of the pool, and whether the pool still has it. */
interface Thread {
  worker: Worker;
  /** Ends it once idle too long. */
  idleTimer?: NodeJS.Timeout;
  /** Why it died: an error thrown in it (its `exit` follows). */
  crash?: Error;
}

/**
 * PDF renders in worker threads, so PDFKit's synchronous work (layout, and the font subsetting of `end`, 50-100 ms
 * in one block for a large document) never holds the main thread's event loop: the main thread posts the export (its
 * text copied to the worker a part at a time, `postCharacters`) and passes on the bytes it gets back. Workers start when first needed, serve one
 * render at a time, stay idle for the next (up to `threads` of them), and end after `idleMs` without work. A render
 * whose signal aborts ends its worker (`terminate`: even PDFKit's `end`, which no pause can cut, stops at once);
 * a worker that died is replaced by the next render that needs one.
 */
export class PdfThreads {
  readonly #threads: number;
  readonly #idleMs: number;
  readonly #maxHeapMb: number;
  readonly #setup: string | undefined;
  readonly #tsx: string | undefined;
  readonly #idle: Thread[] = [];
  readonly #busy = new Set<Thread>();
  #alive = 0;
  #closed = false;

  constructor(options: PdfThreadsOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1)
      throw new RangeError('threads must be a positive integer');
    this.#threads = options.threads;
    this.#idleMs = options.idleMs ?? 30_000;
    this.#maxHeapMb = options.maxHeapMb ?? 768;
    this.#setup = options.setup?.href;
    this.#tsx = fromSources ? import.meta.resolve('tsx/esm/api') : undefined;
  }

  /** Worker threads running now, idle or rendering (one that is ending counts until it has ended). */
  get alive(): number {
    return this.#alive;
  }

  /** Starts rendering `exported` in a worker; `signal` aborting stops it (the worker ends) and fails the render. */
  render(exported: ExportedConversation, options: { signal?: AbortSignal } = {}): PdfRender {
    const { signal } = options;
    const body = new Readable({ read() {} });
    // Whoever reads `body` hears its error too; without a reader (the render failed before it began) none is due.
    body.on('error', () => {});
    let markStarted!: () => void;
    let failStarted!: (error: unknown) => void;
    const started = new Promise<void>((resolve, reject) => {
      markStarted = resolve;
      failStarted = reject;
    });
    let markDone!: (result: { threadId: number }) => void;
    let failDone!: (error: unknown) => void;
    const done = new Promise<{ threadId: number }>((resolve, reject) => {
      markDone = resolve;
      failDone = reject;
    });
    // The caller may await only one of them: the other must not become an unhandled rejection.
    started.catch(() => {});
    done.catch(() => {});
    const fail = (error: unknown) => {
      failStarted(error);
      failDone(error);
      body.destroy(error instanceof Error ? error : new Error(String(error)));
    };
    if (this.#closed) {
      fail(new Error('The PDF workers are closed'));
      return { body, started, done };
    }
    if (signal?.aborted) {
      fail(signal.reason);
      return { body, started, done };
    }

    const thread = this.#take();
    const { worker } = thread;
    let finished = false;
    const finish = () => {
      finished = true;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      this.#busy.delete(thread);
    };
    const onMessage = (reply: PdfReply) => {
      if (reply.type === 'data') {
        body.push(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
        markStarted();
        return;
      }
      finish();
      // A render that failed in PDFKit leaves the worker as able as before: it serves the next one.
      this.#giveBack(thread);
      if (reply.type === 'end') {
        body.push(null);
        markStarted();
        markDone({ threadId: reply.threadId });
      } else fail(new Error(`The PDF render failed: ${reply.message}`));
    };
    const onExit = (code: number) => {
      finish();
      fail(
        new Error(
          thread.crash
            ? `The PDF worker crashed: ${thread.crash.message}`
            : `The PDF worker stopped (exit code ${code})`,
          { cause: thread.crash },
        ),
      );
    };
    const onAbort = () => {
      if (finished) return;
      finish();
      void worker.terminate();
      fail(signal?.reason);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#send(worker, exported, () => finished).catch((error: unknown) => {
      // What cannot be copied to the worker (never, for an export's plain data) fails this render only.
      if (finished) return;
      finish();
      void worker.terminate();
      fail(error);
    });
    return { body, started, done };
  }

  /** Posts `exported` to `worker` in parts of about `postCharacters`, then asks it to render; stops once `stopped`. */
  async #send(worker: Worker, exported: ExportedConversation, stopped: () => boolean): Promise<void> {
    const post = (job: PdfJob) => worker.postMessage(job);
    const { messages } = exported;
    let start = 0;
    let characters = 0;
    let index = 0;
    let begun = false;
    const flush = async () => {
      const part = messages.slice(start, index);
      if (begun) post({ type: 'messages', messages: part });
      else post({ type: 'begin', exported: { ...exported, messages: part } });
      begun = true;
      start = index;
      characters = 0;
      await setImmediate();
    };
    for (; index < messages.length; index += 1) {
      if (characters > 0 && characters + messages[index]!.content.length > postCharacters) await flush();
      if (stopped()) return;
      characters += messages[index]!.content.length;
    }
    if (!begun || start < index) await flush();
    if (!stopped()) post({ type: 'render' });
  }

  /** Ends every worker; renders still running fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const threads = [...this.#idle.splice(0), ...this.#busy];
    await Promise.all(threads.map(({ worker }) => worker.terminate()));
  }

  /** An idle worker, or a new one; kept referenced (the process waits for it) while it renders. */
  #take(): Thread {
    const thread = this.#idle.pop() ?? this.#start();
    clearTimeout(thread.idleTimer);
    thread.worker.ref();
    this.#busy.add(thread);
    return thread;
  }

  /** Keeps a worker that finished a render for the next (up to `threads` of them), or ends it. */
  #giveBack(thread: Thread): void {
    if (this.#closed || this.#idle.length >= this.#threads) {
      void thread.worker.terminate();
      return;
    }
    thread.worker.unref();
    thread.idleTimer = setTimeout(() => {
      const index = this.#idle.indexOf(thread);
      if (index >= 0) this.#idle.splice(index, 1);
      void thread.worker.terminate();
    }, this.#idleMs);
    thread.idleTimer.unref();
    this.#idle.push(thread);
  }

  #start(): Thread {
    const worker = new Worker(bootstrap, {
      eval: true,
      // Nothing the main thread preloads (tsx's hooks, instrumentation) is of use there; see `workerEntry`.
      execArgv: [],
      workerData: { entry: workerEntry, tsx: this.#tsx, setup: this.#setup },
      resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb },
    });
    const thread: Thread = { worker };
    this.#alive += 1;
    // An error thrown in the worker (its code failed to load, it ran out of memory) ends it: `exit` follows.
    worker.on('error', (error) => {
      thread.crash = error;
    });
    worker.once('exit', () => {
      this.#alive -= 1;
      clearTimeout(thread.idleTimer);
      const index = this.#idle.indexOf(thread);
      if (index >= 0) this.#idle.splice(index, 1);
      this.#busy.delete(thread);
    });
    return thread;
  }
}
