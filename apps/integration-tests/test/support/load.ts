import { createCache } from '@redbrick/cache';
import { type Backend, isRedbrickError } from '@redbrick/core';
import { createChannel, createStream } from '@redbrick/pubsub';
import { createQueue } from '@redbrick/queue';
import { ThreadBuffer } from '@redbrick/tenant-repos';
import { sleep, until } from '@redbrick/testkit';
import { expect } from 'vitest';
import {
  type AppStats,
  busMessage,
  jobMessage,
  NAMES,
  QUEUE_SETTINGS,
  type RoundReport,
  streamMessage,
} from '../../src/app.js';
import { Journal } from '../../src/journal.js';
import type { Instance } from './instances.js';
import {
  Checks,
  checkCache,
  checkCounter,
  checkRateLimits,
  checkThread,
  type Invalidation,
} from './invariants.js';

/** Items read through the cache; the driver invalidates one per round. */
const ITEMS = ['item-0', 'item-1', 'item-2'];
/** How long an invalidation may take to reach another process' in-process tier (pub/sub), in ms. */
const INVALIDATION_DELIVERY_MS = 2_000;

/** Load sent to every instance per round, and by the driver itself. */
export interface LoadShape {
  /** Rate-limit checks per instance per round (on the round's own key). */
  rateChecks: number;
  /** Lock-protected increments per instance per round. */
  increments: number;
  /** Thread-buffer appends per instance per round. */
  threadAppends: number;
  /** Stream entries the driver appends per round. */
  appends: number;
  /** Queue jobs the driver enqueues per round. */
  jobs: number;
  /** Shortest round in ms: spreads the load over time, so faults land in the middle of it. @default 0 */
  minRoundMs?: number;
}

/** Tallies a reader sees at the end of each scenario. */
export interface Tally {
  rounds: number;
  rateChecks: number;
  increments: number;
  threadAppends: number;
  cacheReads: number;
  invalidations: number;
  jobs: number;
  jobsProcessed: number;
  appends: number;
  handled: number;
  publishes: number;
  received: number;
  faults: string[];
  checks: number;
}

/**
 * The driver of one scenario: sends bounded load to the instances round
 * by round, appends to the stream and publishes on the channel itself,
 * and afterwards checks the invariants from the instances' journals and
 * the backend's final state.
 */
export class Driver {
  readonly instances: Instance[];
  readonly backend: Backend;
  readonly shape: LoadShape;
  readonly rateLimit: number;
  readonly tally: Tally = {
    rounds: 0,
    rateChecks: 0,
    increments: 0,
    threadAppends: 0,
    cacheReads: 0,
    invalidations: 0,
    jobs: 0,
    jobsProcessed: 0,
    appends: 0,
    handled: 0,
    publishes: 0,
    received: 0,
    faults: [],
    checks: 0,
  };
  /** Invariant checks of this scenario (see {@link Driver.finish}). */
  readonly checks = new Checks();
  readonly #reports: RoundReport[] = [];
  readonly #confirmed = new Set<number>();
  readonly #attempted = new Set<number>();
  #unconfirmed: number[] = [];
  #nextEntry = 0;
  readonly #stream;
  readonly #channel;
  readonly #cache;
  readonly #queue;
  readonly #jobsConfirmed = new Set<number>();
  #jobsUnconfirmed: number[] = [];
  #nextJob = 0;
  readonly #invalidations: Invalidation[] = [];
  readonly #versions = new Map<string, number>();
  readonly #pendingInvalidations = new Set<string>();
  #dirtyRounds = new Set<number>();

