import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Started {
  name: string;
  port: number;
  origin: string;
  child: ChildProcess;
  /** Everything the process printed (bounded to the last 64 KiB). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a process and waits (bounded) until it prints `listening <port>`, or for `readyPattern` when given with a
 * fixed port. Every process the benchmark starts goes through here so it is stopped by its own pid.
 */
export async function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  port?: number;
  readyPattern?: RegExp;
  timeoutMs?: number;
}): Promise<Started> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? repositoryRoot,
    env: Object.fromEntries(
      Object.entries({ ...process.env, ...options.env }).filter(([, value]) => value !== undefined),
    ),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const append = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-65_536);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = once(child, 'exit');
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let port: number | undefined;
  while (port === undefined) {
    const match = /listening (\d+)/.exec(text);
    if (match) port = Number(match[1]);
    else if (options.readyPattern && options.port && options.readyPattern.test(text)) port = options.port;
    else if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited before serving:\n${text}`);
    } else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not start in time:\n${text}`);
    } else await sleep(50);
  }
  return {
    name: options.name,
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    output: () => text,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A TypeScript file of the repository run the way `npm run bench` runs itself. With `built`, workspace packages
 * resolve to their compiled `dist/` (what `npm start` runs) instead of their TypeScript sources.
 */
export function tsNode(
  file: string,
  args: string[] = [],
  nodeFlags: string[] = [],
  options: { built?: boolean } = {},
) {
  return {
    command: process.execPath,
    args: [
      ...nodeFlags,
      ...(options.built ? [] : ['--conditions=@webox/source']),
      '--import',
      'tsx',
      file,
      ...args,
    ],
  };
}

/** Compiles the gateway and the server (incremental: quick when nothing changed), so `dist/` is what the tree says. */
export function buildServer(): void {
  execFileSync('npx', ['tsc', '-b', 'packages/gateway', 'packages/server'], {
    cwd: repositoryRoot,
    stdio: 'inherit',
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts a new peak-memory window for a process and its children: Linux's high-water mark (VmHWM) otherwise counts
 * from the process's start, so a peak read after a burst would include whatever start-up needed.
 */
export function resetPeakMemory(pid: number): void {
  for (const id of [pid, ...childrenOf(pid)]) {
    try {
      writeFileSync(`/proc/${id}/clear_refs`, '5');
    } catch {
      // The process ended, or this kernel has no clear_refs: the peak then counts from the process's start.
    }
  }
}

/** Resident and peak resident memory (since the start, or since `resetPeakMemory`) of a process and its children, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  for (const status of procFilesOf(pid, 'status')) {
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  }
  return { rss, peak };
}

/**
 * CPU time (user + system, in microseconds) a process and its children have used so far. Read around a load run, it
 * gives the CPU a target spends per request, which a noisy neighbour barely moves, unlike requests per second.
 */
export function cpuTimeOf(pid: number): number {
  let time = 0;
  for (const stat of procFilesOf(pid, 'stat')) time += cpuTimeIn(stat);
  return time;
}

/**
 * CPU time (user + system, µs) of this process's children that have ended and been waited for (`cutime` + `cstime`):
 * read around a wrk run, it gives wrk's own CPU, as the other children (the servers) are still running.
 */
export function endedChildrenCpuTime(): number {
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return ((Number(fields[13]) + Number(fields[14])) / ticksPerSecond) * 1_000_000;
}

/** CPU time (user + system, µs) of one thread of this process (its id: the process id for the main thread). */
export function threadCpuTimeOf(threadId: number): number {
  return cpuTimeIn(readFileSync(`/proc/self/task/${threadId}/stat`, 'utf8'));
}

const ticksPerSecond = 100; // USER_HZ on Linux

/** The fields of a `/proc/…/stat` text after the command name (which may hold spaces), from the state on. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU time in µs of a `/proc/…/stat` text: utime and stime, the 12th and 13th fields from the state. */
function cpuTimeIn(stat: string): number {
  const fields = statFields(stat);
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1_000_000;
}

/** `/proc/<id>/<file>` of a process and of each of its children, leaving out any that ended meanwhile. */
function procFilesOf(pid: number, file: 'stat' | 'status'): string[] {
  const texts: string[] = [];
  for (const id of [pid, ...childrenOf(pid)]) {
    try {
      texts.push(readFileSync(`/proc/${id}/${file}`, 'utf8'));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return texts;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Installs wrk from Debian when it is missing (the benchmark runs as root on the project's machines). */
export function ensureWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return;
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
  }
  process.stdout.write('wrk is missing: installing it with apt-get\n');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function machine() {
  const run = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    nproc: run('nproc', []),
    cpu,
    memory: run('free', ['-h']).split('\n')[1]?.replace(/\s+/g, ' ') ?? 'unknown',
    node: process.version,
    wrk: run('sh', ['-c', 'wrk --version 2>&1 | head -1']),
    kernel: run('uname', ['-r']),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    commit: run('git', ['rev-parse', '--short', 'HEAD']),
    // Other people's uncommitted work is part of what runs: say so.
    uncommittedFiles: run('sh', ['-c', 'git status --porcelain | wc -l']),
  };
}
