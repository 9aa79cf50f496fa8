import { assertInteger, type Backend, ValidationError } from '@redbrick/core';
import type { z } from 'zod';
import { PKG } from './errors.js';
import type { Backoff, EnqueueOptions, ProcessOptions, Repeat } from './types.js';

/** How many finished jobs to keep. */
export interface Retention {
  /** Keep at most this many. */
  count: number;
  /** Drop those older than this, in ms. */
  ageMs: number;
}

/** Options of {@link createQueue}. */
export interface QueueOptions<T> {
  /** Memory backend: an in-process queue; a Redis backend: BullMQ (install `bullmq`). */
  backend: Backend;
  /** Letters, digits, `.`, `_`, `-` (1–100 characters). */
  name: string;
  /** Validates job data at enqueue (rejecting bad data with its path) and again before the handler runs. */
  schema?: z.ZodType<T>;
  /** Defaults for every job. */
  defaults?: {
    /** @default 1 */
    attempts?: number;
    backoff?: Backoff;
    /** @default { count: 1000, ageMs: 86_400_000 } (one day) */
    removeOnComplete?: Retention;
    /** @default { count: 5000, ageMs: 604_800_000 } (one week) */
    removeOnFail?: Retention;
  };
  /**
   * How long a worker holds a job before it counts as stalled, in ms. On
   * BullMQ the lock is renewed while the worker process is alive, so only a
   * dead or blocked worker stalls; in memory (one process) a handler that
   * has not settled by then stalls.
   * @default 30000
   */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, in ms (BullMQ). @default 30000 */
  stalledIntervalMs?: number;
  /** Stalls a job may survive before it fails. @default 1 */
  maxStalledCount?: number;
  /**
   * How long a call on the queue (`enqueue`, `counts`, `getJob`, `pause`, …)
   * waits for Redis before it rejects with `BACKEND_UNAVAILABLE`, in ms.
   * BullMQ's connections wait out an outage (they queue commands until
   * Redis is back), so without a bound a call made while Redis is down
   * would wait for as long as the outage lasts. A call that timed out may
   * still run once Redis is back: give jobs a `jobId` to make a retried
   * enqueue safe. `0` waits as long as it takes. Workers are not affected:
   * they always wait for Redis and resume on their own. In memory, calls
   * never wait.
   * @default 10000
   */
  callTimeoutMs?: number;
  /** Where warnings go (e.g. an eviction policy unsafe for queues). @default process.emitWarning */
  onWarning?: (message: string) => void;
}

/** Options after defaults. */
export interface ResolvedQueueOptions<T> {
  backend: Backend;
  name: string;
  schema: z.ZodType<T> | undefined;
  attempts: number;
  backoff: Backoff | undefined;
  removeOnComplete: Retention;
  removeOnFail: Retention;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  callTimeoutMs: number;
  onWarning: (message: string) => void;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;
export const MAX_PRIORITY = 2_097_152;

function retention(value: unknown, field: string, fallback: Retention): Retention {
  if (value === undefined) return fallback;
  if (typeof value !== 'object' || value === null) {
    throw new ValidationError(`${PKG} ${field} must be { count, ageMs }`, { field });
  }
  const r = value as Partial<Retention>;
  const count = r.count ?? fallback.count;
  const ageMs = r.ageMs ?? fallback.ageMs;
  assertInteger(count, `${field}.count`, { min: 0, pkg: 'queue' });
  assertInteger(ageMs, `${field}.ageMs`, { min: 1, pkg: 'queue' });
  return { count, ageMs };
}

export function checkBackoff(value: unknown, field = 'backoff'): Backoff | undefined {
  if (value === undefined) return undefined;
  const b = value as Partial<Backoff> | null;
  if (typeof b !== 'object' || b === null || (b.type !== 'fixed' && b.type !== 'exponential')) {
    throw new ValidationError(
      `${PKG} ${field} must be { type: 'fixed' | 'exponential', delayMs }`,
      { field },
    );
  }
  assertInteger(b.delayMs, `${field}.delayMs`, { min: 0, pkg: 'queue' });
  return { type: b.type, delayMs: b.delayMs };
}

export function resolveQueueOptions<T>(options: QueueOptions<T>): ResolvedQueueOptions<T> {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`${PKG} createQueue needs options`, { field: 'options' });
  }
  const { backend, name } = options;
  if (typeof backend !== 'object' || backend === null || typeof backend.run !== 'function') {
    throw new ValidationError(`${PKG} backend must be a redbrick Backend`, { field: 'backend' });
  }
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ValidationError(
      `${PKG} name must be 1–100 letters, digits, ".", "_" or "-", got ${JSON.stringify(name)}`,
      { field: 'name' },
    );
  }
  if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
    throw new ValidationError(`${PKG} schema must be a zod schema`, { field: 'schema' });
  }
  const d = options.defaults ?? {};
  const attempts = d.attempts ?? 1;
  assertInteger(attempts, 'defaults.attempts', { min: 1, pkg: 'queue' });
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  assertInteger(lockDurationMs, 'lockDurationMs', { min: 10, pkg: 'queue' });
  const stalledIntervalMs = options.stalledIntervalMs ?? 30_000;
  assertInteger(stalledIntervalMs, 'stalledIntervalMs', { min: 10, pkg: 'queue' });
  const maxStalledCount = options.maxStalledCount ?? 1;
  assertInteger(maxStalledCount, 'maxStalledCount', { min: 0, pkg: 'queue' });
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  assertInteger(callTimeoutMs, 'callTimeoutMs', { min: 0, pkg: 'queue' });
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new ValidationError(`${PKG} onWarning must be a function`, { field: 'onWarning' });
  }
  return {
    backend,
    name,
    schema: options.schema,
    attempts,
    backoff: checkBackoff(d.backoff, 'defaults.backoff'),
    removeOnComplete: retention(d.removeOnComplete, 'defaults.removeOnComplete', {
      count: 1000,
      ageMs: 86_400_000,
    }),
    removeOnFail: retention(d.removeOnFail, 'defaults.removeOnFail', {
      count: 5000,
      ageMs: 604_800_000,
    }),
    lockDurationMs,
    stalledIntervalMs,
    maxStalledCount,
    callTimeoutMs,
    onWarning: options.onWarning ?? ((message) => process.emitWarning(message, 'RedbrickQueue')),
  };
}

