import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import type { Database } from '../../db/client.js';
import type { JobFailure } from '../../stores/job-queue.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { useSmtpApp } from '../../testing/smtp-app.js';
import { uniqueEmail } from '../accounts/testing.js';
import { DELIVERY_ATTEMPTS, REQUEUE_GRACE_MS, SEND_EMAIL_JOB, SWEEP_OUTBOX_JOB } from './service.js';
import { emailOutbox } from './tables.js';
import { outboxRow, passwordChangedEmail, refuseStatusUpdates, sleep, waitFor } from './testing.js';

/** Moves a row's times back, as if it had been written (and last tried) `ms` ago. */
async function age(db: Database, id: string, ms: number) {
  await db
    .update(emailOutbox)
    .set({
      createdAt: sql`${emailOutbox.createdAt} - make_interval(secs => ${ms / 1000})`,
      claimedAt: sql`${emailOutbox.claimedAt} - make_interval(secs => ${ms / 1000})`,
    })
    .where(eq(emailOutbox.id, id));
}

for (const pair of backendPairs()) {
  describe(`emails whose delivery job was lost with its process on ${pair.name}`, () => {
    const mail = useSmtpApp(pair);
    const db = () => mail.db;

    it('sends, once, at the next start an email the previous process queued but never sent', async () => {
      const to = uniqueEmail('restart');
      const id = await mail.mailer().send(passwordChangedEmail(to));
      await age(db(), id, REQUEUE_GRACE_MS + 5_000);

      // The restarted process: same database, a fresh in-process queue (or fresh Redis keys).
      const stores = await pair.stores.open();
      const restarted = await buildApp({
        env: mail.app.env,
        database: mail.harness.database,
        stores,
        logStream: false,
      });
      try {
        await restarted.ready();
        await waitFor(async () => ((await outboxRow(db(), id)).status === 'sent' ? true : undefined));
        // Longer than a retry's first backoff: a second job would have sent by now.
        await sleep(1_500);
      } finally {
        await restarted.close();
        await stores.close();
      }
      expect(mail.smtp.to(to)).toHaveLength(1);
      expect(await outboxRow(db(), id)).toMatchObject({
        status: 'sent',
        attempts: 1,
        text: null,
        html: null,
      });
    });

    it('sends at the periodic sweep an email whose job is gone, and leaves one within the grace to its own job', async () => {
      const stranded = uniqueEmail('stranded');
      const fresh = uniqueEmail('fresh');
      const gone = mail.mailer();
      const strandedId = await gone.send(passwordChangedEmail(stranded));
      await age(db(), strandedId, REQUEUE_GRACE_MS + 5_000);
      // Written a moment ago: its job may be about to run in the process that wrote it, so the sweep leaves it.
      const freshId = await gone.send(passwordChangedEmail(fresh));

      await mail.app.stores.jobs.enqueue(SWEEP_OUTBOX_JOB, {}, { jobId: `test-sweep-${strandedId}` });
      await waitFor(async () => ((await outboxRow(db(), strandedId)).status === 'sent' ? true : undefined));
      await sleep(500);
      expect(mail.smtp.to(stranded)).toHaveLength(1);
      expect(mail.smtp.to(fresh)).toHaveLength(0);
      expect(await outboxRow(db(), freshId)).toMatchObject({ status: 'queued', attempts: 0 });
      // Settled so the other tests' sweeps do not send it.
      await db().update(emailOutbox).set({ status: 'sent' }).where(eq(emailOutbox.id, freshId));
    });

    it('tries again, with the tries it has left, an email that failed in a process that stopped before its retry', async () => {
      const to = uniqueEmail('retry');
      // Nothing listens there: the first two tries are refused.
      const refused = mail.mailer({ smtpUrl: 'smtp://127.0.0.1:9' });
      const id = await refused.send(passwordChangedEmail(to));
      await expect(refused.deliver(id)).rejects.toThrow();
      await expect(refused.deliver(id)).rejects.toThrow();
      expect(await outboxRow(db(), id)).toMatchObject({ status: 'failed', attempts: 2 });
      await age(db(), id, REQUEUE_GRACE_MS + 5_000);

      await mail.app.mailer.requeueStranded();
      await waitFor(async () => ((await outboxRow(db(), id)).status === 'sent' ? true : undefined));
      expect(mail.smtp.to(to)).toHaveLength(1);
      expect(await outboxRow(db(), id)).toMatchObject({ status: 'sent', attempts: 3, error: null });

      // Out of tries: its body is gone, and the sweep has nothing to send.
      const spent = await refused.send(passwordChangedEmail(uniqueEmail('spent')));
      for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS; attempt++) {
        await expect(refused.deliver(spent)).rejects.toThrow();
      }
      await age(db(), spent, REQUEUE_GRACE_MS + 5_000);
      expect(await mail.app.mailer.requeueStranded()).toBe(0);
    });

    it('sends at the sweep an email whose job failed for good before it could claim it, in the queue that still holds that job', async () => {
      const to = uniqueEmail('claim-refused');
      // The database refuses every claim of the job's tries: the job fails for good, the email was never tried.
      await refuseStatusUpdates(db(), to, 'sending', DELIVERY_ATTEMPTS);
      const failures: JobFailure[] = [];
      const stores = await pair.stores.open({
        jobs: { backoffMs: 20, onFailure: (failure) => failures.push(failure) },
      });
      try {
        const mailer = mail.mailer({ running: true, jobs: stores.jobs });
        const id = await mailer.send(passwordChangedEmail(to));
        await waitFor(() => failures.find((failure) => failure.id === `email-${id}` && failure.final));
        expect(failures.filter((failure) => failure.id === `email-${id}`)).toHaveLength(DELIVERY_ATTEMPTS);
        expect(await outboxRow(db(), id)).toMatchObject({ status: 'queued', attempts: 0 });
        await age(db(), id, REQUEUE_GRACE_MS + 5_000);

        // The database is back; the sweep of the same process (same queue, same job id) hands the email over again.
        await mailer.requeueStranded();
        await waitFor(async () => ((await outboxRow(db(), id)).status === 'sent' ? true : undefined));
        expect(mail.smtp.to(to)).toHaveLength(1);
        expect(await outboxRow(db(), id)).toMatchObject({ status: 'sent', attempts: 1, error: null });
      } finally {
        await stores.close();
      }
    });

    it('sends once when the sweep and the normal job go for the same emails at the same moment', async () => {
      const gone = mail.mailer();
      const recipients = Array.from({ length: 10 }, () => uniqueEmail('race'));
      const ids: string[] = [];
      for (const to of recipients) {
        const id = await gone.send(passwordChangedEmail(to));
        await age(db(), id, REQUEUE_GRACE_MS + 5_000);
        ids.push(id);
      }
      // This app's own job for each email and another process's sweep, started together: two deliveries each.
      const sweeper = mail.mailer({ running: true, jobs: mail.queue({ backoffMs: 20 }) });
      await Promise.all([
        ...ids.map((id) =>
          mail.app.stores.jobs.enqueue(
            SEND_EMAIL_JOB,
            { id },
            { jobId: `email-${id}`, attempts: DELIVERY_ATTEMPTS },
          ),
        ),
        sweeper.requeueStranded(),
        sweeper.requeueStranded(),
      ]);
      await waitFor(async () => {
        const rows = await Promise.all(ids.map((id) => outboxRow(db(), id)));
        return rows.every((row) => row.status === 'sent') ? true : undefined;
      });
      await sleep(1_000);
      expect(recipients.map((to) => mail.smtp.to(to).length)).toEqual(recipients.map(() => 1));
      for (const id of ids) expect(await outboxRow(db(), id)).toMatchObject({ status: 'sent', attempts: 1 });
    });
  });
}
