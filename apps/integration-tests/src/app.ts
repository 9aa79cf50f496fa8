import { type Cache, createCache } from '@redbrick/cache';
import { type Backend, isRedbrickError } from '@redbrick/core';
import { Mutex } from '@redbrick/locks';
import {
  type ChannelSubscription,
  createChannel,
  createStream,
  type StreamConsumer,
} from '@redbrick/pubsub';
import { createQueue, type Queue, type QueueWorker } from '@redbrick/queue';
import { RateLimiter } from '@redbrick/ratelimit';
import { ThreadBuffer } from '@redbrick/tenant-repos';
import { z } from 'zod';
import { Journal } from './journal.js';

/**
 * The application every worker runs: one "service instance" that uses the
 * redbrick packages the way a real service would, and writes what it did to
 * its journal so that the driver can check the invariants afterwards — also
 * for an instance that was SIGKILLed half-way.
 *
 * Journal events (one per line):
 * - `rl <round> allowed|denied|unavailable|error` — one rate-limit decision
 * - `inc-try <value> <fence>` / `inc-ok <value> <fence>` — a lock-protected
 *   increment is about to write / has written `value`
 * - `st <n>` — stream message `n` handled
 * - `tb <index> <slot>` — a thread-buffer append got `index` for `slot`
 * - `cr <item> <value> <startedAt>` — a cache read of `item` that started at
 *   `startedAt` (Unix ms) returned version `value`
 * - `job <n>` — queue job `n` processed
 */

/** Names shared by the app instances and the driver. */
export const NAMES = {
  /** The rate limiter (fixed window, one key per round). */
  limiter: 'api',
  /** Resource name of the mutex that protects {@link NAMES.counter}. */
  lock: 'counter',
  /** A plain string key, incremented by GET + SET under the mutex. */
  counter: 'counter',
  /** The durable stream the driver appends to. */
  stream: 'events',
  /** The stream's consumer group (all app instances share it). */
  group: 'app',
  /** The pub/sub channel the driver publishes to (every instance subscribes). */
  channel: 'bus',
  /** The thread buffer and the one thread every instance appends to. */
  buffer: 'it',
  thread: 'chat',
  /** The cache (default options: in-process L1 tier with pub/sub invalidation, over the backend). */
  cache: 'items',
  /** The job queue the driver enqueues to (every instance processes it). */
  queue: 'jobs',
  /** Prefix of the source-of-truth keys the cache's factory reads (`src:<item>` = a version number). */
  source: 'src',
} as const;

/** A stream entry: its number in the driver's sequence. */
export const streamMessage = z.number().int().nonnegative();

/** A queue job: its number in the driver's sequence. */
export const jobMessage = z.object({ n: z.number().int().nonnegative() });

/**
 * Queue settings shared by the instances and the driver: a job held by a
 * dead worker is found stalled within about a second (instead of BullMQ's
 * 30 s), a worker blocked by an outage may stall a job several times before
 * it fails, and every completed job is kept so the counts can be checked.
 */
export const QUEUE_SETTINGS = {
  lockDurationMs: 5_000,
  stalledIntervalMs: 1_000,
  maxStalledCount: 10,
  defaults: { removeOnComplete: { count: 1_000_000, ageMs: 86_400_000 } },
};

/** A channel message: the round it was published in. */
export const busMessage = z.number().int();

/** Options of {@link App.start}. */
export interface AppOptions {
  /** The backend, already scoped to the run's prefix. */
  backend: Backend;
  /** Names this instance: its stream consumer name and its lock owner. */
  id: string;
  /** File of this instance's journal. */
  journalFile: string;
  /** Units per rate-limit key (one key per round), shared by all instances. */
  rateLimit: number;
  /** Mutex lease in ms; longer than any pause the faults inject, so a paused holder keeps it. */
  lockTtlMs: number;
  /** How long a stream entry stays with a dead consumer before another takes it over, in ms. */
  claimIdleMs: number;
}

/** What the driver asks an instance to do in one round of load. */
export interface RoundOrder {
  round: number;
  /** Rate-limit checks on the round's key, all at once. */
  rateChecks: number;
  /** Lock-protected increments, one after another. */
  increments: number;
  /** Thread-buffer appends to the shared thread, all at once. */
  threadAppends: number;
  /** Items to read through the cache (`getOrSet`, the factory reads the source), one after another. */
  cacheReads: string[];
}

