import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBackend } from '../testing/backends.js';
import type { Stores } from './index.js';

/** What every shared-state backend must do, whether it lives in this process or in Redis. */
export function describeStores(backend: StoreBackend) {
  describe(`stores on ${backend.name}`, () => {
    let stores: Stores;
    beforeAll(async () => {
      stores = await backend.open();
    });
    afterAll(async () => {
      await stores.close();
    });

    describe('cache', () => {
      it('returns what was set until its time-to-live passes', async () => {
        await stores.cache.set('answer', '{"a":1}', 150);
        expect(await stores.cache.get('answer')).toBe('{"a":1}');
        await sleep(250);
        expect(await stores.cache.get('answer')).toBeUndefined();
      });

      it('forgets a deleted key and misses an unknown one', async () => {
        await stores.cache.set('gone', 'x', 10_000);
        await stores.cache.delete('gone');
        expect(await stores.cache.get('gone')).toBeUndefined();
        expect(await stores.cache.get('never-set')).toBeUndefined();
      });
    });

    describe('counters', () => {
      it('adds up concurrent increments exactly', async () => {
        const expiresAt = new Date(Date.now() + 60_000);
        await Promise.all(
          Array.from({ length: 200 }, () => stores.counters.increment('requests', 1, expiresAt)),
        );
        expect(await stores.counters.get('requests')).toBe(200);
      });

      it('resets at the absolute instant it was given, not a sliding window', async () => {
        const boundary = new Date(Date.now() + 300);
        await stores.counters.increment('daily', 5, boundary);
        await sleep(100);
        // A later increment with the same boundary must not push the reset further away.
        expect(await stores.counters.increment('daily', 1, boundary)).toBe(6);
        await sleep(350);
        expect(await stores.counters.get('daily')).toBe(0);
        expect(await stores.counters.increment('daily', 1, new Date(Date.now() + 60_000))).toBe(1);
      });

      it('reads 0 after a delete, and counts from 1 again', async () => {
        const expiresAt = new Date(Date.now() + 60_000);
        await stores.counters.increment('dropped', 3, expiresAt);
        await stores.counters.delete('dropped');
        expect(await stores.counters.get('dropped')).toBe(0);
        expect(await stores.counters.increment('dropped', 1, expiresAt)).toBe(1);
      });
    });

    describe('rate limiters', () => {
      it('allows exactly the budget under a concurrent burst and says when to retry', async () => {
        const limiter = stores.rateLimiters({ name: 'suite-burst', points: 10, durationSeconds: 60 });
        const decisions = await Promise.all(Array.from({ length: 25 }, () => limiter.consume('client-a')));
        expect(decisions.filter((decision) => decision.allowed)).toHaveLength(10);
        const refused = decisions.find((decision) => !decision.allowed)!;
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect((await limiter.consume('client-b')).allowed).toBe(true);
      });

      it('gives back rewarded points within the window', async () => {
        const limiter = stores.rateLimiters({ name: 'suite-reward', points: 2, durationSeconds: 60 });
        expect((await limiter.consume('k')).allowed).toBe(true);
        expect((await limiter.consume('k')).allowed).toBe(true);
        await limiter.reward('k');
        expect((await limiter.consume('k')).allowed).toBe(true);
        expect((await limiter.consume('k')).allowed).toBe(false);
      });

      it('gives the whole budget back on reset, even after refused attempts', async () => {
        const limiter = stores.rateLimiters({ name: 'suite-reset', points: 2, durationSeconds: 60 });
        await Promise.all(Array.from({ length: 5 }, () => limiter.consume('k')));
        expect((await limiter.consume('k')).allowed).toBe(false);
        await limiter.reset('k');
        expect((await limiter.consume('k')).allowed).toBe(true);
        expect((await limiter.consume('k')).allowed).toBe(true);
        expect((await limiter.consume('k')).allowed).toBe(false);
      });

      it('refreshes the budget when the window ends', async () => {
        const limiter = stores.rateLimiters({ name: 'suite-window', points: 1, durationSeconds: 1 });
        expect((await limiter.consume('k')).allowed).toBe(true);
        expect((await limiter.consume('k')).allowed).toBe(false);
        await sleep(1_100);
        expect((await limiter.consume('k')).allowed).toBe(true);
      });

      it('counts every limiter made with one name as one budget, as the name is one key', async () => {
        // Routes of several modules each make their `user:reads`: the budget is the name's, not each caller's copy.
        const options = { name: 'suite-shared', points: 3, durationSeconds: 60 };
        const first = stores.rateLimiters(options);
        const second = stores.rateLimiters({ ...options });
        expect((await first.consume('k')).allowed).toBe(true);
        expect(await second.consume('k')).toMatchObject({ allowed: true, remaining: 1 });
        expect((await first.consume('k')).allowed).toBe(true);
        expect((await second.consume('k')).allowed).toBe(false);
        expect((await first.consume('k')).allowed).toBe(false);
        await second.reset('k');
        expect(await first.consume('k')).toMatchObject({ allowed: true, remaining: 2 });
      });

      it('refuses a second budget under a name already in use, rather than counting one key two ways', () => {
        stores.rateLimiters({ name: 'suite-taken', points: 5, durationSeconds: 60 });
        expect(() => stores.rateLimiters({ name: 'suite-taken', points: 6, durationSeconds: 60 })).toThrow(
          /suite-taken/,
        );
        expect(() => stores.rateLimiters({ name: 'suite-taken', points: 5, durationSeconds: 30 })).toThrow(
          /suite-taken/,
        );
      });

      it('refuses bad options when created, not on each request', () => {
        expect(() => stores.rateLimiters({ name: 'bad', points: 0, durationSeconds: 60 })).toThrow(
          RangeError,
        );
      });
    });

    describe('pub/sub', () => {
      it('delivers to every subscriber of a channel until it unsubscribes', async () => {
        const first: string[] = [];
        const second: string[] = [];
        const stopFirst = await stores.pubSub.subscribe('news', (message) => first.push(message));
        const stopSecond = await stores.pubSub.subscribe('news', (message) => second.push(message));
        await stores.pubSub.publish('news', 'one');
        await stores.pubSub.publish('other', 'not for us');
        await expect.poll(() => second.length).toBe(1);
        await stopFirst();
        await stores.pubSub.publish('news', 'two');
        await expect.poll(() => second).toEqual(['one', 'two']);
        expect(first).toEqual(['one']);
        await stopSecond();
      });

      it("has the publisher's own subscribers hold the message when publish resolves, and only once", async () => {
        const heard: string[] = [];
        const stop = await stores.pubSub.subscribe('evict', (message) => heard.push(message));
        await stores.pubSub.publish('evict', 'key one');
        expect(heard).toEqual(['key one']); // no wait: the next request in this process must see it
        await sleep(200); // Redis's own echo of the message arrives in this window and is not delivered again
        expect(heard).toEqual(['key one']);
        await stop();
      });
    });

    describe('job queue', () => {
      it('runs each job once, retries a failing one, and ignores a duplicate id', async () => {
        const seen: string[] = [];
        let failures = 0;
        stores.jobs.register<{ word: string }>(
          'suite-echo',
          async (data, context) => {
            if (data.word === 'flaky' && context.attempt === 1) {
              failures++;
              throw new Error('first try fails');
            }
            seen.push(`${data.word}#${context.attempt}`);
          },
          { concurrency: 2 },
        );
        await stores.jobs.enqueue('suite-echo', { word: 'hello' }, { jobId: 'job-1' });
        await stores.jobs.enqueue('suite-echo', { word: 'hello' }, { jobId: 'job-1' });
        await stores.jobs.enqueue('suite-echo', { word: 'flaky' }, { attempts: 2 });
        await expect.poll(() => [...seen].sort(), { timeout: 10_000 }).toEqual(['flaky#2', 'hello#1']);
        expect(failures).toBe(1);
      });

      it('runs a finished job again when asked to, and never doubles one still waiting or running', async () => {
        const gaveUp: string[] = [];
        const own = await backend.open({
          jobs: { backoffMs: 10, onFailure: (failure) => failure.final && gaveUp.push(failure.id) },
        });
        try {
          const runs: string[] = [];
          let release!: () => void;
          const held = new Promise<void>((resolve) => {
            release = resolve;
          });
          const job = (run: string, options: { fail?: boolean; hold?: boolean } = {}) => ({
            run,
            ...options,
          });
          const ran = (run: string) => expect.poll(() => runs, { timeout: 10_000 }).toContain(run);

          // Waiting (no worker yet): a second add with the id, even asking for a rerun, adds nothing.
          await own.jobs.enqueue('suite-rerun', job('waiting'), { jobId: 'rerun-a' });
          await own.jobs.enqueue('suite-rerun', job('waiting again'), {
            jobId: 'rerun-a',
            rerunFinished: true,
          });
          own.jobs.register<{ run: string; fail?: boolean; hold?: boolean }>('suite-rerun', async (data) => {
            runs.push(data.run);
            if (data.hold) await held;
            if (data.fail) throw new Error('fails every try');
          });
          await ran('waiting');

          // Running: likewise.
          await own.jobs.enqueue('suite-rerun', job('running', { hold: true }), { jobId: 'rerun-b' });
          await ran('running');
          await own.jobs.enqueue('suite-rerun', job('running again'), {
            jobId: 'rerun-b',
            rerunFinished: true,
          });
          release();

          // Failed for good: ignored as a duplicate unless a rerun is asked for, then it runs with what was given.
          await own.jobs.enqueue('suite-rerun', job('failing', { fail: true }), {
            jobId: 'rerun-c',
            attempts: 2,
          });
          await expect.poll(() => gaveUp, { timeout: 10_000 }).toContain('rerun-c');
          await own.jobs.enqueue('suite-rerun', job('duplicate'), { jobId: 'rerun-c' });
          await own.jobs.enqueue('suite-rerun', job('failed, rerun'), {
            jobId: 'rerun-c',
            rerunFinished: true,
          });
          // Completed: the same.
          await own.jobs.enqueue('suite-rerun', job('completed, rerun'), {
            jobId: 'rerun-a',
            rerunFinished: true,
          });

          // One at a time, first in first out: once this one ran, everything added before it has.
          await own.jobs.enqueue('suite-rerun', job('last'));
          await ran('last');
          expect(runs).toEqual([
            'waiting',
            'running',
            'failing',
            'failing',
            'failed, rerun',
            'completed, rerun',
            'last',
          ]);
        } finally {
          await own.close();
        }
      });
    });
  });
}