/** One job's options with the queue's defaults applied. */
export interface ResolvedEnqueueOptions {
  priority: number;
  delayMs: number;
  attempts: number;
  backoff: Backoff | undefined;
  jobId: string | undefined;
}

export function resolveEnqueueOptions(
  options: EnqueueOptions | undefined,
  q: ResolvedQueueOptions<unknown>,
): ResolvedEnqueueOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new ValidationError(`${PKG} enqueue options must be an object`, { field: 'options' });
  }
  const priority = o.priority ?? 0;
  if (o.priority !== undefined) {
    assertInteger(priority, 'priority', { min: 1, max: MAX_PRIORITY, pkg: 'queue' });
  }
  const delayMs = o.delayMs ?? 0;
  assertInteger(delayMs, 'delayMs', { min: 0, pkg: 'queue' });
  const attempts = o.attempts ?? q.attempts;
  assertInteger(attempts, 'attempts', { min: 1, max: 1000, pkg: 'queue' });
  const jobId = o.jobId;
  if (
    jobId !== undefined &&
    (typeof jobId !== 'string' || !/^[^:]{1,200}$/.test(jobId) || /^\d+$/.test(jobId))
  ) {
    throw new ValidationError(
      `${PKG} jobId must be 1–200 characters without ":" and not only digits (BullMQ numbers its own ids), got ${JSON.stringify(jobId)}`,
      { field: 'jobId' },
    );
  }
  return {
    priority,
    delayMs,
    attempts,
    backoff: o.backoff === undefined ? q.backoff : checkBackoff(o.backoff),
    jobId,
  };
}

export function resolveProcessOptions(options: ProcessOptions | undefined): {
  concurrency: number;
  limiter: { max: number; durationMs: number } | undefined;
} {
  const o = options ?? {};
  const concurrency = o.concurrency ?? 1;
  assertInteger(concurrency, 'concurrency', { min: 1, max: 10_000, pkg: 'queue' });
  let limiter: { max: number; durationMs: number } | undefined;
  if (o.limiter !== undefined) {
    assertInteger(o.limiter?.max, 'limiter.max', { min: 1, pkg: 'queue' });
    assertInteger(o.limiter.durationMs, 'limiter.durationMs', { min: 1, pkg: 'queue' });
    limiter = { max: o.limiter.max, durationMs: o.limiter.durationMs };
  }
  return { concurrency, limiter };
}

export function checkRepeat(name: unknown, repeat: unknown): Repeat {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ValidationError(
      `${PKG} schedule name must be 1–100 letters, digits, ".", "_" or "-", got ${JSON.stringify(name)}`,
      { field: 'name' },
    );
  }
  const r = repeat as { everyMs?: unknown; cron?: unknown } | null;
  if (typeof r === 'object' && r !== null && r.everyMs !== undefined) {
    assertInteger(r.everyMs, 'repeat.everyMs', { min: 10, pkg: 'queue' });
    return { everyMs: r.everyMs };
  }
  if (typeof r === 'object' && r !== null && typeof r.cron === 'string') return { cron: r.cron };
  throw new ValidationError(`${PKG} repeat must be { everyMs } or { cron }`, { field: 'repeat' });
}

/** Backoff delay before attempt `attemptsMade + 1`, after `attemptsMade` failed ones. */
export function backoffDelay(backoff: Backoff | undefined, attemptsMade: number): number {
  if (!backoff) return 0;
  if (backoff.type === 'fixed') return backoff.delayMs;
  return backoff.delayMs * 2 ** Math.max(0, attemptsMade - 1);
}
