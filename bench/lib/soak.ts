import { sleep } from './processes.js';
import type { WeboxInstance } from './webox.js';
import { errorCount, requestsPerSecond, runWrk } from './wrk.js';

interface Sample {
  minute: number;
  rssMiB: number;
  heapUsedMiB: number;
  loopDelayP99Ms: number;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * Moderate load (8 connections, WeBox billing on) for `minutes`, reading the server's own /metrics every 15 s:
 * resident memory, heap, and the event loop's p99 delay. Prints their slopes per minute; the first minute is
 * warm-up and left out of the slopes.
 */
export async function runSoak(options: {
  instance: WeboxInstance;
  target: { url: string; keys?: string[] };
  body: string;
  minutes: number;
  log: (line: string) => void;
}) {
  const samples: Sample[] = [];
  const started = Date.now();
  const load = runWrk({
    ...options.target,
    connections: 8,
    durationSeconds: Math.round(options.minutes * 60),
    body: options.body,
  });
  let finished = false;
  void load.finally(() => {
    finished = true;
  });
  while (!finished && Date.now() - started < options.minutes * 60_000 + 30_000) {
    await sleep(15_000);
    const text = await fetch(`${options.instance.origin}/metrics`)
      .then((response) => response.text())
      .catch(() => '');
    if (!text) continue;
    const sample = {
      minute: (Date.now() - started) / 60_000,
      rssMiB: metric(text, 'process_resident_memory_bytes') / 1024 / 1024,
      heapUsedMiB: metric(text, 'nodejs_heap_size_used_bytes') / 1024 / 1024,
      loopDelayP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    };
    samples.push(sample);
    options.log(
      `  ${sample.minute.toFixed(1)} min  RSS ${sample.rssMiB.toFixed(0)} MiB  heap ${sample.heapUsedMiB.toFixed(0)} MiB  loop delay p99 ${sample.loopDelayP99Ms.toFixed(2)} ms`,
    );
  }
  const wrk = await load;
  const steady = samples.filter((sample) => sample.minute >= Math.min(1, options.minutes / 2));
  const result = {
    minutes: options.minutes,
    requestsPerSecond: Math.round(requestsPerSecond(wrk)),
    errors: errorCount(wrk),
    p99Ms: wrk.latencyUs.p99 / 1000,
    rssSlopeMiBPerMinute: slope(steady.map((sample) => [sample.minute, sample.rssMiB])),
    heapSlopeMiBPerMinute: slope(steady.map((sample) => [sample.minute, sample.heapUsedMiB])),
    loopDelayP99SlopeMsPerMinute: slope(steady.map((sample) => [sample.minute, sample.loopDelayP99Ms])),
    samples,
  };
  options.log(
    `  ${result.requestsPerSecond} req/s, ${result.errors} errors; slopes per minute: RSS ${result.rssSlopeMiBPerMinute.toFixed(2)} MiB, heap ${result.heapSlopeMiBPerMinute.toFixed(2)} MiB, loop delay p99 ${result.loopDelayP99SlopeMsPerMinute.toFixed(3)} ms`,
  );
  return result;
}
