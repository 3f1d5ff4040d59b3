import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface JobOptions {
  /** A job is not added twice with one id while the first is waiting, running or among the last 1,000 finished. */
  jobId?: string;
  /**
   * With `jobId`: when the job of that id has finished (done, or failed with no tries left), this one takes its place
   * and runs, instead of being ignored as a duplicate. One still waiting, delayed or running is left alone as ever.
   */
  rerunFinished?: boolean;
  delayMs?: number;
  /** Total tries, the first included (default 3); retries back off exponentially from 1 s. */
  attempts?: number;
}

export interface JobContext {
  id: string;
  /** 1 on the first try. */
  attempt: number;
}

export type JobHandler<Data> = (data: Data, context: JobContext) => Promise<void>;

export interface JobFailure {
  name: string;
  id: string;
  attempt: number;
  error: unknown;
  final: boolean;
}

/** Background work (media generation, emails, webhooks out). */
export interface JobQueue {
  register<Data>(name: string, handler: JobHandler<Data>, options?: { concurrency?: number }): void;
  enqueue<Data>(name: string, data: Data, options?: JobOptions): Promise<string>;
  /** Stops taking jobs and waits for running ones. */
  close(): Promise<void>;
}

export interface JobQueueOptions {
  onFailure?: (failure: JobFailure) => void;
  /** Base of the exponential backoff between tries (default 1,000 ms). */
  backoffMs?: number;
}

interface PendingJob {
  id: string;
  data: unknown;
  attempt: number;
  attempts: number;
}

/** In-process queue for the single-process default. Jobs do not survive a restart; BullMQ's do. */
export class MemoryJobQueue implements JobQueue {
  readonly #handlers = new Map<
    string,
    { handler: JobHandler<unknown>; concurrency: number; running: number }
  >();
  readonly #waiting = new Map<string, PendingJob[]>();
  readonly #known = new Set<string>();
  /** The known ids whose jobs are over, oldest first. */
  readonly #finished = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  #sequence = 0;

  constructor(private readonly options: JobQueueOptions = {}) {}

  register<Data>(name: string, handler: JobHandler<Data>, options: { concurrency?: number } = {}) {
    this.#handlers.set(name, {
      handler: handler as JobHandler<unknown>,
      concurrency: options.concurrency ?? 1,
      running: 0,
    });
    this.#pump(name);
  }

  async enqueue<Data>(name: string, data: Data, options: JobOptions = {}) {
    if (this.#closed) throw new Error('job queue is closed');
    const id = options.jobId ?? `${Date.now().toString(36)}-${(++this.#sequence).toString(36)}`;
    const key = `${name}\u0000${id}`;
    if (this.#known.has(key) && !(options.rerunFinished && this.#finished.delete(key))) return id;
    this.#known.add(key);
    const job: PendingJob = { id, data: structuredClone(data), attempt: 1, attempts: options.attempts ?? 3 };
    this.#schedule(name, job, options.delayMs ?? 0);
    return id;
  }

  async close() {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#running]);
  }

  // Finished ids stay known for a while, as BullMQ keeps its last 1,000 completed jobs, so a late duplicate is ignored.
  #finish(key: string) {
    this.#finished.add(key);
    if (this.#finished.size <= 1_000) return;
    const oldest = this.#finished.values().next().value!;
    this.#finished.delete(oldest);
    this.#known.delete(oldest);
  }

  #schedule(name: string, job: PendingJob, delayMs: number) {
    const add = () => {
      const queue = this.#waiting.get(name) ?? [];
      queue.push(job);
      this.#waiting.set(name, queue);
      this.#pump(name);
    };
    if (delayMs <= 0) return add();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      add();
    }, delayMs);
    this.#timers.add(timer);
  }

  #pump(name: string) {
    const entry = this.#handlers.get(name);
    const queue = this.#waiting.get(name);
    while (!this.#closed && entry && queue?.length && entry.running < entry.concurrency) {
      const job = queue.shift()!;
      entry.running++;
      const run = this.#run(name, entry.handler, job).finally(() => {
        entry.running--;
        this.#running.delete(run);
        this.#pump(name);
      });
      this.#running.add(run);
    }
  }

  async #run(name: string, handler: JobHandler<unknown>, job: PendingJob) {
    try {
      await handler(job.data, { id: job.id, attempt: job.attempt });
      this.#finish(`${name}\u0000${job.id}`);
    } catch (error) {
      const final = job.attempt >= job.attempts || this.#closed;
      this.options.onFailure?.({ name, id: job.id, attempt: job.attempt, error, final });
      if (final) {
        this.#finish(`${name}\u0000${job.id}`);
        return;
      }
      const delay = (this.options.backoffMs ?? 1_000) * 2 ** (job.attempt - 1);
      this.#schedule(name, { ...job, attempt: job.attempt + 1 }, delay);
    }
  }
}

/** BullMQ on Redis: jobs survive restarts and any number of processes share the work. */
export class BullJobQueue implements JobQueue {
  readonly #queues = new Map<string, Queue>();
  readonly #workers: Worker[] = [];
  /** Connections given to workers: BullMQ leaves a connection it was handed open, so they are quit here. */
  readonly #workerConnections: Redis[] = [];
  readonly #connection: Redis;
  readonly #prefix: string;

  constructor(
    redisUrl: string,
    prefix: string,
    private readonly options: JobQueueOptions = {},
  ) {
    // BullMQ workers block on Redis and require maxRetriesPerRequest: null on their connection.
    this.#connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.#prefix = `${prefix.replace(/:+$/, '')}:jobs`;
  }

  register<Data>(name: string, handler: JobHandler<Data>, options: { concurrency?: number } = {}) {
    const connection = this.#connection.duplicate();
    this.#workerConnections.push(connection);
    const worker = new Worker(
      name,
      async (job) => handler(job.data as Data, { id: String(job.id), attempt: job.attemptsMade + 1 }),
      {
        connection,
        prefix: this.#prefix,
        concurrency: options.concurrency ?? 1,
      },
    );
    worker.on('failed', (job, error) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      this.options.onFailure?.({
        name,
        id: String(job.id),
        attempt: job.attemptsMade,
        error,
        final: job.attemptsMade >= attempts,
      });
    });
    // Errors of the worker's own connection are reported through 'error'; without a listener Node would throw.
    worker.on('error', () => {});
    this.#workers.push(worker);
  }

  async enqueue<Data>(name: string, data: Data, options: JobOptions = {}) {
    const queue = this.#queue(name);
    // BullMQ reserves ':' in custom ids.
    const jobId = options.jobId?.replaceAll(':', '_');
    // `add` returns the job already under this id, whatever its state: a finished one must go first. A finished job
    // does not move by itself, and a worker cannot take it, so only another enqueue like this one can come between
    // the two calls; `remove` leaves a running (locked) job alone. Either way one job at most waits or runs.
    if (jobId && options.rerunFinished) {
      const state = await queue.getJobState(jobId);
      if (state === 'completed' || state === 'failed') await queue.remove(jobId);
    }
    const job = await queue.add(name, data, {
      ...(jobId ? { jobId } : {}),
      delay: options.delayMs ?? 0,
      attempts: options.attempts ?? 3,
      backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1_000 },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
    });
    return String(job.id);
  }

  async close() {
    await Promise.allSettled(this.#workers.map((worker) => worker.close()));
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
    await Promise.allSettled(this.#workerConnections.map((connection) => connection.quit()));
    await this.#connection.quit().catch(() => {});
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.#connection, prefix: this.#prefix });
      this.#queues.set(name, queue);
    }
    return queue;
  }
}
