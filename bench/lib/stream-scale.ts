import { Agent, request } from 'node:http';
import { memoryOf, resetPeakMemory, sleep, startProcess, tsNode } from './processes.js';
import { BENCH_MODEL, startWebox } from './webox.js';

export interface StreamRun {
  streams: number;
  completed: number;
  failed: number;
  /** Most streams open at the same moment, as the client saw it. */
  peakConcurrent: number;
  /** Why streams failed: HTTP status, error code, or `no [DONE]`. */
  failures: Record<string, number>;
  wallMs: number;
  ttftMs: { p50: number; p99: number; max: number };
  totalMs: { p50: number; p99: number; max: number };
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN;

/**
 * Opens `streams` SSE requests (in bursts of 100 every 10 ms, so the listen backlog is not what is measured),
 * records time to the first content event and to `[DONE]`. Bounded: whatever is still open after `timeoutMs` fails.
 */
export async function runStreams(options: {
  url: string;
  streams: number;
  key?: string;
  timeoutMs?: number;
}): Promise<StreamRun> {
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const payload = JSON.stringify({
    model: BENCH_MODEL,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Hello, how are you today?' }],
  });
  const target = new URL(options.url);
  const ttft: number[] = [];
  const total: number[] = [];
  let failed = 0;
  const failures: Record<string, number> = {};
  let open = 0;
  let peakConcurrent = 0;
  const requests = new Set<import('node:http').ClientRequest>();
  const started = performance.now();

  const one = () =>
    new Promise<void>((resolve) => {
      const begin = performance.now();
      let first = 0;
      let text = '';
      const done = (ok: boolean, reason = 'no first token') => {
        if (!requests.delete(call)) return;
        if (ok && first) {
          ttft.push(first - begin);
          total.push(performance.now() - begin);
        } else {
          failed += 1;
          failures[reason] = (failures[reason] ?? 0) + 1;
        }
        resolve();
      };
      const call = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          },
        },
        (response) => {
          open += 1;
          peakConcurrent = Math.max(peakConcurrent, open);
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (!first && chunk.includes('"content"')) first = performance.now();
            text = (text + chunk).slice(-64);
          });
          response.on('end', () => {
            open -= 1;
            const ok = response.statusCode === 200 && text.includes('[DONE]');
            done(
              ok,
              response.statusCode === 200 ? `no [DONE]: …${text.slice(-40)}` : `HTTP ${response.statusCode}`,
            );
          });
          response.on('error', (error: NodeJS.ErrnoException) => {
            open -= 1;
            done(false, `response ${error.code ?? error.message}`);
          });
        },
      );
      requests.add(call);
      call.on('error', (error: NodeJS.ErrnoException) =>
        done(false, `request ${error.code ?? error.message}`),
      );
      call.end(payload);
    });

  const all: Promise<void>[] = [];
  const timer = setTimeout(() => {
    for (const call of requests) call.destroy(new Error('benchmark timeout'));
  }, options.timeoutMs ?? 120_000);
  for (let index = 0; index < options.streams; index += 1) {
    all.push(one());
    if (index % 100 === 99) await sleep(10);
  }
  await Promise.all(all);
  clearTimeout(timer);
  agent.destroy();
  ttft.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  const summary = (values: number[]) => ({
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    max: round(values.at(-1) ?? Number.NaN),
  });
  return {
    streams: options.streams,
    completed: ttft.length,
    failed,
    peakConcurrent,
    failures,
    wallMs: round(performance.now() - started),
    ttftMs: summary(ttft),
    totalMs: summary(total),
  };
}

const round = (value: number) => Math.round(value * 10) / 10;

/**
 * 2,000 concurrent SSE streams from an upstream pacing 20 tokens 50 ms apart: first straight to the upstream (the
 * baseline time to first token), then through WeBox with billing on, sampling its memory every 100 ms.
 */
export async function runStreamScale(options: {
  streams: number;
  log: (line: string) => void;
  /** Extra arguments of bench/servers/webox.ts, e.g. a larger upstream pool or listen backlog. */
  weboxArgs?: string[];
}) {
  const paced = await startProcess({
    name: 'paced upstream',
    ...tsNode('bench/servers/upstream.ts', ['--token-delay-ms', '50']),
  });
  try {
    const direct = await runStreams({ url: `${paced.origin}/v1/chat/completions`, streams: options.streams });
    options.log(`  direct   ${JSON.stringify(direct)}`);
    const webox = await startWebox({
      upstream: paced.origin,
      billing: true,
      extraArgs: options.weboxArgs ?? [],
    });
    try {
      const [key] = await webox.createKeys(1);
      const url = `${webox.origin}/v1/chat/completions`;
      await runStreams({ url, streams: 50, key: key! });
      const pid = webox.child.pid!;
      const before = memoryOf(pid);
      resetPeakMemory(pid);
      let peakRss = before.rss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, memoryOf(pid).rss);
      }, 100);
      const through = await runStreams({ url, streams: options.streams, key: key! });
      clearInterval(sampler);
      const after = memoryOf(pid);
      const result = {
        direct,
        webox: through,
        addedTtftP99Ms: round(through.ttftMs.p99 - direct.ttftMs.p99),
        addedTtftP50Ms: round(through.ttftMs.p50 - direct.ttftMs.p50),
        rssBeforeMiB: mib(before.rss),
        peakRssMiB: mib(Math.max(peakRss, after.peak)),
        rssAfterMiB: mib(after.rss),
      };
      options.log(`  webox    ${JSON.stringify(through)}`);
      options.log(
        `  all complete: ${through.completed === options.streams ? 'yes' : `no (${through.failed} failed)`}; added TTFT p50 ${result.addedTtftP50Ms} ms, p99 ${result.addedTtftP99Ms} ms; RSS ${result.rssBeforeMiB} MiB before, peak ${result.peakRssMiB} MiB, ${result.rssAfterMiB} MiB after`,
      );
      return result;
    } finally {
      await webox.close();
    }
  } finally {
    await paced.stop();
  }
}

const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
