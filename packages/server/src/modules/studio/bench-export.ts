/**
 * What a PDF export costs the process: the CPU of one large export, and how late the event loop runs (what every
 * other request waits) while three of them are asked for at once, each started straight away as before the render
 * slots, and through them (`exportLimits.renders` at a time). Prints a table; it asserts nothing.
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

async function threeAtOnce(label: string, run: (render: () => Promise<Buffer>) => Promise<Buffer>) {
  const exports = [conversation(11), conversation(12), conversation(13)];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const started = performance.now();
  const finished: number[] = [];
  delay.enable();
  await Promise.all(
    exports.map((exported) =>
      run(() => toPdf(exported)).then(() => finished.push(performance.now() - started)),
    ),
  );
  delay.disable();
  return {
    case: label,
    'loop delay p50 ms': milliseconds(delay.percentile(50)),
    'p99 ms': milliseconds(delay.percentile(99)),
    'max ms': milliseconds(delay.max),
    'first done ms': Math.min(...finished).toFixed(0),
    'all done ms': Math.max(...finished).toFixed(0),
  };
}

// Warm up PDFKit and the font once, so the first row does not pay for loading them.
await toPdf(conversation(0));
console.table([await oneExport()]);
const slots = new RenderSlots(exportLimits);
console.table([
  await threeAtOnce('3 exports, all at once (before)', (render) => render()),
  await threeAtOnce(`3 exports, ${exportLimits.renders} render slots (after)`, (render) => slots.run(render)),
]);