/** What one round did. */
export interface RoundReport {
  round: number;
  allowed: number;
  denied: number;
  /** Decisions answered by the outage policy (fail-closed) because the backend was unreachable. */
  unavailable: number;
  incrementsDone: number;
  incrementsFailed: number;
  threadAppendsDone: number;
  threadAppendsFailed: number;
  cacheReadsDone: number;
  cacheReadsFailed: number;
  /** Error codes seen this round, with counts. */
  errors: Record<string, number>;
}

/** What the channel subscription saw. */
export interface ChannelStats {
  /** Messages received (each sequence number once). */
  received: number;
  /** Messages reported missing by gap detection. */
  missed: number;
  /** Messages whose sequence number was not above the last one seen. */
  duplicates: number;
  /** Highest sequence number received. */
  lastSeq: number;
  /** Times the subscription was restored after an outage. */
  reconnects: number;
}

/** Counters of one instance. */
export interface AppStats {
  id: string;
  pid: number;
  rounds: number;
  channel: ChannelStats;
  stream: { handled: number; failed: number; redelivered: number; errors: number };
}

function codeOf(error: unknown): string {
  return isRedbrickError(error) ? error.code : error instanceof Error ? error.name : 'unknown';
}

/** One service instance. */
export class App {
  readonly #options: AppOptions;
  readonly #journal: Journal;
  readonly #limiter: RateLimiter;
  readonly #mutex: Mutex;
  readonly #buffer: ThreadBuffer<string>;
  readonly #cache: Cache<number>;
  readonly #queue: Queue<z.infer<typeof jobMessage>>;
  #jobs: QueueWorker | undefined;
  readonly #channelStats: ChannelStats = {
    received: 0,
    missed: 0,
    duplicates: 0,
    lastSeq: 0,
    reconnects: 0,
  };
  #streamErrors = 0;
  #rounds = 0;
  #consumer: StreamConsumer | undefined;
  #subscription: ChannelSubscription | undefined;

  private constructor(options: AppOptions) {
    this.#options = options;
    this.#journal = new Journal(options.journalFile);
    this.#limiter = new RateLimiter({
      backend: options.backend,
      name: NAMES.limiter,
      algorithm: 'fixed-window',
      limit: options.rateLimit,
      // One window for the whole run: every round has its own key.
      windowMs: 600_000,
      // Admitting while Redis is unreachable would break the limit by design; this app refuses.
      onUnavailable: 'fail-closed',
    });
    this.#mutex = new Mutex({
      backend: options.backend,
      ttlMs: options.lockTtlMs,
      waitMs: 30_000,
      maxRetryDelayMs: 250,
      owner: options.id,
    });
    this.#buffer = new ThreadBuffer<string>({ backend: options.backend, name: NAMES.buffer });
    // No grace period: a stale value is never served on purpose, so any served value older than
    // a completed invalidation is a coherence failure.
    this.#queue = createQueue({
      backend: options.backend,
      name: NAMES.queue,
      schema: jobMessage,
      ...QUEUE_SETTINGS,
    });
    this.#cache = createCache<number>({
      backend: options.backend,
      name: NAMES.cache,
      ttlMs: 600_000,
      graceMs: 0,
    });
  }

  /** Starts an instance: subscribes to the channel and starts consuming the stream. */
  static async start(options: AppOptions): Promise<App> {
    const app = new App(options);
    await app.#cache.ready();
    await app.#queue.ready();
    app.#jobs = app.#queue.process(
      async (job) => {
        app.#journal.write('job', job.data.n);
        await job.updateProgress(50);
        return job.data.n;
      },
      { concurrency: 4 },
    );
    await app.#startChannel();
    app.#startStream();
    return app;
  }

  async #startChannel(): Promise<void> {
    const stats = this.#channelStats;
    const channel = createChannel({
      backend: this.#options.backend,
      name: NAMES.channel,
      schema: busMessage,
      onGap: (gap) => {
        stats.missed += gap.missed;
      },
      onReconnect: () => {
        stats.reconnects++;
      },
      onError: () => undefined,
    });
    this.#subscription = await channel.subscribe((_message, meta) => {
      if (meta.seq === undefined) return;
      if (meta.seq <= stats.lastSeq) {
        stats.duplicates++;
        return;
      }
      stats.received++;
      stats.lastSeq = meta.seq;
    });
  }

  #startStream(): void {
    const stream = createStream({
      backend: this.#options.backend,
      name: NAMES.stream,
      schema: streamMessage,
      onError: () => {
        this.#streamErrors++;
      },
    });
    this.#consumer = stream.consume(
      NAMES.group,
      this.#options.id,
      (n) => {
        this.#journal.write('st', n);
      },
      {
        concurrency: 4,
        blockMs: 200,
        claimIdleMs: this.#options.claimIdleMs,
        claimIntervalMs: 250,
        retryDelayMs: 100,
        maxAttempts: 1_000,
      },
    );
  }

  /** Runs one round of load and reports what happened. */
  async round(order: RoundOrder): Promise<RoundReport> {
    const report: RoundReport = {
      round: order.round,
      allowed: 0,
      denied: 0,
      unavailable: 0,
      incrementsDone: 0,
      incrementsFailed: 0,
      threadAppendsDone: 0,
      threadAppendsFailed: 0,
      cacheReadsDone: 0,
      cacheReadsFailed: 0,
      errors: {},
    };
    const count = (error: unknown) => {
      const code = codeOf(error);
      report.errors[code] = (report.errors[code] ?? 0) + 1;
    };
    const rateKey = `round-${order.round}`;
    await Promise.all(
      Array.from({ length: order.rateChecks }, async () => {
        try {
          const decision = await this.#limiter.check(rateKey);
          const outcome = decision.allowed
            ? 'allowed'
            : decision.reason === 'backend-unavailable'
              ? 'unavailable'
              : 'denied';
          this.#journal.write('rl', order.round, outcome);
          report[outcome]++;
        } catch (error) {
          this.#journal.write('rl', order.round, 'error');
          count(error);
        }
      }),
    );
    await Promise.all(
      Array.from({ length: order.threadAppends }, async (_, i) => {
        const slot = `${this.#options.id}.${order.round}.${i}`;
        try {
          const index = await this.#buffer.append(NAMES.thread, slot);
          this.#journal.write('tb', index, slot);
          report.threadAppendsDone++;
        } catch (error) {
          report.threadAppendsFailed++;
          count(error);
        }
      }),
    );
    const { backend } = this.#options;
    for (const item of order.cacheReads) {
      const startedAt = Date.now();
      try {
        const value = await this.#cache.getOrSet(item, async () =>
          Number((await backend.get(`${NAMES.source}:${item}`)) ?? '0'),
        );
        this.#journal.write('cr', item, value, startedAt);
        report.cacheReadsDone++;
      } catch (error) {
        report.cacheReadsFailed++;
        count(error);
      }
    }
    for (let i = 0; i < order.increments; i++) {
      try {
        await this.#mutex.withLock(NAMES.lock, async (lease) => {
          // A read-modify-write that is only correct under mutual exclusion.
          const current = Number((await backend.get(NAMES.counter)) ?? '0');
          const next = current + 1;
          this.#journal.write('inc-try', next, lease.fence);
          await backend.set(NAMES.counter, String(next));
          this.#journal.write('inc-ok', next, lease.fence);
        });
        report.incrementsDone++;
      } catch (error) {
        report.incrementsFailed++;
        count(error);
      }
    }
    this.#rounds++;
    return report;
  }

  /** Counters so far. */
  stats(): AppStats {
    const consumer = this.#consumer;
    return {
      id: this.#options.id,
      pid: process.pid,
      rounds: this.#rounds,
      channel: { ...this.#channelStats },
      stream: {
        handled: consumer?.stats.handled ?? 0,
        failed: consumer?.stats.failed ?? 0,
        redelivered: consumer?.stats.redelivered ?? 0,
        errors: this.#streamErrors,
      },
    };
  }

  /** Stops consuming (handlers finish and are acknowledged) and unsubscribes. */
  async stop(): Promise<AppStats> {
    await this.#consumer?.stop();
    await this.#subscription?.unsubscribe();
    await this.#cache.close();
    await this.#jobs?.close();
    await this.#queue.close();
    return this.stats();
  }
}
