import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../../errors.js';

/**
 * What exports may take. A PDF renders in a worker thread (`pdf-threads.ts`), at about 1.3 µs of CPU a character of
 * prose and 7-10 µs of base64: each render running at once takes a core for seconds at the limits, so they are few
 * at a time per process (one worker each), a few more wait, and one person has one at a time.
 */
export const exportLimits = {
  /** PDF renders running at once in one process, and the worker threads kept for them. */
  renders: 2,
  /** PDF renders waiting for one of those; past them an export is refused with 503. */
  queued: 8,
  /** Retry-After of both refusals: about what a large render takes. */
  retryAfterSeconds: 5,
} as const;

/** Options of `RenderSlots`. */
export interface RenderSlotsOptions {
  /** Renders at once (`exportLimits.renders`: 2). */
  renders: number;
  /** Renders that may wait for a slot (`exportLimits.queued`: 8); one more is refused at once. */
  queued: number;
}

interface Waiter {
  start(): void;
}

/**
 * A counting semaphore with a bounded, first-come queue, for the renders of one process. A finished render hands its
 * slot to the first waiter (a newcomer cannot take it in between), and a waiter whose request is abandoned leaves the
 * queue at once. cockatiel's bulkhead (3.2.1) does neither: a waiter whose signal aborts is dropped when its turn
 * comes without passing the slot on, so the work queued behind it waits, with the slot free, for the next arrival.
 */
export class RenderSlots {
  readonly #renders: number;
  readonly #queued: number;
  #running = 0;
  readonly #waiting: Waiter[] = [];

  constructor(options: RenderSlotsOptions = exportLimits) {
    if (!Number.isInteger(options.renders) || options.renders < 1)
      throw new RangeError('renders must be a positive integer');
    if (!Number.isInteger(options.queued) || options.queued < 0)
      throw new RangeError('queued must be a non-negative integer');
    this.#renders = options.renders;
    this.#queued = options.queued;
  }

  /** Renders running now. */
  get running(): number {
    return this.#running;
  }

  /** Renders waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `render` in a slot, waiting for one when all are taken (`acquire`). The slot is given back however `render`
   * ends.
   */
  async run<T>(render: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await render();
    } finally {
      release();
    }
  }

  /**
   * Takes a slot, waiting for one when all are taken, and returns what gives it back (once; later calls do nothing).
   * Throws a 503 `service_unavailable` (Retry-After) when the queue is full, and `signal`'s reason when it aborts
   * before a slot came. For a render that outlives the call that starts it (a PDF streamed while its worker renders).
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#running < this.#renders) this.#running += 1;
    else if (this.#waiting.length < this.#queued) await this.#wait(signal);
    else {
      throw new AppError(
        'service_unavailable',
        'Too many exports are being prepared right now; ask again in a few seconds.',
        { retryAfterSeconds: exportLimits.retryAfterSeconds },
      );
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter: `#running` stays as it is.
      if (next) next.start();
      else this.#running -= 1;
    };
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }
}

/** Gives back what `ExportClaims.claim` took; never throws. */
export type ReleaseClaim = () => Promise<void>;

/** One export (any format) in flight per person, across every server process that shares the stores. */
export interface ExportClaims {
  /** Takes the person's claim, or returns undefined when an export of theirs is in flight. */
  claim(userId: string): Promise<ReleaseClaim | undefined>;
}

/** The claims of one process (no Redis: one process is all there is). */
export class MemoryExportClaims implements ExportClaims {
  readonly #claimed = new Set<string>();

  async claim(userId: string): Promise<ReleaseClaim | undefined> {
    if (this.#claimed.has(userId)) return undefined;
    this.#claimed.add(userId);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.#claimed.delete(userId);
    };
  }
}

// A claim is a key holding its owner's random token: only that owner renews or deletes it.
const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type ClaimScripts = Redis & {
  studioExportRenew(key: string, token: string, ttlMs: number): Promise<number>;
  studioExportRelease(key: string, token: string): Promise<number>;
};

/**
 * The claims of every process, in Redis: `SET NX` with a lifetime of `ttlMs` (default 30 s), renewed every third of
 * it while the export runs. A process that dies mid-export leaves the person's claim for at most `ttlMs`.
 */
export class RedisExportClaims implements ExportClaims {
  readonly #redis: ClaimScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 30_000,
  ) {
    if (!('studioExportRenew' in redis)) {
      redis.defineCommand('studioExportRenew', { numberOfKeys: 1, lua: renewScript });
      redis.defineCommand('studioExportRelease', { numberOfKeys: 1, lua: releaseScript });
    }
    this.#redis = redis as ClaimScripts;
  }

  async claim(userId: string): Promise<ReleaseClaim | undefined> {
    const key = `${this.prefix}studio:export:${userId}`;
    const token = randomUUID();
    if ((await this.#redis.set(key, token, 'PX', this.ttlMs, 'NX')) !== 'OK') return undefined;
    // A renewal that fails (Redis away for a moment) is tried again at the next tick; at worst the claim lapses.
    const renewal = setInterval(
      () => void this.#redis.studioExportRenew(key, token, this.ttlMs).catch(() => {}),
      Math.max(1, Math.floor(this.ttlMs / 3)),
    );
    renewal.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      // Not deleted (Redis unreachable): the claim lapses after `ttlMs`, which is all a person waits.
      await this.#redis.studioExportRelease(key, token).catch(() => {});
    };
  }
}
