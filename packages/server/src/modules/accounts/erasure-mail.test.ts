import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { JobFailure } from '../../stores/job-queue.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { useSmtpApp } from '../../testing/smtp-app.js';
import { DELIVERY_ATTEMPTS, SEND_EMAIL_JOB } from '../notifications/service.js';
import { emailOutbox } from '../notifications/tables.js';
import { partsOf, passwordChangedEmail, sleep, waitFor } from '../notifications/testing.js';
import { eraseAccount } from './privacy.js';
import { users } from './tables.js';
import {
  createSignedInAccount,
  randomIp,
  signInWithPassword,
  tokenFromEmail,
  uniqueEmail,
} from './testing.js';

for (const pair of backendPairs()) {
  describe(`erasure takes the person's emails out of the outbox on ${pair.name}`, () => {
    const mail = useSmtpApp(pair);
    const app = () => mail.app;
    const db = () => mail.db;
    const erase = (userId: string) =>
      eraseAccount(db(), { userId, dataDir: app().env.DATA_DIR, pubSub: mail.harness.stores.pubSub });

    /** A mailer on the app's database whose jobs never run: a process that stopped before sending what it queued. */
    const stoppedProcess = (smtpUrl?: string) => mail.mailer(smtpUrl ? { smtpUrl } : {});
    const rowsTo = (...addresses: string[]) =>
      db().select().from(emailOutbox).where(inArray(emailOutbox.recipient, addresses));
    async function linkSentTo(to: string, path: string) {
      const message = await waitFor(() => mail.smtp.to(to).find((email) => email.raw.includes(path)));
      return tokenFromEmail(partsOf(message.raw)['text/plain']!, path);
    }
    async function allSent(...addresses: string[]) {
      await waitFor(async () => {
        const rows = await rowsTo(...addresses);
        return rows.every((row) => row.status === 'sent') ? true : undefined;
      });
    }

    it('deletes every email to every address the person had, in every state, and no one else’s', async () => {
      const first = uniqueEmail('first');
      const second = uniqueEmail('second');
      const later = uniqueEmail('later');
      const stranger = uniqueEmail('stranger');
      const password = 'a sturdy passphrase 42';
      const ip = randomIp();
      const signUp = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: ip,
        payload: { email: first, password, name: 'Person To Erase' },
      });
      expect(signUp.statusCode).toBe(202);
      const verified = await app().inject({
        method: 'POST',
        url: '/api/auth/verify-email',
        remoteAddress: ip,
        payload: { token: await linkSentTo(first, '/verify-email') },
      });
      expect(verified.statusCode).toBe(200);
      const person = await signInWithPassword(app(), { email: first, password, ip });

      // An address asked for and never confirmed, which another account holds since: its emails are not this person's.
      const changeTo = (newEmail: string) =>
        app().inject({
          method: 'POST',
          url: '/api/account/email',
          headers: person.headers,
          remoteAddress: ip,
          payload: { password, newEmail },
        });
      expect((await changeTo(later)).statusCode).toBe(202);
      const other = await createSignedInAccount(app(), { email: later });
      await app().mailer.send(passwordChangedEmail(later));
      // The address changed: the link went to the new one, the notice to the old one.
      expect((await changeTo(second)).statusCode).toBe(202);
      const confirmed = await app().inject({
        method: 'POST',
        url: '/api/auth/email-change/confirm',
        remoteAddress: ip,
        payload: { token: await linkSentTo(second, '/confirm-email-change') },
      });
      expect(confirmed.statusCode).toBe(200);
      await waitFor(() => mail.smtp.to(first).find((email) => email.raw.includes(second)));
      await app().mailer.send(passwordChangedEmail(stranger));
      await allSent(first, second, later, stranger);
      // Still to send: one never tried, one refused once and waiting for its retry.
      const queued = await stoppedProcess().send(passwordChangedEmail(second));
      const refused = stoppedProcess('smtp://127.0.0.1:9');
      const failed = await refused.send(passwordChangedEmail(second));
      await expect(refused.deliver(failed)).rejects.toThrow();

      const before = await rowsTo(first, second);
      expect(before.map((row) => row.status).sort()).toEqual(['failed', 'queued', 'sent', 'sent', 'sent']);
      expect(before.map((row) => row.id)).toEqual(expect.arrayContaining([queued, failed]));

      expect(await erase(person.userId)).toBe(true);

      expect(await rowsTo(first, second)).toEqual([]);
      const kept = await rowsTo(later, stranger);
      expect(kept.filter((row) => row.recipient === stranger)).toHaveLength(1);
      // The other account's own email stays (and the link this person once sent there, now that address's holder's).
      expect(
        kept.filter((row) => row.recipient === later && row.template === 'password_changed'),
      ).toHaveLength(1);
      expect(other.email).toBe(later);
    });

    it('never sends a queued email once its person is erased: the try finds nothing and ends without an error', async () => {
      const person = await createSignedInAccount(app());
      const id = await stoppedProcess().send(passwordChangedEmail(person.email));
      expect(await erase(person.userId)).toBe(true);

      // The job that was lost is found again, or run late: either way it ends at once, nothing to retry.
      const failures: JobFailure[] = [];
      const jobs = mail.queue({ onFailure: (failure) => failures.push(failure), backoffMs: 10 });
      const late = mail.mailer({ running: true, jobs });
      await jobs.enqueue(SEND_EMAIL_JOB, { id }, { jobId: `email-${id}`, attempts: DELIVERY_ATTEMPTS });
      await expect(late.deliver(id)).resolves.toBeUndefined();
      expect(await app().mailer.requeueStranded({ now: new Date(Date.now() + 3_600_000) })).toBe(0);
      await sleep(500);
      expect(failures).toEqual([]);
      expect(mail.smtp.to(person.email)).toEqual([]);
      expect(await rowsTo(person.email)).toEqual([]);
    });

    it('sends each email at most once, and keeps none, when erasures and deliveries meet (real parallel runs)', async () => {
      const people = await Promise.all(Array.from({ length: 8 }, () => createSignedInAccount(app())));
      const stopped = stoppedProcess();
      const ids = await Promise.all(people.map((person) => stopped.send(passwordChangedEmail(person.email))));
      const workers = [stoppedProcess(), stoppedProcess()];

      const results = await Promise.allSettled([
        ...people.map((person) => erase(person.userId)),
        ...ids.flatMap((id) => workers.map((worker) => worker.deliver(id))),
      ]);

      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      await sleep(300);
      for (const person of people) expect(mail.smtp.to(person.email).length).toBeLessThanOrEqual(1);
      expect(await rowsTo(...people.map((person) => person.email))).toEqual([]);
      expect(await db().select().from(emailOutbox).where(inArray(emailOutbox.id, ids))).toEqual([]);
      // Erased for real, not left half-done by the meeting.
      const erased = await db()
        .select({ status: users.status })
        .from(users)
        .where(
          inArray(
            users.id,
            people.map((person) => person.userId),
          ),
        );
      expect(erased.map((row) => row.status)).toEqual(people.map(() => 'deleted'));
    });
  });
}
