import { randomUUID } from 'node:crypto';
import { type Backend, ClosedError, unscoped } from '@redbrick/core';
import { nextCronTime, parseCron } from './cron.js';
import type { Driver, DriverHandler, DriverJob } from './driver.js';
import { PKG } from './errors.js';
import {
  backoffDelay,
  type ResolvedEnqueueOptions,
  type ResolvedQueueOptions,
  type Retention,
} from './options.js';
import type { JobCounts, JobInfo, QueueEvents, QueueWorker, Repeat } from './types.js';

/*
 * The in-process queue: BullMQ's semantics (order, delays, retries with
 * backoff, concurrency, stalled jobs, retention, events) kept in JS beside a
 * memory backend. Every queue object made from the same memory backend (or a
 * scoped view of it) and name shares one state, as BullMQ queues share Redis;
 * it cannot be shared across processes.
 */

interface JobRecord<T> {
  id: string;
  data: T;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
  priority: number;
  /** Order among waiting jobs (set when the job becomes waiting). */
  seq: number;
  availableAt: number;
  attempts: number;
  backoff: ResolvedEnqueueOptions['backoff'];
  attemptsMade: number;
  stalledCount: number;
  progress: number | object;
  failedReason: string | undefined;
  returnValue: unknown;
  createdAt: number;
  finishedAt: number;
  /** The current attempt's token: a late result from a stalled attempt is ignored. */
  token: string | undefined;
  lockUntil: number;
  /** Frees the worker slot of the current attempt when it stalls. */
  onStall: (() => void) | undefined;
}

const STALLED = Symbol('stalled');

type Listener = (event: unknown) => void;

/** A binary min-heap. */
class Heap<V> {
  readonly #items: V[] = [];
  constructor(readonly less: (a: V, b: V) => boolean) {}
  get size(): number {
    return this.#items.length;
  }
  peek(): V | undefined {
    return this.#items[0];
  }
  values(): readonly V[] {
    return this.#items;
  }
  push(value: V): void {
    const a = this.#items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i] as V, a[parent] as V)) break;
      [a[i], a[parent]] = [a[parent] as V, a[i] as V];
      i = parent;
    }
  }
  pop(): V | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l] as V, a[m] as V)) m = l;
        if (r < a.length && this.less(a[r] as V, a[m] as V)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as V, a[i] as V];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.#items.length = 0;
  }
}

class State {
  readonly jobs = new Map<string, JobRecord<unknown>>();
  readonly listeners = new Map<keyof QueueEvents, Set<Listener>>();
  readonly workers = new Set<MemoryWorker>();
  /** Waiting jobs without a priority, oldest first. */
  readonly fifo = new Set<JobRecord<unknown>>();
  /** Waiting jobs with a priority. */
  readonly prioritized = new Heap<JobRecord<unknown>>((a, b) =>
    a.priority !== b.priority ? a.priority < b.priority : a.seq < b.seq,
  );
  /** Delayed jobs by when they are due (entries of jobs that moved on are skipped). */
  readonly delayed = new Heap<{ at: number; job: JobRecord<unknown> }>((a, b) => a.at < b.at);
  readonly active = new Set<JobRecord<unknown>>();
  /** Finished jobs, oldest first (a Set keeps insertion order). */
  readonly completed = new Set<JobRecord<unknown>>();
  readonly failed = new Set<JobRecord<unknown>>();
  delayedCount = 0;
  paused = false;
  seq = 0;
  ids = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(readonly o: ResolvedQueueOptions<unknown>) {}

