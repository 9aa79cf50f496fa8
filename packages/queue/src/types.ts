/** Where a job is in its life. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'unknown';

/** How a failed attempt waits before the next one. */
export interface Backoff {
  /** `fixed`: always `delayMs`; `exponential`: `delayMs × 2^(attempt − 1)`. */
  type: 'fixed' | 'exponential';
  /** Base delay in ms. */
  delayMs: number;
}

/** Options of one job. */
export interface EnqueueOptions {
  /**
   * 1 (first) … 2,097,152 (last). Jobs without a priority are taken before
   * prioritised ones (BullMQ's order); among equals, first in first out.
   */
  priority?: number;
  /** Do not run before this many ms have passed. @default 0 */
  delayMs?: number;
  /** Attempts in all (1 = no retry). @default the queue's `defaults.attempts`, else 1 */
  attempts?: number;
  /** Wait between attempts. @default the queue's `defaults.backoff`, else none */
  backoff?: Backoff;
  /** Your id: enqueueing an id that exists again adds nothing and returns the existing job. */
  jobId?: string;
}

/** Counts per state. */
export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

/** A job as `getJob` / `peek` / `enqueue` report it (a snapshot). */
export interface JobInfo<T> {
  id: string;
  data: T;
  state: JobState;
  /** What the handler last reported with `updateProgress` (a number 0–100 or an object). */
  progress: number | object;
  /** Attempts that ran to a failure or success so far. */
  attemptsMade: number;
  /** The last failure's message, for failed (and retried) jobs. */
  failedReason: string | undefined;
  /** What the handler returned, for completed jobs. */
  returnValue: unknown;
  /** 0 when the job has no priority. */
  priority: number;
  /** When it was enqueued, ms since the epoch. */
  createdAt: number;
}

/** The job a handler works on. */
export interface Job<T> {
  readonly id: string;
  readonly data: T;
  /** Attempts before this one. */
  readonly attemptsMade: number;
  /** Reports progress (published as a `progress` event). */
  updateProgress(progress: number | object): Promise<void>;
}

/** A job taken with `dequeue()`: the caller finishes it. */
export interface PulledJob<T> extends Job<T> {
  /** Marks it completed with `result`. */
  complete(result?: unknown): Promise<void>;
  /** Marks the attempt failed; it is retried when attempts remain (with its backoff). */
  fail(error: Error): Promise<void>;
}

/** A handler: its return value becomes the job's `returnValue`; a throw fails the attempt. */
export type Handler<T> = (job: Job<T>) => unknown | Promise<unknown>;

/** Options of `queue.process`. */
export interface ProcessOptions {
  /** Jobs run at once by this worker. @default 1 */
  concurrency?: number;
  /** At most `max` jobs per `durationMs` for this worker (BullMQ: for the whole queue). */
  limiter?: { max: number; durationMs: number };
}

/** A running worker. */
export interface QueueWorker {
  /** Stops taking jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

/** How a schedule repeats. */
export type Repeat = { everyMs: number } | { cron: string };

/** Events, with what they carry. */
export interface QueueEvents {
  completed: { jobId: string; returnValue: unknown };
  failed: { jobId: string; failedReason: string; attemptsMade: number };
  progress: { jobId: string; progress: number | object };
  stalled: { jobId: string };
}

/** What a queue can do, on memory and on BullMQ alike. */
export interface Queue<T> extends AsyncDisposable {
  /** The queue's name. */
  readonly name: string;
  /** Resolves once connections (and event listeners) are ready. */
  ready(): Promise<void>;
  enqueue(data: T, options?: EnqueueOptions): Promise<JobInfo<T>>;
  enqueueMany(jobs: ReadonlyArray<{ data: T; options?: EnqueueOptions }>): Promise<JobInfo<T>[]>;
  /** The next `n` jobs in the order they would run (waiting ones only). @default 1 */
  peek(n?: number): Promise<JobInfo<T>[]>;
  counts(): Promise<JobCounts>;
  getJob(id: string): Promise<JobInfo<T> | undefined>;
  /** Failed jobs, newest first (the dead-letter view). */
  failed(limit?: number): Promise<JobInfo<T>[]>;
  process(handler: Handler<T>, options?: ProcessOptions): QueueWorker;
  /** Takes the next job for the caller to finish (pull-style), or undefined when none waits. */
  dequeue(): Promise<PulledJob<T> | undefined>;
  /** Enqueues `data` on a repeating schedule (replaces a schedule of the same name). */
  schedule(name: string, repeat: Repeat, data: T): Promise<void>;
  unschedule(name: string): Promise<boolean>;
  on<E extends keyof QueueEvents>(event: E, listener: (event: QueueEvents[E]) => void): () => void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): Promise<boolean>;
  /** Removes waiting, delayed, completed and failed jobs (running ones finish). */
  clear(): Promise<void>;
  /** Moves a failed job back to waiting. True when it was failed. */
  retry(jobId: string): Promise<boolean>;
  /** Closes workers (gracefully), listeners and connections. */
  close(): Promise<void>;
}
