import type { FastifyInstance } from 'fastify';
import { createSmtpTransport } from '../../mail/transport.js';
import { Mailer, SWEEP_OUTBOX_JOB, sweepOutbox } from './service.js';

/** How often the outbox is swept (emails whose job was lost, interrupted claims, old bodies). */
const SWEEP_EVERY_MS = 5 * 60_000;

/**
 * Decorates `app.mailer` (outbox + SMTP when SMTP_URL is set), starts its delivery worker, sweeps the outbox at start
 * (emails queued by a process that stopped before their job ran are sent now, not never) and schedules the sweep
 * (one job per time slot, so on BullMQ one process runs each). Root instance only.
 */
export function registerNotifications(app: FastifyInstance): void {
  const transport = app.env.SMTP_URL ? createSmtpTransport(app.env.SMTP_URL) : undefined;
  const mailer = new Mailer({
    db: app.db,
    jobs: app.stores.jobs,
    from: app.env.MAIL_FROM,
    transport,
    log: app.log,
  });
  mailer.registerWorker();
  app.decorate('mailer', mailer);

  const sweep = async () => {
    const requeued = await mailer.requeueStranded();
    if (requeued > 0) {
      app.log.info(
        { requeued },
        'emails waiting past the grace handed to the job queue again (lost jobs replaced)',
      );
    }
    const { interrupted, cleared } = await sweepOutbox(app.db);
    if (interrupted > 0) {
      app.log.warn(
        { interrupted },
        'emails interrupted during their send marked interrupted, not sent again',
      );
    }
    if (cleared > 0) app.log.info({ cleared }, 'old email bodies cleared');
  };
  app.stores.jobs.register(SWEEP_OUTBOX_JOB, sweep);
  let atStart: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    atStart = sweep().catch((error: unknown) =>
      app.log.error({ err: error }, 'the outbox sweep at start failed'),
    );
    timer = setInterval(() => {
      const slot = Math.floor(Date.now() / SWEEP_EVERY_MS);
      app.stores.jobs
        .enqueue(SWEEP_OUTBOX_JOB, {}, { jobId: `sweep-outbox-${slot}`, attempts: 1 })
        .catch((error: unknown) => app.log.error({ err: error }, 'could not enqueue the outbox sweep'));
    }, SWEEP_EVERY_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    // Its jobs go to the queue, which closes after the app.
    await atStart;
    transport?.close();
  });
}