  emit<E extends keyof QueueEvents>(event: E, payload: QueueEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch (error) {
        process.emitWarning(`${PKG} a "${event}" listener threw: ${String(error)}`);
      }
    }
  }

  toWaiting(job: JobRecord<unknown>): void {
    if (job.state === 'delayed') this.delayedCount--;
    job.state = 'waiting';
    job.seq = ++this.seq;
    if (job.priority === 0) this.fifo.add(job);
    else this.prioritized.push(job);
  }

  toDelayed(job: JobRecord<unknown>, at: number): void {
    job.state = 'delayed';
    job.availableAt = at;
    this.delayedCount++;
    this.delayed.push({ at, job });
    this.arm(at);
  }

  /** Moves due delayed jobs to waiting and stalled active jobs back, then feeds the workers. */
  pump(): void {
    const now = Date.now();
    for (;;) {
      const top = this.delayed.peek();
      if (!top || top.at > now) break;
      this.delayed.pop();
      if (top.job.state === 'delayed' && top.job.availableAt === top.at) this.toWaiting(top.job);
    }
    let next = this.delayed.peek()?.at ?? Number.POSITIVE_INFINITY;
    // Every lock lasts lockDurationMs from when its job was taken, so the active set (in
    // insertion order) is ordered by lock deadline: stall the expired ones at the front, then
    // stop at the first live one. A pump costs O(stalled jobs), not O(active jobs).
    for (const job of this.active) {
      if (job.lockUntil > now) {
        next = Math.min(next, job.lockUntil);
        break;
      }
      this.stall(job);
    }
    for (const worker of this.workers) worker.fill();
    this.arm(next);
  }

  arm(at: number): void {
    if (at === Number.POSITIVE_INFINITY || (this.#timer && this.#timerAt <= at)) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    );
    // Nothing else to do is no reason to keep the process alive; workers keep it alive.
    if (this.workers.size === 0) this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  stall(job: JobRecord<unknown>): void {
    this.active.delete(job);
    job.token = undefined;
    job.onStall?.();
    job.onStall = undefined;
    job.stalledCount++;
    this.emit('stalled', { jobId: job.id });
    if (job.stalledCount > this.o.maxStalledCount) {
      this.finishFailed(job, 'job stalled more than allowable limit');
    } else {
      this.toWaiting(job);
    }
  }

  /** The next job a worker may take, in BullMQ's order (no priority first, FIFO; then by priority). */
  next(): JobRecord<unknown> | undefined {
    if (this.paused) return undefined;
    for (const job of this.fifo) return job;
    return this.prioritized.peek();
  }

  take(job: JobRecord<unknown>): string {
    if (!this.fifo.delete(job)) this.prioritized.pop();
    const token = randomUUID();
    job.state = 'active';
    job.token = token;
    job.lockUntil = Date.now() + this.o.lockDurationMs;
    this.active.add(job);
    this.arm(job.lockUntil);
    return token;
  }

  complete(job: JobRecord<unknown>, token: string, result: unknown): boolean {
    if (job.token !== token || job.state !== 'active') return false;
    this.active.delete(job);
    job.token = undefined;
    job.attemptsMade++;
    job.state = 'completed';
    job.returnValue = result === undefined ? null : jsonCopy(result);
    job.finishedAt = Date.now();
    this.completed.add(job);
    this.trim(this.completed, this.o.removeOnComplete);
    this.emit('completed', { jobId: job.id, returnValue: job.returnValue });
    return true;
  }

  fail(job: JobRecord<unknown>, token: string, error: unknown): boolean {
    if (job.token !== token || job.state !== 'active') return false;
    this.active.delete(job);
    job.token = undefined;
    job.attemptsMade++;
    const reason = error instanceof Error ? error.message : String(error);
    job.failedReason = reason;
    if (job.attemptsMade < job.attempts) {
      const delay = backoffDelay(job.backoff, job.attemptsMade);
      if (delay > 0) this.toDelayed(job, Date.now() + delay);
      else this.toWaiting(job);
      this.emit('failed', { jobId: job.id, failedReason: reason, attemptsMade: job.attemptsMade });
    } else {
      this.finishFailed(job, reason);
    }
    return true;
  }

  finishFailed(job: JobRecord<unknown>, reason: string): void {
    job.state = 'failed';
    job.failedReason = reason;
    job.finishedAt = Date.now();
    this.failed.add(job);
    this.trim(this.failed, this.o.removeOnFail);
    this.emit('failed', { jobId: job.id, failedReason: reason, attemptsMade: job.attemptsMade });
  }

  /** Drops the oldest finished jobs past the count, and those past the age. */
  trim(done: Set<JobRecord<unknown>>, keep: Retention): void {
    const cutoff = Date.now() - keep.ageMs;
    for (const job of done) {
      if (done.size <= keep.count && job.finishedAt >= cutoff) break;
      done.delete(job);
      this.jobs.delete(job.id);
    }
  }

  /** Removes every job that is not running. */
  clear(): void {
    for (const [id, job] of this.jobs) if (job.state !== 'active') this.jobs.delete(id);
    this.fifo.clear();
    this.prioritized.clear();
    this.delayed.clear();
    this.completed.clear();
    this.failed.clear();
    this.delayedCount = 0;
  }

  /** Waiting jobs in the order they would run. */
  waitingInOrder(n: number): JobRecord<unknown>[] {
    const out: JobRecord<unknown>[] = [];
    for (const job of this.fifo) {
      if (out.length >= n) return out;
      out.push(job);
    }
    const rest = [...this.prioritized.values()].sort((a, b) => (before(a, b) ? -1 : 1));
    return out.concat(rest.slice(0, n - out.length));
  }
}

/** No priority first (FIFO), then priority 1, 2, … (FIFO within one). */
function before(a: JobRecord<unknown>, b: JobRecord<unknown>): boolean {
  const pa = a.priority === 0 ? -1 : a.priority;
  const pb = b.priority === 0 ? -1 : b.priority;
  return pa !== pb ? pa < pb : a.seq < b.seq;
}

/** Job data and results are JSON, as on BullMQ: the same values come back on both. */
function jsonCopy<V>(value: V): V {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as V);
}

function info<T>(job: JobRecord<unknown>): JobInfo<T> {
  return {
    id: job.id,
    data: job.data as T,
    state: job.state,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    returnValue: job.returnValue,
    priority: job.priority,
    createdAt: job.createdAt,
  };
}

class MemoryWorker implements QueueWorker {
  readonly #state: State;
  readonly #handler: DriverHandler;
  readonly #concurrency: number;
  readonly #limiter: { max: number; durationMs: number } | undefined;
  readonly #running = new Set<Promise<void>>();
  readonly #started: number[] = [];
  #closed = false;

  constructor(
    state: State,
    handler: DriverHandler,
    concurrency: number,
    limiter: { max: number; durationMs: number } | undefined,
  ) {
    this.#state = state;
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#limiter = limiter;
  }

  fill(): void {
    while (!this.#closed && this.#running.size < this.#concurrency) {
      if (this.#limiter) {
        const now = Date.now();
        while (
          this.#started.length > 0 &&
          (this.#started[0] as number) <= now - this.#limiter.durationMs
        )
          this.#started.shift();
        if (this.#started.length >= this.#limiter.max) {
          this.#state.arm((this.#started[0] as number) + this.#limiter.durationMs);
          return;
        }
        this.#started.push(now);
      }
      const job = this.#state.next();
      if (!job) {
        if (this.#limiter) this.#started.pop();
        return;
      }
      const token = this.#state.take(job);
      const run = this.#run(job, token);
      this.#running.add(run);
      void run.finally(() => {
        this.#running.delete(run);
        // Next turn: a burst of completions refills once.
        queueMicrotask(() => this.#state.pump());
      });
    }
  }

  async #run(job: JobRecord<unknown>, token: string): Promise<void> {
    const state = this.#state;
    const driverJob: DriverJob = {
      id: job.id,
      data: jsonCopy(job.data),
      attemptsMade: job.attemptsMade,
      updateProgress: async (progress) => {
        if (job.token !== token) return;
        job.progress = jsonCopy(progress);
        state.emit('progress', { jobId: job.id, progress: job.progress });
      },
    };
    // A handler that outlives its lock stalls: its slot is freed and its late result ignored.
    const stalled = new Promise<typeof STALLED>((resolve) => {
      job.onStall = () => resolve(STALLED);
    });
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => this.#handler(driverJob)),
        stalled,
      ]);
      if (result !== STALLED) state.complete(job, token, result);
    } catch (error) {
      state.fail(job, token, error);
    } finally {
      if (job.token === token || job.token === undefined) job.onStall = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
    this.#state.workers.delete(this);
  }
}

const states = new WeakMap<Backend, Map<string, State>>();

function stateFor(o: ResolvedQueueOptions<unknown>): State {
  const root = unscoped(o.backend);
  let byName = states.get(root);
  if (!byName) {
    byName = new Map();
    states.set(root, byName);
  }
  const id = `${o.backend.prefix}${o.name}`;
  let state = byName.get(id);
  if (!state) {
    state = new State(o);
    byName.set(id, state);
  }
  return state;
}

/** The in-process driver of one queue object. */
export function memoryDriver(o: ResolvedQueueOptions<unknown>): Driver {
  const state = stateFor(o);
  const mine = new Set<MemoryWorker>();
  const schedules = new Map<string, NodeJS.Timeout>();
  const listeners: Array<() => void> = [];
  let closed = false;
  const open = () => {
    if (closed) throw new ClosedError(`${PKG} queue "${o.name}" is closed`);
  };

  const add = (data: unknown, opts: ResolvedEnqueueOptions): JobInfo<unknown> => {
    if (opts.jobId !== undefined) {
      const existing = state.jobs.get(opts.jobId);
      if (existing) return info(existing);
    }
    const id = opts.jobId ?? String(++state.ids);
    const now = Date.now();
    const job: JobRecord<unknown> = {
      id,
      data: jsonCopy(data),
      state: 'waiting',
      priority: opts.priority,
      seq: ++state.seq,
      availableAt: now + opts.delayMs,
      attempts: opts.attempts,
      backoff: opts.backoff,
      attemptsMade: 0,
      stalledCount: 0,
      progress: 0,
      failedReason: undefined,
      returnValue: null,
      createdAt: now,
      finishedAt: 0,
      token: undefined,
      lockUntil: 0,
      onStall: undefined,
    };
    state.jobs.set(id, job);
    if (opts.delayMs > 0) state.toDelayed(job, now + opts.delayMs);
    else state.toWaiting(job);
    return info(job);
  };

  return {
    async ready() {
      open();
    },
    async enqueue(data, opts) {
      open();
      const job = add(data, opts);
      state.pump();
      return job;
    },
    async enqueueMany(items) {
      open();
      const jobs = items.map(({ data, options }) => add(data, options));
      state.pump();
      return jobs;
    },
    async peek(n) {
      open();
      state.pump();
      return state.waitingInOrder(n).map((j) => info(j));
    },
    async counts(): Promise<JobCounts> {
      open();
      state.pump();
      return {
        waiting: state.fifo.size + state.prioritized.size,
        active: state.active.size,
        delayed: state.delayedCount,
        completed: state.completed.size,
        failed: state.failed.size,
      } satisfies JobCounts;
    },
    async getJob(id) {
      open();
      const job = state.jobs.get(id);
      return job ? info(job) : undefined;
    },
    async failed(limit) {
      open();
      return [...state.failed]
        .reverse()
        .slice(0, limit)
        .map((j) => info(j));
    },
    process(handler, { concurrency, limiter }) {
      open();
      const worker = new MemoryWorker(state, handler, concurrency, limiter);
      state.workers.add(worker);
      mine.add(worker);
      queueMicrotask(() => state.pump());
      return {
        close: async () => {
          mine.delete(worker);
          await worker.close();
        },
      };
    },
    async dequeue() {
      open();
      state.pump();
      const job = state.next();
      if (!job) return undefined;
      const token = state.take(job);
      return {
        id: job.id,
        data: jsonCopy(job.data),
        attemptsMade: job.attemptsMade,
        updateProgress: async (progress) => {
          if (job.token !== token) return;
          job.progress = jsonCopy(progress);
          state.emit('progress', { jobId: job.id, progress: job.progress });
        },
        complete: async (result) => {
          if (!state.complete(job, token, result)) {
            throw new ClosedError(
              `${PKG} job ${job.id} is no longer held by this caller (it stalled or finished)`,
            );
          }
          state.pump();
        },
        fail: async (error) => {
          if (!state.fail(job, token, error)) {
            throw new ClosedError(
              `${PKG} job ${job.id} is no longer held by this caller (it stalled or finished)`,
            );
          }
          state.pump();
        },
      };
    },
    async schedule(name, repeat: Repeat, data) {
      open();
      clearTimeout(schedules.get(name));
      const cron = 'cron' in repeat ? parseCron(repeat.cron) : undefined;
      const nextAt = (after: number) =>
        cron ? nextCronTime(cron, after) : after + (repeat as { everyMs: number }).everyMs;
      const arm = (at: number) => {
        const timer = setTimeout(
          () => {
            add(data, {
              priority: 0,
              delayMs: 0,
              attempts: o.attempts,
              backoff: o.backoff,
              jobId: `repeat-${name}-${at}`,
            });
            state.pump();
            arm(nextAt(at));
          },
          Math.max(0, at - Date.now()),
        );
        timer.unref();
        schedules.set(name, timer);
      };
      arm(nextAt(Date.now()));
    },
    async unschedule(name) {
      const timer = schedules.get(name);
      clearTimeout(timer);
      return schedules.delete(name);
    },
    on(event, listener) {
      open();
      let set = state.listeners.get(event);
      if (!set) {
        set = new Set();
        state.listeners.set(event, set);
      }
      const l = listener as Listener;
      set.add(l);
      const off = () => {
        set.delete(l);
      };
      listeners.push(off);
      return off;
    },
    async pause() {
      open();
      state.paused = true;
    },
    async resume() {
      open();
      state.paused = false;
      state.pump();
    },
    async isPaused() {
      return state.paused;
    },
    async clear() {
      open();
      state.clear();
    },
    async retry(jobId) {
      open();
      const job = state.jobs.get(jobId);
      if (job?.state !== 'failed') return false;
      state.failed.delete(job);
      state.toWaiting(job);
      job.attempts = Math.max(job.attempts, job.attemptsMade + 1);
      job.failedReason = undefined;
      state.pump();
      return true;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of schedules.values()) clearTimeout(timer);
      schedules.clear();
      for (const off of listeners) off();
      await Promise.all([...mine].map((w) => w.close()));
      if (state.workers.size === 0) state.stop();
    },
  };
}
