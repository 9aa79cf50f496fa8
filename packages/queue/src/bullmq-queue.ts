import { randomUUID } from 'node:crypto';
import {
  BackendUnavailableError,
  ClosedError,
  importOptional,
  isRedbrickError,
  type RedisConnectionSource,
  withDeadline,
} from '@redbrick/core';
import type * as BullMQ from 'bullmq';
import { parseCron } from './cron.js';
import type { Driver, DriverHandler } from './driver.js';
import { PKG } from './errors.js';
import type { ResolvedEnqueueOptions, ResolvedQueueOptions } from './options.js';
import type { JobInfo, JobState, PulledJob, QueueEvents, QueueWorker } from './types.js';

type BullModule = typeof BullMQ;
type RedisClient = { disconnect(): void; quit(): Promise<unknown> };

let loaded: Promise<BullModule> | undefined;

/** BullMQ is an optional peer: loaded on first use of a Redis-backed queue only. */
function loadBullMQ(): Promise<BullModule> {
  // A variable specifier keeps bundlers and tsc from resolving the optional peer eagerly.
  loaded ??= importOptional<BullModule>(
    'bullmq',
    'A queue on a Redis backend (BullMQ)',
    (s) => import(s),
  );
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

/** Rejects with `BACKEND_UNAVAILABLE` when `work` has not settled within `ms` (it may still run). */
function bounded<R>(work: Promise<R>, ms: number, what: string, name: string): Promise<R> {
  return withDeadline(
    work,
    ms,
    () =>
      new BackendUnavailableError(
        `${PKG} ${what} on queue "${name}" did not complete within callTimeoutMs (${ms} ms): Redis is unreachable or too slow. The call may still run once Redis is back; a jobId makes a retried enqueue safe`,
      ),
  );
}

const STATES: Record<string, JobState> = {
  waiting: 'waiting',
  prioritized: 'waiting',
  'waiting-children': 'waiting',
  paused: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
};

async function info(job: BullMQ.Job, known?: JobState): Promise<JobInfo<unknown>> {
  const state = known ?? (await job.getState());
  return {
    id: String(job.id),
    data: job.data,
    state: STATES[state] ?? 'unknown',
    progress: (job.progress as number | object | undefined) ?? 0,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason || undefined,
    returnValue: job.returnvalue ?? null,
    priority: job.opts.priority ?? 0,
    createdAt: job.timestamp,
  };
}

/**
 * The BullMQ driver: one BullMQ `Queue` (producer), a `Worker` per
 * `process()`, a manual `Worker` for `dequeue()`, `QueueEvents` for `on()`.
 * Every one gets its own connection from the backend; the prefix carries a
 * hash tag so every key of a queue lives in one Cluster slot.
 */
export function bullmqDriver(
  o: ResolvedQueueOptions<unknown>,
  source: RedisConnectionSource,
): Driver {
  const prefix = `${o.backend.prefix}rbq:{${o.name}}`;
  const clients: RedisClient[] = [];
  const workers = new Set<BullMQ.Worker>();
  const listeners = new Map<keyof QueueEvents, Set<(event: unknown) => void>>();
  let closed = false;
  const client = () => {
    const c = source.createClient() as RedisClient;
    clients.push(c);
    return c as never;
  };
  const open = () => {
    if (closed) throw new ClosedError(`${PKG} queue "${o.name}" is closed`);
  };

  // Retention is applied by our workers when a job finishes (BullMQ's worker-level keepJobs),
  // not written into every job's options: per-job options cost each job a few percent of
  // throughput (measured in bench/), and retention here is a queue setting anyway.
  const workerOptions = (): BullMQ.WorkerOptions => ({
    connection: client(),
    prefix,
    lockDuration: o.lockDurationMs,
    stalledInterval: o.stalledIntervalMs,
    maxStalledCount: o.maxStalledCount,
    removeOnComplete: {
      count: o.removeOnComplete.count,
      age: Math.ceil(o.removeOnComplete.ageMs / 1000),
    },
    removeOnFail: { count: o.removeOnFail.count, age: Math.ceil(o.removeOnFail.ageMs / 1000) },
  });

  const queue = (async () => {
    const { Queue } = await loadBullMQ();
    const connection = client();
    const q = new Queue(o.name, {
      connection,
      prefix,
      streams: { events: { maxLen: 1000 } },
    });
    q.on('error', () => {
      // surfaced by the failing calls
    });
    await q.waitUntilReady();
    await checkEvictionPolicy(connection, o.onWarning);
    return q;
  })();
  queue.catch(() => undefined);

  let events: Promise<BullMQ.QueueEvents> | undefined;
  const startEvents = () => {
    events ??= (async () => {
      const { QueueEvents } = await loadBullMQ();
      const qe = new QueueEvents(o.name, { connection: client(), prefix });
      qe.on('error', () => undefined);
      const emit = (event: keyof QueueEvents, payload: unknown) => {
        for (const l of listeners.get(event) ?? []) {
          try {
            l(payload);
          } catch (error) {
            process.emitWarning(`${PKG} a "${event}" listener threw: ${String(error)}`);
          }
        }
      };
      qe.on('completed', ({ jobId, returnvalue }) =>
        emit('completed', { jobId, returnValue: parseMaybe(returnvalue) }),
      );
      qe.on('failed', ({ jobId, failedReason }) =>
        emit('failed', { jobId, failedReason, attemptsMade: -1 }),
      );
      qe.on('retries-exhausted', () => undefined);
      qe.on('progress', ({ jobId, data }) =>
        emit('progress', { jobId, progress: data as number | object }),
      );
      qe.on('stalled', ({ jobId }) => emit('stalled', { jobId }));
      await qe.waitUntilReady();
      return qe;
    })();
    return events;
  };

  let manual: Promise<BullMQ.Worker> | undefined;
  const manualWorker = () => {
    manual ??= (async () => {
      const { Worker } = await loadBullMQ();
      const w = new Worker(o.name, null, { ...workerOptions(), autorun: false });
      w.on('error', () => undefined);
      await w.waitUntilReady();
      workers.add(w);
      return w;
    })();
    return manual;
  };

  const toBull = (opts: ResolvedEnqueueOptions): BullMQ.JobsOptions => ({
    ...(opts.priority > 0 ? { priority: opts.priority } : {}),
    ...(opts.delayMs > 0 ? { delay: opts.delayMs } : {}),
    attempts: opts.attempts,
    ...(opts.backoff ? { backoff: { type: opts.backoff.type, delay: opts.backoff.delayMs } } : {}),
    ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
  });

  const call = async <R>(what: string, fn: (q: BullMQ.Queue) => Promise<R>): Promise<R> => {
    open();
    try {
      // The queue's own start (waiting for Redis) counts against the deadline too.
      const work = queue.then(fn);
      return o.callTimeoutMs > 0 ? await bounded(work, o.callTimeoutMs, what, o.name) : await work;
    } catch (error) {
      if (isRedbrickError(error)) throw error;
      if (
        source.isUnavailable?.(error) ||
        /Connection is closed|ECONNREFUSED|ECONNRESET|timed out|Stream isn't writeable/i.test(
          String(error),
        )
      ) {
        throw new BackendUnavailableError(
          `${PKG} ${what} on queue "${o.name}" failed: Redis is unreachable`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  };

  return {
    async ready() {
      await call('ready', async () => undefined);
      if (listeners.size > 0) await startEvents();
    },
    enqueue: (data, opts) =>
      call('enqueue', async (q) => {
        const job = await q.add('job', data, toBull(opts));
        // A new job's state is known without asking. An existing jobId adds nothing, and BullMQ
        // answers with the new data: report the stored job.
        if (opts.jobId === undefined) return info(job, opts.delayMs > 0 ? 'delayed' : 'waiting');
        return info((await q.getJob(String(job.id))) ?? job);
      }),
    enqueueMany: (items) =>
      call('enqueueMany', async (q) => {
        const jobs = await q.addBulk(
          items.map(({ data, options }) => ({ name: 'job', data, opts: toBull(options) })),
        );
        return Promise.all(
          jobs.map(async (job, i) =>
            items[i]?.options.jobId === undefined
              ? info(job, (items[i]?.options.delayMs ?? 0) > 0 ? 'delayed' : 'waiting')
              : info((await q.getJob(String(job.id))) ?? job),
          ),
        );
      }),
    peek: (n) =>
      call('peek', async (q) => {
        // Waiting ones run first (FIFO: oldest at the end of BullMQ's list), then prioritised.
        const waiting = (await q.getJobs(['wait'], 0, n - 1, true)).filter(Boolean);
        const rest = n - waiting.length;
        const prioritized =
          rest > 0 ? (await q.getJobs(['prioritized'], 0, rest - 1, true)).filter(Boolean) : [];
        return Promise.all([...waiting, ...prioritized].map((j) => info(j)));
      }),
    counts: () =>
      call('counts', async (q) => {
        const c = await q.getJobCounts(
          'waiting',
          'prioritized',
          'waiting-children',
          'active',
          'delayed',
          'completed',
          'failed',
        );
        return {
          waiting:
            (c.waiting ?? 0) +
            (c.paused ?? 0) +
            (c.prioritized ?? 0) +
            (c['waiting-children'] ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        };
      }),
    getJob: (id) =>
      call('getJob', async (q) => {
        const job = await q.getJob(id);
        return job ? info(job) : undefined;
      }),
    failed: (limit) =>
      call('failed', async (q) =>
        Promise.all((await q.getFailed(0, limit - 1)).map((j) => info(j))),
      ),
    process(handler: DriverHandler, { concurrency, limiter }): QueueWorker {
      open();
      const started = (async () => {
        const { Worker } = await loadBullMQ();
        const worker = new Worker(
          o.name,
          async (job) =>
            handler({
              id: String(job.id),
              data: job.data,
              attemptsMade: job.attemptsMade,
              updateProgress: (progress) => job.updateProgress(progress),
            }),
          {
            ...workerOptions(),
            concurrency,
            ...(limiter ? { limiter: { max: limiter.max, duration: limiter.durationMs } } : {}),
          },
        );
        worker.on('error', () => {
          // connection errors: the worker reconnects on its own
        });
        workers.add(worker);
        return worker;
      })();
      started.catch((error: unknown) =>
        o.onWarning(`${PKG} worker of "${o.name}" could not start: ${String(error)}`),
      );
      return {
        close: async () => {
          const worker = await started.catch(() => undefined);
          if (!worker) return;
          workers.delete(worker);
          await worker.close();
        },
      };
    },
    async dequeue(): Promise<PulledJob<unknown> | undefined> {
      open();
      const worker = await manualWorker();
      const token = randomUUID();
      const job = (await worker.getNextJob(token, { block: false })) as BullMQ.Job | undefined;
      if (!job) return undefined;
      return {
        id: String(job.id),
        data: job.data,
        attemptsMade: job.attemptsMade,
        updateProgress: (progress) => job.updateProgress(progress),
        complete: async (result) => {
          await job.moveToCompleted(result ?? null, token, false);
        },
        fail: async (error) => {
          await job.moveToFailed(error, token, false);
        },
      };
    },
    schedule: (name, repeat, data) =>
      call('schedule', async (q) => {
        if ('cron' in repeat) parseCron(repeat.cron);
        await q.upsertJobScheduler(
          name,
          'cron' in repeat ? { pattern: repeat.cron } : { every: repeat.everyMs },
          { name: 'job', data },
        );
      }),
    unschedule: (name) => call('unschedule', (q) => q.removeJobScheduler(name)),
    on(event, listener) {
      open();
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      const l = listener as (event: unknown) => void;
      set.add(l);
      startEvents().catch(() => undefined);
      return () => {
        set.delete(l);
      };
    },
    pause: () => call('pause', (q) => q.pause()),
    resume: () => call('resume', (q) => q.resume()),
    isPaused: () => call('isPaused', (q) => q.isPaused()),
    clear: () =>
      call('clear', async (q) => {
        await q.drain(true);
        await q.clean(0, 0, 'completed');
        await q.clean(0, 0, 'failed');
      }),
    retry: (jobId) =>
      call('retry', async (q) => {
        const job = await q.getJob(jobId);
        if (!job || (await job.getState()) !== 'failed') return false;
        await job.retry('failed');
        return true;
      }),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...workers].map((w) => w.close()));
      await events?.then((e) => e.close()).catch(() => undefined);
      await queue.then((q) => q.close()).catch(() => undefined);
      for (const c of clients) c.disconnect();
    },
  };
}

function parseMaybe(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

async function checkEvictionPolicy(
  connection: unknown,
  warn: (message: string) => void,
): Promise<void> {
  try {
    const client = connection as { config(...args: string[]): Promise<unknown> };
    const reply = await client.config('GET', 'maxmemory-policy');
    const policy = Array.isArray(reply) ? String(reply[1] ?? '') : '';
    if (policy && policy !== 'noeviction') {
      warn(
        `${PKG} Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict queue keys and lose jobs. Use "noeviction" for a Redis that holds queues.`,
      );
    }
  } catch {
    // CONFIG may be disabled (managed Redis): nothing to check
  }
}
