import type { ResolvedEnqueueOptions } from './options.js';
import type { JobCounts, JobInfo, PulledJob, QueueEvents, QueueWorker, Repeat } from './types.js';

/** The job a driver hands to a handler (data not yet validated). */
export interface DriverJob {
  readonly id: string;
  readonly data: unknown;
  readonly attemptsMade: number;
  updateProgress(progress: number | object): Promise<void>;
}

export type DriverHandler = (job: DriverJob) => unknown | Promise<unknown>;

/** What the memory queue and the BullMQ queue implement; `Queue` adds validation on top. */
export interface Driver {
  ready(): Promise<void>;
  enqueue(data: unknown, options: ResolvedEnqueueOptions): Promise<JobInfo<unknown>>;
  enqueueMany(
    jobs: ReadonlyArray<{ data: unknown; options: ResolvedEnqueueOptions }>,
  ): Promise<JobInfo<unknown>[]>;
  peek(n: number): Promise<JobInfo<unknown>[]>;
  counts(): Promise<JobCounts>;
  getJob(id: string): Promise<JobInfo<unknown> | undefined>;
  failed(limit: number): Promise<JobInfo<unknown>[]>;
  process(
    handler: DriverHandler,
    options: { concurrency: number; limiter: { max: number; durationMs: number } | undefined },
  ): QueueWorker;
  dequeue(): Promise<PulledJob<unknown> | undefined>;
  schedule(name: string, repeat: Repeat, data: unknown): Promise<void>;
  unschedule(name: string): Promise<boolean>;
  on<E extends keyof QueueEvents>(event: E, listener: (event: QueueEvents[E]) => void): () => void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): Promise<boolean>;
  clear(): Promise<void>;
  retry(jobId: string): Promise<boolean>;
  close(): Promise<void>;
}