  constructor(options: {
    instances: Instance[];
    backend: Backend;
    shape: LoadShape;
    rateLimit: number;
  }) {
    this.instances = options.instances;
    this.backend = options.backend;
    this.shape = options.shape;
    this.rateLimit = options.rateLimit;
    this.#stream = createStream({
      backend: this.backend,
      name: NAMES.stream,
      schema: streamMessage,
    });
    this.#queue = createQueue({
      backend: this.backend,
      name: NAMES.queue,
      schema: jobMessage,
      ...QUEUE_SETTINGS,
    });
    this.#cache = createCache<number>({
      backend: this.backend,
      name: NAMES.cache,
      ttlMs: 600_000,
      graceMs: 0,
    });
    this.#channel = createChannel({
      backend: this.backend,
      name: NAMES.channel,
      schema: busMessage,
    });
  }

  /** Rounds in a row that were clean on every live instance (no failure, nobody killed). */
  cleanStreak = 0;

  get rounds(): number {
    return this.tally.rounds;
  }

  /** Marks a fault; rounds overlapping it are not held to exactness, only to the bounds. */
  fault(description: string): void {
    this.tally.faults.push(description);
    this.#lastFaultRound = this.tally.rounds;
    this.cleanStreak = 0;
  }

  #lastFaultRound = 0;

  /** SIGKILLs a worker process in the middle of a round: as soon as its journal grows again. */
  async killMidRound(instance: Instance): Promise<void> {
    if (!instance.kill) throw new Error(`${instance.id} is not a process`);
    const before = Journal.read(instance.journalFile).length;
    await until(
      `${instance.id} to be mid-round`,
      () => Journal.read(instance.journalFile).length > before + 3,
      30_000,
    );
    this.fault(`worker ${instance.id} SIGKILLed mid-round`);
    await instance.kill();
  }

  async #append(n: number): Promise<boolean> {
    this.#attempted.add(n);
    try {
      await this.#stream.append(n);
      this.#confirmed.add(n);
      return true;
    } catch (error) {
      if (!isRedbrickError(error)) throw error;
      return false;
    }
  }

  async #enqueue(n: number): Promise<boolean> {
    try {
      // The same jobId when retried: a job that landed although its call failed is not added twice.
      await this.#queue.enqueue({ n }, { jobId: `job-${n}` });
      this.#jobsConfirmed.add(n);
      return true;
    } catch (error) {
      if (!isRedbrickError(error)) throw error;
      return false;
    }
  }

  async #publish(round: number): Promise<void> {
    this.tally.publishes++;
    try {
      await this.#channel.publish(round);
    } catch (error) {
      if (!isRedbrickError(error)) throw error;
    }
  }

  /** One round: the driver's own appends and publish, then every live instance's order at once. */
  /**
   * The source of truth of one item moves to a new version, then the cache
   * entry is deleted (which evicts it from every process' in-process tier
   * over pub/sub). Only when both calls succeeded is the invalidation
   * complete; a failed one is tried again next round with a newer version.
   */
  async #invalidate(round: number, next = true): Promise<void> {
    if (next) this.#pendingInvalidations.add(ITEMS[round % ITEMS.length] ?? 'item-0');
    for (const item of [...this.#pendingInvalidations]) {
      const version = (this.#versions.get(item) ?? 0) + 1;
      this.#versions.set(item, version);
      this.tally.invalidations++;
      try {
        await this.backend.set(`${NAMES.source}:${item}`, String(version));
        await this.#cache.delete(item);
        this.#invalidations.push({ item, version, at: Date.now() });
        this.#pendingInvalidations.delete(item);
      } catch (error) {
        if (!isRedbrickError(error)) throw error;
      }
    }
  }

  async round(): Promise<RoundReport[]> {
    const round = ++this.tally.rounds;
    const pace = sleep(this.shape.minRoundMs ?? 0);
    // Before the round's orders, so every read of this round starts after it completed.
    await this.#invalidate(round);
    const retry = this.#unconfirmed;
    this.#unconfirmed = [];
    const fresh = Array.from({ length: this.shape.appends }, () => this.#nextEntry++);
    this.tally.appends += fresh.length;
    // The driver's own traffic runs at the same time as the instances' orders, so a fault hits all.
    const own = (async () => {
      const results = await Promise.all(
        [...retry, ...fresh].map(async (n) => [n, await this.#append(n)] as const),
      );
      for (const [n, ok] of results) if (!ok) this.#unconfirmed.push(n);
      const retryJobs = this.#jobsUnconfirmed;
      this.#jobsUnconfirmed = [];
      const freshJobs = Array.from({ length: this.shape.jobs }, () => this.#nextJob++);
      this.tally.jobs += freshJobs.length;
      const enqueued = await Promise.all(
        [...retryJobs, ...freshJobs].map(async (n) => [n, await this.#enqueue(n)] as const),
      );
      for (const [n, ok] of enqueued) if (!ok) this.#jobsUnconfirmed.push(n);
      await this.#publish(round);
    })();
    const live = this.instances.filter((i) => i.alive);
    const [reports] = await Promise.all([
      Promise.all(
        live.map(async (instance) => {
          try {
            return await instance.round({
              round,
              rateChecks: this.shape.rateChecks,
              increments: this.shape.increments,
              threadAppends: this.shape.threadAppends,
              cacheReads: ITEMS,
            });
          } catch (error) {
            if (instance.alive) throw error;
            return undefined; // killed mid-round
          }
        }),
      ),
      own,
    ]);
    const done = reports.filter((r): r is RoundReport => r !== undefined);
    this.tally.rateChecks += this.shape.rateChecks * live.length;
    this.tally.increments += this.shape.increments * live.length;
    this.tally.threadAppends += this.shape.threadAppends * live.length;
    this.tally.cacheReads += ITEMS.length * live.length;
    this.#reports.push(...done);
    if (process.env.REDBRICK_IT_DEBUG)
      console.log(
        round,
        JSON.stringify(
          done.map((r) => [
            r.allowed,
            r.denied,
            r.unavailable,
            r.incrementsDone,
            r.incrementsFailed,
            r.errors,
          ]),
        ),
        this.tally.faults.length,
      );
    if (done.length < live.length || done.some((r) => !isClean(r))) {
      this.#dirtyRounds.add(round);
      this.cleanStreak = 0;
    } else if (round > this.#lastFaultRound) {
      this.cleanStreak++;
    }
    await pace;
    return done;
  }

  /** Runs rounds until `done()` is true (checked before each round), at most `max` rounds. */
  async roundsUntil(done: () => boolean, max: number): Promise<void> {
    for (let i = 0; i < max && !done(); i++) await this.round();
  }

  /**
   * Survivors resume without restarts: runs rounds until one is clean on
   * every live instance (bounded), then `more` rounds that must all be clean.
   */
  async resume(more: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let clean = false;
    while (!clean && Date.now() < deadline) {
      const reports = await this.round();
      clean =
        reports.length === this.instances.filter((i) => i.alive).length && reports.every(isClean);
      if (!clean) await sleep(100);
    }
    const checks = this.checks;
    checks.that('the survivors come back to clean rounds', clean);
    for (let i = 0; i < more; i++) {
      const reports = await this.round();
      checks.that(
        `round ${this.rounds} after the faults is clean on every survivor`,
        reports.every(isClean),
        () => reports,
      );
    }
  }

  /**
   * After the load: every unconfirmed append is retried, the stream is
   * drained, the channel caught up; then the instances stop and the
   * invariants are checked. Returns the checks (assert with {@link assertAll}).
   */
  async finish(): Promise<Checks> {
    const checks = this.checks;
    const until = this.#until;
    await until(
      'every append confirmed',
      async () => {
        const retry = this.#unconfirmed;
        this.#unconfirmed = [];
        for (const n of retry) if (!(await this.#append(n))) this.#unconfirmed.push(n);
        return this.#unconfirmed.length === 0;
      },
      30_000,
    );
    await until(
      'every enqueue confirmed',
      async () => {
        const retry = this.#jobsUnconfirmed;
        this.#jobsUnconfirmed = [];
        for (const n of retry) if (!(await this.#enqueue(n))) this.#jobsUnconfirmed.push(n);
        return this.#jobsUnconfirmed.length === 0;
      },
      30_000,
    );
    // A job active in a killed worker comes back when the queue finds it stalled.
    await until(
      'every job processed and the queue idle',
      async () => {
        const done = this.#processed();
        for (const n of this.#jobsConfirmed) if (!done.has(n)) return false;
        const counts = await this.#queue.counts();
        return counts.waiting === 0 && counts.active === 0 && counts.delayed === 0;
      },
      90_000,
    );
    const live = this.instances.filter((i) => i.alive);
    // Every invalidation completes, then every instance's cache converges on the last versions.
    await until(
      'every cache invalidation completed',
      async () => {
        if (this.#pendingInvalidations.size > 0) await this.#invalidate(-1, false);
        return this.#pendingInvalidations.size === 0;
      },
      30_000,
    );
    let convergenceReads = 0;
    const lastReads = () =>
      live.map((instance) => {
        const last = new Map<string, number>();
        for (const [kind, item, value] of Journal.read(instance.journalFile)) {
          if (kind === 'cr' && item) last.set(item, Number(value));
        }
        return last;
      });
    await until(
      'every instance reads the last version of every item',
      async () => {
        await Promise.all(
          live.map((instance) =>
            instance.round({
              round: this.rounds,
              rateChecks: 0,
              increments: 0,
              threadAppends: 0,
              cacheReads: ITEMS,
            }),
          ),
        );
        convergenceReads += ITEMS.length * live.length;
        return lastReads().every((last) =>
          ITEMS.every((item) => last.get(item) === (this.#versions.get(item) ?? 0)),
        );
      },
      30_000,
    ).catch(async (error: unknown) => {
      // Say which instance serves what, and what L2 and the source hold, so a failure is diagnosable.
      const reads = lastReads();
      const stale: string[] = [];
      for (const item of ITEMS) {
        const expected = this.#versions.get(item) ?? 0;
        const seen = live.map((instance, i) => `${instance.id}=${reads[i]?.get(item)}`);
        if (reads.every((last) => last.get(item) === expected)) continue;
        const source = await this.backend.get(`${NAMES.source}:${item}`).catch(String);
        const l2 = await this.backend.get(`cache:${NAMES.cache}:e:${item}`).catch(String);
        stale.push(
          `${item}: expected ${expected}, source ${source}, L2 ${l2}, read ${seen.join(' ')}`,
        );
      }
      throw new Error(`${(error as Error).message}\n${stale.join('\n')}`);
    });
    this.tally.cacheReads += convergenceReads;
    this.checks.that("every instance's cache converged on the last version of every item", true);
    await until(
      'every stream entry handled and acknowledged',
      async () => {
        const handled = this.#handled();
        for (const n of this.#confirmed) if (!handled.has(n)) return false;
        return (await this.#stream.pending(NAMES.group)).count === 0;
      },
      30_000,
    );
    // Gaps are only seen when the publisher publishes again: publish until everyone has the last one.
    const stats = new Map<string, AppStats>();
    await until(
      'every live instance received the last channel message',
      async () => {
        await this.#publish(0);
        await sleep(50);
        for (const instance of live) stats.set(instance.id, await instance.stats());
        return live.every((i) => stats.get(i.id)?.channel.lastSeq === this.tally.publishes);
      },
      30_000,
    );
    for (const instance of live) stats.set(instance.id, await instance.stop());
    const clean = this.tally.faults.length === 0;

    // Survivors were never restarted.
    for (const instance of live) {
      checks.that(
        `${instance.id} is the process it was at the start`,
        stats.get(instance.id)?.pid === instance.startPid,
      );
    }

    const journals = this.instances.map((i) => Journal.read(i.journalFile));
    checkRateLimits(checks, journals, this.rateLimit, this.#dirtyRounds);
    const final = Number((await this.backend.get(NAMES.counter)) ?? '0');
    const { ambiguous } = checkCounter(checks, journals, final, clean);
    if (clean) {
      const done = this.#reports.reduce((a, r) => a + r.incrementsDone, 0);
      checks.that(
        'without faults every increment succeeded',
        done === this.tally.increments,
        () => ({
          done,
          sent: this.tally.increments,
        }),
      );
    }

    // Thread buffer: every append got its own index, and the slot stored there is its own.
    const thread = await new ThreadBuffer<string>({
      backend: this.backend,
      name: NAMES.buffer,
    }).getThread(NAMES.thread);
    checkThread(checks, journals, thread, clean, this.tally.threadAppends);
    this.#extra.threadLength = thread.length;

    // Cache: no value older than a completed invalidation (beyond its pub/sub delivery time).
    const cache = checkCache(checks, journals, this.#invalidations, INVALIDATION_DELIVERY_MS);
    if (clean) {
      const failed = this.#reports.reduce((a, r) => a + r.cacheReadsFailed, 0);
      checks.that('without faults every cache read succeeded', failed === 0, () => failed);
    }
    this.#extra.cacheReads = cache.reads;
    this.#extra.staleInWindow = cache.staleInWindow;
    this.#extra.invalidated = this.#invalidations.length;
    await this.#cache.close();

    // Queue: every job processed at least once, and counted once as completed.
    const processedList: number[] = [];
    for (const events of journals)
      for (const [kind, n] of events) if (kind === 'job') processedList.push(Number(n));
    const processed = new Set(processedList);
    const unprocessed = [...this.#jobsConfirmed].filter((n) => !processed.has(n));
    checks.that('every enqueued job was processed at least once', unprocessed.length === 0, () =>
      unprocessed.slice(0, 10),
    );
    const counts = await this.#queue.counts();
    checks.that(
      'the queue counts every job once as completed, none failed',
      counts.completed === this.#nextJob && counts.failed === 0,
      () => ({ ...counts, jobs: this.#nextJob }),
    );
    const jobRepeats = processedList.length - processed.size;
    if (clean)
      checks.that('without faults no job was processed twice', jobRepeats === 0, () => jobRepeats);
    this.tally.jobsProcessed = processedList.length;
    this.#extra.jobRepeats = jobRepeats;
    await this.#queue.close();

    // Stream: every confirmed entry handled at least once, nothing unknown, nothing pending.
    const handledList: number[] = [];
    for (const events of journals)
      for (const [kind, n] of events) if (kind === 'st') handledList.push(Number(n));
    const handled = new Set(handledList);
    const missing = [...this.#confirmed].filter((n) => !handled.has(n));
    checks.that('every appended stream entry was handled', missing.length === 0, () =>
      missing.slice(0, 10),
    );
    const unknown = [...handled].filter((n) => !this.#attempted.has(n));
    checks.that(
      'no stream entry was handled that was never appended',
      unknown.length === 0,
      () => unknown,
    );
    checks.that('nothing is left pending', (await this.#stream.pending(NAMES.group)).count === 0);
    const streamDuplicates = handledList.length - handled.size;
    // At-least-once: a repeat needs a fault (a consumer killed, or an acknowledgement that could not reach Redis).
    if (clean)
      checks.that(
        'without faults no entry was handled twice',
        streamDuplicates === 0,
        () => streamDuplicates,
      );

    // Channel: every message received once or reported missing by gap detection.
    let received = 0;
    let missed = 0;
    for (const instance of live) {
      const s = stats.get(instance.id)?.channel;
      received += s?.received ?? 0;
      missed += s?.missed ?? 0;
      checks.that(
        `${instance.id}: every channel message received or reported missed`,
        s !== undefined && s.received + s.missed === this.tally.publishes,
        () => ({ ...s, published: this.tally.publishes }),
      );
      checks.that(
        `${instance.id}: no channel message received twice`,
        s?.duplicates === 0,
        () => s,
      );
      if (clean)
        checks.that(
          `${instance.id}: without faults no channel message was missed`,
          s?.missed === 0,
          () => s,
        );
    }

    this.tally.handled = handledList.length;
    this.tally.received = received;
    this.tally.checks = checks.count;
    this.#extra = { ...this.#extra, streamDuplicates, missed, ambiguous, final };
    return checks;
  }

  #extra: Record<string, number> = {};

  /** What {@link Driver.finish} is waiting for, and since when (printed when a scenario runs long). */
  step = '';

  /** `until` that records what it waits for in {@link Driver.step}. */
  #until = async (
    what: string,
    condition: () => boolean | Promise<boolean>,
    timeoutMs: number,
  ): Promise<void> => {
    const started = Date.now();
    this.step = `${what} (since ${new Date(started).toISOString()})`;
    await until(what, condition, timeoutMs);
    if (process.env.REDBRICK_IT_DEBUG) console.log(`finish: ${what} in ${Date.now() - started} ms`);
    this.step = '';
  };

  #processed(): Set<number> {
    const out = new Set<number>();
    for (const instance of this.instances) {
      for (const [kind, n] of Journal.read(instance.journalFile))
        if (kind === 'job') out.add(Number(n));
    }
    return out;
  }

  #handled(): Set<number> {
    const out = new Set<number>();
    for (const instance of this.instances) {
      for (const [kind, n] of Journal.read(instance.journalFile))
        if (kind === 'st') out.add(Number(n));
    }
    return out;
  }

  /** The summary line printed in the test output. */
  summary(scenario: string): string {
    const t = this.tally;
    const e = this.#extra;
    return (
      `[integration] ${scenario}: ${this.instances.length} instances, ${t.rounds} rounds; ` +
      `operations: ${t.rateChecks} rate checks, ${t.increments} locked increments (counter ${e.final}, ${e.ambiguous} ambiguous), ` +
      `${t.threadAppends} thread-buffer appends (thread length ${e.threadLength}), ` +
      `${t.cacheReads} cache reads (${e.cacheReads} served; ${e.staleInWindow} stale within the ${INVALIDATION_DELIVERY_MS} ms invalidation delivery window) after ${e.invalidated} completed invalidations (${t.invalidations} tried), ` +
      `${t.jobs} queue jobs (${t.jobsProcessed} processings, ${e.jobRepeats} repeated), ` +
      `${t.appends} stream appends (${t.handled} handlings, ${e.streamDuplicates} handled twice), ` +
      `${t.publishes} channel publishes (${t.received} receptions, ${e.missed} reported missed); ` +
      `faults injected: ${t.faults.length}${t.faults.length ? ` (${t.faults.join('; ')})` : ''}; ` +
      `invariant checks: ${t.checks}`
    );
  }
}

function isClean(report: RoundReport): boolean {
  return (
    report.unavailable === 0 &&
    report.incrementsFailed === 0 &&
    report.threadAppendsFailed === 0 &&
    report.cacheReadsFailed === 0 &&
    Object.keys(report.errors).length === 0
  );
}

/** Fails with every broken invariant listed. */
export function assertAll(checks: Checks): void {
  expect(checks.failures).toEqual([]);
  expect(checks.count).toBeGreaterThan(0);
}
