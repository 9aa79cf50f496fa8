import { formatIssues, redisConnectionSource, ValidationError } from '@redbrick/core';
import { bullmqDriver } from './bullmq-queue.js';
import type { Driver } from './driver.js';
import { PKG } from './errors.js';
import { memoryDriver } from './memory-queue.js';
import {
  checkRepeat,
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveEnqueueOptions,
  resolveProcessOptions,
  resolveQueueOptions,
} from './options.js';
import type {
  EnqueueOptions,
  Handler,
  JobInfo,
  ProcessOptions,
  PulledJob,
  Queue,
  QueueEvents,
  QueueWorker,
  Repeat,
} from './types.js';

const EVENTS = new Set<keyof QueueEvents>(['completed', 'failed', 'progress', 'stalled']);

class TypedQueue<T> implements Queue<T> {
  readonly name: string;
  readonly #o: ResolvedQueueOptions<T>;
  readonly #driver: Driver;

  constructor(o: ResolvedQueueOptions<T>) {
    this.#o = o;
    this.name = o.name;
    const source = redisConnectionSource(o.backend);
    this.#driver = source
      ? bullmqDriver(o as ResolvedQueueOptions<unknown>, source)
      : memoryDriver(o as ResolvedQueueOptions<unknown>);
  }

  #check(data: unknown, where: string): T {
    const schema = this.#o.schema;
    if (!schema) {
      if (data === undefined) {
        throw new ValidationError(`${PKG} ${where}: job data must be JSON (got undefined)`, {
          field: 'data',
        });
      }
      return data as T;
    }
    const result = schema.safeParse(data);
    if (!result.success) {
      throw new ValidationError(
        `${PKG} ${where}: job data does not match the schema of queue "${this.name}": ${formatIssues(result.error)}`,
        { field: 'data', cause: result.error },
      );
    }
    return result.data;
  }

  ready(): Promise<void> {
    return this.#driver.ready();
  }

  async enqueue(data: T, options?: EnqueueOptions): Promise<JobInfo<T>> {
    const checked = this.#check(data, 'enqueue');
    const o = resolveEnqueueOptions(options, this.#o as ResolvedQueueOptions<unknown>);
    return (await this.#driver.enqueue(checked, o)) as JobInfo<T>;
  }

  async enqueueMany(
    jobs: ReadonlyArray<{ data: T; options?: EnqueueOptions }>,
  ): Promise<JobInfo<T>[]> {
    if (!Array.isArray(jobs)) {
      throw new ValidationError(`${PKG} enqueueMany needs an array of { data, options }`, {
        field: 'jobs',
      });
    }
    // Everything is checked before anything is added: a bad item adds nothing.
    const items = jobs.map(({ data, options }, i) => ({
      data: this.#check(data, `enqueueMany[${i}]`),
      options: resolveEnqueueOptions(options, this.#o as ResolvedQueueOptions<unknown>),
    }));
    return (await this.#driver.enqueueMany(items)) as JobInfo<T>[];
  }

  async peek(n = 1): Promise<JobInfo<T>[]> {
    checkCount(n, 'n');
    return (await this.#driver.peek(n)) as JobInfo<T>[];
  }

  counts() {
    return this.#driver.counts();
  }

  async getJob(id: string): Promise<JobInfo<T> | undefined> {
    if (typeof id !== 'string' || id.length === 0) {
      throw new ValidationError(`${PKG} id must be a non-empty string`, { field: 'id' });
    }
    return (await this.#driver.getJob(id)) as JobInfo<T> | undefined;
  }

  async failed(limit = 100): Promise<JobInfo<T>[]> {
    checkCount(limit, 'limit');
    return (await this.#driver.failed(limit)) as JobInfo<T>[];
  }

  process(handler: Handler<T>, options?: ProcessOptions): QueueWorker {
    if (typeof handler !== 'function') {
      throw new ValidationError(`${PKG} process needs a handler function`, { field: 'handler' });
    }
    const resolved = resolveProcessOptions(options);
    return this.#driver.process(async (job) => {
      // Data is checked again before the handler runs: stored data may be older or foreign.
      const data = this.#check(job.data, `job ${job.id}`);
      return handler({
        id: job.id,
        data,
        attemptsMade: job.attemptsMade,
        updateProgress: (p) => job.updateProgress(checkProgress(p)),
      });
    }, resolved);
  }

  async dequeue(): Promise<PulledJob<T> | undefined> {
    const job = await this.#driver.dequeue();
    if (!job) return undefined;
    let data: T;
    try {
      data = this.#check(job.data, `job ${job.id}`);
    } catch (error) {
      await job.fail(error as Error);
      throw error;
    }
    return { ...job, data, updateProgress: (p) => job.updateProgress(checkProgress(p)) };
  }

  async schedule(name: string, repeat: Repeat, data: T): Promise<void> {
    const r = checkRepeat(name, repeat);
    await this.#driver.schedule(name, r, this.#check(data, `schedule "${name}"`));
  }

  unschedule(name: string): Promise<boolean> {
    return this.#driver.unschedule(name);
  }

  on<E extends keyof QueueEvents>(event: E, listener: (event: QueueEvents[E]) => void): () => void {
    if (!EVENTS.has(event)) {
      throw new ValidationError(
        `${PKG} unknown event "${String(event)}" (allowed: ${[...EVENTS].join(', ')})`,
        { field: 'event' },
      );
    }
    if (typeof listener !== 'function') {
      throw new ValidationError(`${PKG} listener must be a function`, { field: 'listener' });
    }
    return this.#driver.on(event, listener);
  }

  pause() {
    return this.#driver.pause();
  }

  resume() {
    return this.#driver.resume();
  }

  isPaused() {
    return this.#driver.isPaused();
  }

  clear() {
    return this.#driver.clear();
  }

  retry(jobId: string) {
    return this.#driver.retry(jobId);
  }

  close() {
    return this.#driver.close();
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}

function checkCount(n: unknown, field: string): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > 10_000) {
    throw new ValidationError(`${PKG} ${field} must be an integer from 1 to 10000`, { field });
  }
}

function checkProgress(p: unknown): number | object {
  if ((typeof p === 'number' && Number.isFinite(p)) || (typeof p === 'object' && p !== null)) {
    return p as number | object;
  }
  throw new ValidationError(`${PKG} progress must be a finite number or an object`, {
    field: 'progress',
  });
}

/**
 * A typed job queue. On the memory backend an in-process queue; on a Redis
 * backend (one node or Cluster) BullMQ, loaded lazily (`pnpm add bullmq`).
 *
 * @example
 * const queue = createQueue({ backend, name: 'documents', schema: z.object({ url: z.string() }) });
 * queue.process(async (job) => { await job.updateProgress(50); return render(job.data.url); });
 * await queue.enqueue({ url: 'https://example.com' }, { attempts: 3, backoff: { type: 'exponential', delayMs: 1000 } });
 */
export function createQueue<T = unknown>(options: QueueOptions<T>): Queue<T> {
  return new TypedQueue<T>(resolveQueueOptions(options));
}
