import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import type { Database } from '../db/client.js';
import { createSmtpTransport } from '../mail/transport.js';
import { Mailer } from '../modules/notifications/service.js';
import { startSmtpServer, type TestSmtpServer } from '../modules/notifications/testing.js';
import { type JobQueue, type JobQueueOptions, MemoryJobQueue } from '../stores/job-queue.js';
import type { DatabaseBackend, StoreBackend } from './backends.js';
import { createTestApp, type TestApp } from './test-app.js';

export interface SmtpApp {
  /** The app, sending through `smtp` (its SMTP_URL) as `from` (its MAIL_FROM). */
  readonly harness: TestApp;
  /** `harness.app`, and its database. */
  readonly app: FastifyInstance;
  readonly db: Database;
  readonly smtp: TestSmtpServer;
  readonly from: string;
  /** An in-process job queue, as another process has; closed after the block's tests. */
  queue(options?: JobQueueOptions): MemoryJobQueue;
  /**
   * A mailer of another process on the app's database, sending to `smtpUrl` (default: `smtp`). Its jobs run only
   * with `running` (its worker registered): without, it is a process that stopped before its jobs ran, or one whose
   * tries the test makes itself with `deliver`. `jobs` is its queue (default: a fresh `queue()`).
   */
  mailer(options?: {
    running?: boolean;
    jobs?: JobQueue;
    smtpUrl?: string;
    recordRetryDelaysMs?: number[];
  }): Mailer;
}

/**
 * For a describe block of mail tests: a real SMTP server in this process and a full app on `backends` sending through
 * it, started before the block's tests and closed after them, with the queues its `queue()` and `mailer()` made.
 */
export function useSmtpApp(backends: { database: DatabaseBackend; stores: StoreBackend }): SmtpApp {
  const from = 'WeBox <hello@webox.test>';
  let harness: TestApp | undefined;
  let smtp: TestSmtpServer | undefined;
  const queues: MemoryJobQueue[] = [];
  beforeAll(async () => {
    smtp = await startSmtpServer();
    harness = await createTestApp(backends, { SMTP_URL: smtp.url, MAIL_FROM: from });
  });
  afterAll(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    await harness?.close();
    await smtp?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (!value) throw new Error('useSmtpApp: its app is there only in the tests and hooks of its block');
    return value;
  };
  const smtpApp: SmtpApp = {
    get harness() {
      return started(harness);
    },
    get app() {
      return started(harness).app;
    },
    get db() {
      return started(harness).app.db;
    },
    get smtp() {
      return started(smtp);
    },
    from,
    queue(options) {
      const queue = new MemoryJobQueue(options);
      queues.push(queue);
      return queue;
    },
    mailer(options = {}) {
      const mailer = new Mailer({
        db: smtpApp.db,
        jobs: options.jobs ?? smtpApp.queue(),
        from,
        transport: createSmtpTransport(options.smtpUrl ?? smtpApp.smtp.url),
        ...(options.recordRetryDelaysMs ? { recordRetryDelaysMs: options.recordRetryDelaysMs } : {}),
      });
      if (options.running) mailer.registerWorker();
      return mailer;
    },
  };
  return smtpApp;
}
