/**
 * What a PDF export costs the process: the CPU of one large export, and how long the main thread's event loop is held
 * (what every other request, a proxied /v1 call included, waits) while one large export renders, and three at once
 * through the render slots (`exportLimits.renders` at a time): rendered on the main thread as the routes did before
 * (`toPdf`, which pauses every 10 ms but cannot cut PDFKit's `end`), and in worker threads as they do now
 * (`PdfThreads`), side by side. Two measures of the loop: `monitorEventLoopDelay` at 1 ms resolution, and the worst
 * gap between the ticks of a 1 ms interval timer; and how long the main thread was busy in all (event loop utilisation).
 * Prints tables; it asserts nothing.
 *
 *   npm run studio:bench-export
 *
 * BENCH_CHARACTERS (default 400,000: two messages at the 200,000-character maximum) sizes each export;
 * BENCH_TEXT=prose lays out repeated sentences instead of base64, the worst case per character.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ExportedConversation } from './export.js';
import { exportLimits, RenderSlots } from './export-limits.js';
import { toPdf } from './export-pdf.js';
import { PdfThreads } from './pdf-threads.js';

const characters = Number(process.env.BENCH_CHARACTERS ?? 400_000);
const kind = process.env.BENCH_TEXT === 'prose' ? 'prose' : 'base64';

/** Base64 of pseudo-random bytes (every word distinct, as a pasted key or file is), or prose whose words repeat. */
function text(length: number, seed: number): string {
  if (kind === 'prose') {
    const sentence = 'An answer long enough to wrap over a few lines of the page, as most answers do. ';
    return sentence.repeat(Math.ceil(length / sentence.length)).slice(0, length);
  }
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let state = seed;
  let out = '';
  for (let index = 0; index < length; index += 1) {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
    out += alphabet[state % 64];
  }
  return out;
}

function conversation(seed: number): ExportedConversation {
  const perMessage = Math.min(characters, 200_000);
  const messages = Array.from({ length: Math.ceil(characters / perMessage) }, (_, index) => ({
    role: index % 2 === 0 ? ('user' as const) : ('assistant' as const),
    content: text(Math.min(perMessage, characters - index * perMessage), seed + index),
    model: index % 2 === 0 ? null : 'gpt-test',
    inputTokens: 0,
    outputTokens: 0,
    credits: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
  }));
  return {
    title: 'Bench',
    model: 'gpt-test',
    systemPrompt: '',
    createdAt: '2026-01-01T00:00:00.000Z',
    messages,
  };
}

const milliseconds = (nanoseconds: number) => (nanoseconds / 1e6).toFixed(1);

async function oneExport() {
  const exported = conversation(1);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await toPdf(exported);
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  return {
    case: `one export, ${kind}`,
    'CPU ms': cpuMs.toFixed(0),
    'µs CPU/char': ((cpuMs * 1000) / characters).toFixed(2),
    'wall ms': (performance.now() - started).toFixed(0),
  };
}

/** A render to completion, on the main thread or in a worker. */
type Render = (exported: ExportedConversation) => Promise<unknown>;

const onMainThread: Render = (exported) => toPdf(exported);

const threads = new PdfThreads({ threads: exportLimits.renders });
const inWorker: Render = async (exported) => {
  const render = threads.render(exported);
  // The bytes are read as the route's response would (a stream); the bench only counts them.
  let bytes = 0;
  render.body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  await render.done;
  return bytes;
};

/** How the main thread's loop fares while `count` exports render through the render slots. */
async function loopWhile(label: string, count: number, render: Render) {
  const exports = Array.from({ length: count }, (_, index) => conversation(11 + index));
  const slots = new RenderSlots(exportLimits);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let worstGap = 0;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - lastTick);
    lastTick = now;
  }, 1);
  const started = performance.now();
  const utilization = performance.eventLoopUtilization();
  delay.enable();
  await Promise.all(exports.map((exported) => slots.run(() => render(exported))));
  delay.disable();
  const busy = performance.eventLoopUtilization(utilization);
  clearInterval(ticker);
  return {
    case: label,
    'loop delay p50 ms': milliseconds(delay.percentile(50)),
    'p99 ms': milliseconds(delay.percentile(99)),
    'max ms': milliseconds(delay.max),
    'worst 1 ms timer gap ms': worstGap.toFixed(1),
    // Time the main thread ran code rather than waited: on a loaded machine the delays above also count the time
    // the OS gave its core to another thread, this does not.
    'main thread busy ms': busy.active.toFixed(0),
    'all done ms': (performance.now() - started).toFixed(0),
  };
}

// Warm up PDFKit and the font once in each place (and start the workers), so no row pays for loading them.
await toPdf(conversation(0));
await Promise.all([inWorker(conversation(0)), inWorker(conversation(0))]);
console.table([await oneExport()]);
console.table([
  await loopWhile(`1 export, main thread (before)`, 1, onMainThread),
  await loopWhile(`1 export, worker thread (after)`, 1, inWorker),
  await loopWhile(`3 exports, ${exportLimits.renders} slots, main thread (before)`, 3, onMainThread),
  await loopWhile(`3 exports, ${exportLimits.renders} slots, worker threads (after)`, 3, inWorker),
]);
await threads.close();
