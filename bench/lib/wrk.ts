import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuTimeOf, endedChildrenCpuTime } from './processes.js';

const script = fileURLToPath(new URL('../wrk/post.lua', import.meta.url));

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** CPU time the target process spent per request during the run (when its pid was given). */
  cpuUsPerRequest?: number;
  /** CPU time the upstream behind the target spent per request (when its pid was given). */
  upstreamCpuUsPerRequest?: number;
  /** CPU time wrk itself spent per request: the load generator shares the machine's cores with the targets. */
  wrkCpuUsPerRequest?: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  body: string;
  headers?: Record<string, string>;
  /** Bearer keys, one per wrk thread. */
  keys?: string[];
  /** The target's process: its CPU time is read before and after the run. */
  pid?: number;
  /** The upstream behind a proxying target: its CPU time is read too. */
  upstreamPid?: number;
}

/** One wrk run (bounded by its duration plus a margin); the Lua script's done() prints the JSON parsed here. */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const threads = Math.min(options.connections, 2);
  const args = [
    `-t${threads}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--timeout',
    '10s',
    '-s',
    script,
    options.url,
  ];
  const env = {
    ...process.env,
    BENCH_BODY: options.body,
    BENCH_HEADERS: Object.entries(options.headers ?? {})
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
    BENCH_KEYS: (options.keys ?? []).join(','),
  };
  const cpuBefore = options.pid ? cpuTimeOf(options.pid) : 0;
  const upstreamCpuBefore = options.upstreamPid ? cpuTimeOf(options.upstreamPid) : 0;
  const wrkCpuBefore = endedChildrenCpuTime();
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      args,
      { env, timeout: (options.durationSeconds + 30) * 1000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        const line = stdout.split('\n').find((text) => text.startsWith('BENCH_JSON '));
        if (!line) {
          reject(new Error(`wrk gave no result (${error?.message ?? 'no error'}):\n${stdout}\n${stderr}`));
          return;
        }
        const result = JSON.parse(line.slice('BENCH_JSON '.length)) as WrkResult;
        if (result.requests > 0) {
          if (options.pid) result.cpuUsPerRequest = (cpuTimeOf(options.pid) - cpuBefore) / result.requests;
          if (options.upstreamPid)
            result.upstreamCpuUsPerRequest =
              (cpuTimeOf(options.upstreamPid) - upstreamCpuBefore) / result.requests;
          // wrk has ended and been waited for by now (execFile's callback runs on its exit).
          result.wrkCpuUsPerRequest = (endedChildrenCpuTime() - wrkCpuBefore) / result.requests;
        }
        resolve(result);
      },
    );
  });
}

export function requestsPerSecond(result: WrkResult): number {
  return result.requests / (result.durationUs / 1e6);
}

export function errorCount(result: WrkResult): number {
  const { connect, read, write, status, timeout } = result.errors;
  return connect + read + write + status + timeout;
}
