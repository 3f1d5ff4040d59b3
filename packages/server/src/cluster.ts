import cluster, { type Worker } from 'node:cluster';
import type { Env } from './config/env.js';
import { connectDatabase } from './db/client.js';
import type { Services } from './services.js';
import { createStores } from './stores/index.js';

/** True in a process forked by `runClusterPrimary`: it serves, and leaves migrations and the first admin alone. */
export const isClusterWorker = cluster.isWorker;

/** A worker that dies this soon after its start is not restarted again: something is wrong with every start. */
const CRASH_LOOP_MS = 5_000;

function logLine(level: 'info' | 'warn' | 'error', message: string, fields: object = {}) {
  // The primary has no Fastify instance; it writes the same JSON line shape as pino.
  const line = {
    level: { info: 30, warn: 40, error: 50 }[level],
    time: Date.now(),
    pid: process.pid,
    ...fields,
  };
  process.stdout.write(`${JSON.stringify({ ...line, msg: message })}\n`);
}

/**
 * The services of a worker: the same database and stores as `openServices`, without migrating, which the primary
 * did once before forking (N workers racing through the migration check at every start buys nothing).
 */
export async function openWorkerServices(env: Env): Promise<Services> {
  const database = await connectDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });
  const stores = createStores({ redisUrl: env.REDIS_URL, prefix: env.REDIS_PREFIX });
  return {
    database,
    stores,
    async close() {
      await stores.close();
      await database.close();
    },
  };
}

export interface ClusterPrimaryOptions {
  workers: number;
  /** How long SIGTERM waits for the workers to finish their own graceful shutdown before killing them. */
  shutdownTimeoutMs: number;
  /** Runs once before any worker is forked: migrations and the first administrator. */
  prepare(): Promise<void>;
}

/**
 * The primary of `WEBOX_WORKERS=N`: prepares once, forks N workers that share the listening socket, restarts a
 * worker that crashes (unless it crashes right after starting), and on SIGTERM/SIGINT forwards the signal so each
 * worker drains its own requests, then exits when they all have.
 */
export async function runClusterPrimary(options: ClusterPrimaryOptions): Promise<void> {
  await options.prepare();
  let stopping = false;
  const startedAt = new Map<Worker, number>();
  const fork = () => startedAt.set(cluster.fork(), Date.now());

  cluster.on('listening', (worker, address) => {
    logLine('info', 'worker serving', { worker: worker.process.pid, port: address.port });
  });
  cluster.on('exit', (worker, code, signal) => {
    const started = startedAt.get(worker) ?? 0;
    startedAt.delete(worker);
    if (stopping) {
      if (startedAt.size === 0) {
        logLine('info', 'stopped');
        process.exit(0);
      }
      return;
    }
    if (Date.now() - started < CRASH_LOOP_MS) {
      logLine('error', 'worker died right after starting: not restarting it', { code, signal });
      if (startedAt.size === 0) process.exit(1);
      return;
    }
    logLine('warn', 'worker died: starting another', { worker: worker.process.pid, code, signal });
    fork();
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logLine('info', 'shutting down: forwarding the signal to the workers', { signal });
    for (const worker of startedAt.keys()) worker.process.kill(signal);
    // The workers bound their own drain by SHUTDOWN_TIMEOUT_MS; this only catches a worker that hangs past it.
    setTimeout(() => {
      logLine('warn', 'workers still running past the shutdown bound: killing them');
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs + 5_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  for (let index = 0; index < options.workers; index += 1) fork();
}
