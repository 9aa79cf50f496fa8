export type { QueueOptions, Retention } from './options.js';
export { createQueue } from './queue.js';
export type {
  Backoff,
  EnqueueOptions,
  Handler,
  Job,
  JobCounts,
  JobInfo,
  JobState,
  ProcessOptions,
  PulledJob,
  Queue,
  QueueEvents,
  QueueWorker,
  Repeat,
} from './types.js';
