import {
  type Backend,
  escapeKeyPart,
  isRedbrickError,
  json,
  type StreamEntry,
  ValidationError,
  type XPendingEntry,
} from '@redbrick/core';
import type { z } from 'zod';
import type { MessageOf } from './channel.js';
import { validateMessage } from './envelope.js';
import { PKG } from './errors.js';
import { type StreamKeys, streamKeys } from './key-layout.js';
import { defaultOnError, type ErrorContext, type InvalidMessage, report } from './subscription.js';
import {
  checkFunction,
  checkName,
  checkOneOf,
  checkOptionalFunction,
  checkOptionalInteger,
} from './validation.js';

/** Options of {@link createStream}. */
export interface StreamOptions<S extends z.ZodType | undefined = undefined> {
  /** Any redbrick backend (memory, Redis, Cluster, or a `scoped()` view). */
  backend: Backend;
  /** The stream name (its keys are hash-tagged with it: one stream = one Cluster slot). */
  name: string;
  /** Zod schema: messages are validated on append and on receipt. */
  schema?: S;
  /**
   * Trim the stream to about this many entries on every append (`MAXLEN ~`).
   * Trimming removes the oldest entries even when a group has not read them yet.
   * @default undefined (never trimmed)
   */
  maxLen?: number;
  /** A handler failed (every failed attempt). @default logs with console.error */
  onError?: (error: unknown, context: ErrorContext) => void;
  /** An entry could not be decoded or did not match the schema; it is dead-lettered at once. @default ignored */
  onInvalid?: (invalid: InvalidMessage) => void;
}

/** What a stream handler learns about the entry. */
export interface StreamDelivery {
  /** The entry id (`<ms>-<seq>`). */
  readonly id: string;
  /** The stream name. */
  readonly stream: string;
  /** 1 for the first attempt, counting failed attempts of every consumer. */
  readonly attempt: number;
  /** True when the entry was taken over from another consumer (or this consumer's previous life). */
  readonly redelivered: boolean;
}

/** Called with each entry; the entry is acknowledged once it resolves. */
export type StreamHandler<T> = (message: T, delivery: StreamDelivery) => void | Promise<void>;

/** Options of {@link Stream.consume}. */
export interface ConsumeOptions {
  /** Handlers running at once in this consumer. @default 1 */
  concurrency?: number;
  /** How long one read waits for new entries, in ms (also bounds how long `stop()` waits for it). @default 1000 */
  blockMs?: number;
  /**
   * An entry pending this long (in ms) with another consumer is taken over
   * (XAUTOCLAIM): its consumer is presumed dead. Must exceed your longest
   * handler, or a slow handler's entry is handled twice. @default 30000
   */
  claimIdleMs?: number;
  /** How often to look for entries to take over, in ms. @default min(claimIdleMs, 5000) */
  claimIntervalMs?: number;
  /** Failed attempts (handler throws, or deliveries never acknowledged) before the entry is dead-lettered. @default 5 */
  maxAttempts?: number;
  /** Wait between two attempts of a failed entry, in ms. @default 1000 */
  retryDelayMs?: number;
  /** Where a group created by this call starts: `'beginning'` (every entry) or `'end'` (new entries only). @default 'beginning' */
  startAt?: 'beginning' | 'end';
}

/** A running consumer. */
export interface StreamConsumer {
  readonly group: string;
  readonly name: string;
  /** Counters since the consumer started. */
  readonly stats: {
    /** Entries handled and acknowledged. */
    handled: number;
    /** Failed handler attempts. */
    failed: number;
    /** Entries moved to the dead-letter stream. */
    deadLettered: number;
    /** Entries taken over from other consumers (or re-read after a restart). */
    redelivered: number;
  };
  /**
   * Stops reading, lets running handlers finish (and acknowledges them),
   * then resolves. Entries waiting for a retry stay pending and are
   * redelivered later. Idempotent.
   */
  stop(): Promise<void>;
}

/** A pending (delivered, not yet acknowledged) entry. */
export interface PendingEntry {
  readonly id: string;
  readonly consumer: string;
  /** Milliseconds since the entry was last delivered. */
  readonly idleMs: number;
  /** How many times it was delivered. */
  readonly deliveries: number;
}

/** The pending entries of a group. */
export interface PendingSummary {
  readonly count: number;
  readonly consumers: ReadonlyArray<{ name: string; count: number }>;
  /** The oldest pending entries (at most `limit`). */
  readonly entries: readonly PendingEntry[];
}

/** An entry that failed too often. */
export interface DeadLetter<T> {
  /** Id in the dead-letter stream. */
  readonly id: string;
  /** Id the entry had in the stream. */
  readonly originalId: string;
  /** The message, decoded (undefined when it could not be decoded). */
  readonly message: T | undefined;
  /** The raw stored message. */
  readonly raw: string;
  /** The last error's message. */
  readonly error: string;
  readonly attempts: number;
  readonly group: string;
  readonly consumer: string;
  /** When it was dead-lettered, ms since the epoch (the consumer's clock). */
  readonly at: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isNoGroup(error: unknown): boolean {
  return error instanceof Error && /NOGROUP/i.test(error.message);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A durable stream on backend streams with consumer groups. Delivery is
 * at-least-once: an entry is acknowledged only after its handler resolved,
 * so a consumer that dies mid-handler leaves it pending and another
 * consumer takes it over after `claimIdleMs`.
 */
export class Stream<T = unknown> {
  readonly name: string;
  /** The keys of this stream (see the README's key layout). */
  readonly keys: StreamKeys;
  readonly #backend: Backend;
  readonly #schema: z.ZodType | undefined;
  readonly #maxLen: number | undefined;
  readonly #onError: (error: unknown, context: ErrorContext) => void;
  readonly #onInvalid: ((invalid: InvalidMessage) => void) | undefined;

  constructor(options: StreamOptions<z.ZodType | undefined>) {
    if (options === null || typeof options !== 'object') {
      throw new ValidationError(`${PKG} options must be an object`, { field: 'options' });
    }
    if (options.backend === null || typeof options.backend !== 'object') {
      throw new ValidationError(`${PKG} backend must be a redbrick Backend`, { field: 'backend' });
    }
    checkName(options.name, 'name');
    checkOptionalInteger(options.maxLen, 'maxLen', 1);
    checkOptionalFunction(options.onError, 'onError');
    checkOptionalFunction(options.onInvalid, 'onInvalid');
    if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
      throw new ValidationError(`${PKG} schema must be a zod schema`, { field: 'schema' });
    }
    this.name = options.name;
    this.keys = streamKeys(options.name);
    this.#backend = options.backend;
    this.#schema = options.schema;
    this.#maxLen = options.maxLen;
    this.#onError = options.onError ?? defaultOnError;
    this.#onInvalid = options.onInvalid;
  }

  /**
   * Appends a message (validated first: a mismatch throws a
   * `ValidationError` before any I/O). Returns the entry id.
   */
  async append(message: T, options?: { maxLen?: number }): Promise<string> {
    checkOptionalInteger(options?.maxLen, 'maxLen', 1);
    const value = validateMessage(this.#schema, message, 'message');
    const maxLen = options?.maxLen ?? this.#maxLen;
    const id = await this.#backend.xadd(
      this.keys.stream,
      { m: json.encode(value) },
      maxLen === undefined ? undefined : { maxLen, approximate: true },
    );
    if (id === null) throw new Error(`${PKG} XADD returned no id`);
    return id;
  }

  /** Entries in the stream (XLEN). */
  length(): Promise<number> {
    return this.#backend.xlen(this.keys.stream);
  }

  /**
   * Consumes as `consumer` in `group` (created at the start of the stream
   * when missing). The handler runs for each entry, at most `concurrency` at
   * once; the entry is acknowledged once it resolves. A throw is retried
   * after `retryDelayMs`; after `maxAttempts` failures the entry moves to
   * the dead-letter stream with the error. Reuse the same consumer name
   * after a restart to pick up that consumer's own pending entries at once.
   */
  consume(
    group: string,
    consumer: string,
    handler: StreamHandler<T>,
    options: ConsumeOptions = {},
  ): StreamConsumer {
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    checkFunction(handler, 'handler');
    if (options === null || typeof options !== 'object') {
      throw new ValidationError(`${PKG} options must be an object`, { field: 'options' });
    }
    checkOptionalInteger(options.concurrency, 'concurrency', 1, 10_000);
    checkOptionalInteger(options.blockMs, 'blockMs', 1);
    checkOptionalInteger(options.claimIdleMs, 'claimIdleMs', 1);
    checkOptionalInteger(options.claimIntervalMs, 'claimIntervalMs', 1);
    checkOptionalInteger(options.maxAttempts, 'maxAttempts', 1);
    checkOptionalInteger(options.retryDelayMs, 'retryDelayMs', 0);
    checkOneOf(options.startAt, 'startAt', ['beginning', 'end']);
    return new GroupConsumer<T>(this, group, consumer, handler, options, {
      backend: this.#backend,
      decode: (raw) => validateMessage(this.#schema, json.decode(raw), 'stored message') as T,
      onError: this.#onError,
      onInvalid: this.#onInvalid,
    });
  }

  /** The pending entries of `group`: counts per consumer and the oldest `limit` entries. */
  async pending(group: string, options: { limit?: number } = {}): Promise<PendingSummary> {
    checkName(group, 'group');
    checkOptionalInteger(options.limit, 'limit', 0);
    const summary = await this.#backend.xpending(this.keys.stream, group);
    const limit = options.limit ?? 100;
    const entries: XPendingEntry[] =
      limit > 0 && summary.count > 0
        ? await this.#backend.xpendingRange(this.keys.stream, group, { count: limit })
        : [];
    return {
      count: summary.count,
      consumers: summary.consumers,
      entries: entries.map((e) => ({
        id: e.id,
        consumer: e.consumer,
        idleMs: e.idleMs,
        deliveries: e.deliveries,
      })),
    };
  }

  /** Dead letters, oldest first (at most `limit`). */
  async deadLetters(options: { limit?: number } = {}): Promise<Array<DeadLetter<T>>> {
    checkOptionalInteger(options.limit, 'limit', 1);
    const entries = await this.#backend.xrange(this.keys.dead, '-', '+', options.limit ?? 100);
    return entries.map((entry) => {
      const f = entry.fields;
      const raw = f.m ?? '';
      let message: T | undefined;
      try {
        message = json.decode(raw) as T;
      } catch {
        message = undefined;
      }
      return {
        id: entry.id,
        originalId: f.id ?? '',
        message,
        raw,
        error: f.error ?? '',
        attempts: Number(f.attempts ?? 0),
        group: f.group ?? '',
        consumer: f.consumer ?? '',
        at: Number(f.at ?? 0),
      };
    });
  }
}

interface ConsumerContext<T> {
  backend: Backend;
  decode(raw: string): T;
  onError: (error: unknown, context: ErrorContext) => void;
  onInvalid: ((invalid: InvalidMessage) => void) | undefined;
}

class GroupConsumer<T> implements StreamConsumer {
  readonly group: string;
  readonly name: string;
  readonly stats = { handled: 0, failed: 0, deadLettered: 0, redelivered: 0 };
  readonly #stream: Stream<T>;
  readonly #handler: StreamHandler<T>;
  readonly #ctx: ConsumerContext<T>;
  readonly #concurrency: number;
  readonly #blockMs: number;
  readonly #claimIdleMs: number;
  readonly #claimIntervalMs: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #startId: string;
  readonly #inFlight = new Set<string>();
  readonly #finished: Array<() => void> = [];
  #running = true;
  readonly #loop: Promise<void>;

  constructor(
    stream: Stream<T>,
    group: string,
    name: string,
    handler: StreamHandler<T>,
    options: ConsumeOptions,
    ctx: ConsumerContext<T>,
  ) {
    this.#stream = stream;
    this.group = group;
    this.name = name;
    this.#handler = handler;
    this.#ctx = ctx;
    this.#concurrency = options.concurrency ?? 1;
    this.#blockMs = options.blockMs ?? 1000;
    this.#claimIdleMs = options.claimIdleMs ?? 30_000;
    this.#claimIntervalMs = options.claimIntervalMs ?? Math.min(this.#claimIdleMs, 5000);
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#startId = options.startAt === 'end' ? '$' : '0';
    this.#loop = this.#run();
  }

  get #key(): string {
    return this.#stream.keys.stream;
  }

  #failureField(id: string): string {
    return `${escapeKeyPart(this.group)}:${id}`;
  }

  async #ensureGroup(): Promise<void> {
    await this.#ctx.backend.xgroupCreate(this.#key, this.group, {
      id: this.#startId,
      mkStream: true,
    });
  }

  async #run(): Promise<void> {
    const { backend } = this.#ctx;
    let groupReady = false;
    // This consumer name's own pending entries first (a restart after a crash).
    let ownCursor: string | undefined = '0';
    let claimCursor = '0-0';
    let lastClaim = 0;
    let backoffMs = 50;
    while (this.#running) {
      try {
        if (!groupReady) {
          await this.#ensureGroup();
          groupReady = true;
        }
        await this.#freeSlot();
        if (!this.#running) break;
        const free = this.#concurrency - this.#inFlight.size;
        if (ownCursor !== undefined) {
          const own = await backend.xreadgroup(this.#key, this.group, this.name, {
            id: ownCursor,
            count: free,
          });
          const last = own.at(-1);
          ownCursor = last?.id;
          this.#dispatch(own, true);
          continue;
        }
        if (performance.now() - lastClaim >= this.#claimIntervalMs) {
          lastClaim = performance.now();
          const claimed = await backend.xautoclaim(
            this.#key,
            this.group,
            this.name,
            this.#claimIdleMs,
            claimCursor,
            { count: free },
          );
          claimCursor = claimed.next;
          this.#dispatch(claimed.entries, true);
          // More to claim: come back without reading new entries first.
          if (claimCursor !== '0-0') lastClaim = 0;
          if (claimed.entries.length > 0) continue;
        }
        const entries = await backend.xreadgroup(this.#key, this.group, this.name, {
          count: free,
          blockMs: this.#blockMs,
        });
        this.#dispatch(entries, false);
        backoffMs = 50;
      } catch (error) {
        if (!this.#running) break;
        if (isRedbrickError(error, 'CLOSED')) {
          // The backend was closed under a running consumer: report once and stop.
          report(this.#ctx.onError, error, { channel: this.#stream.name });
          this.#running = false;
          break;
        }
        if (isNoGroup(error)) {
          // The stream or group vanished (deleted, or a restarted Redis without persistence).
          groupReady = false;
        } else {
          report(this.#ctx.onError, error, { channel: this.#stream.name });
        }
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
    while (this.#inFlight.size > 0) await this.#handlerFinished();
  }

  /** Resolves the next time a handler finishes. */
  #handlerFinished(): Promise<void> {
    return new Promise((resolve) => this.#finished.push(resolve));
  }

  async #freeSlot(): Promise<void> {
    while (this.#inFlight.size >= this.#concurrency) await this.#handlerFinished();
  }

  #dispatch(entries: StreamEntry[], redelivered: boolean): void {
    for (const entry of entries) {
      if (this.#inFlight.has(entry.id)) continue;
      this.#inFlight.add(entry.id);
      if (redelivered) this.stats.redelivered++;
      void this.#handle(entry, redelivered).finally(() => {
        this.#inFlight.delete(entry.id);
        for (const wake of this.#finished.splice(0)) wake();
      });
    }
  }

  async #deadLetter(entry: StreamEntry, error: string, attempts: number): Promise<void> {
    const { backend } = this.#ctx;
    const keys = this.#stream.keys;
    // Not atomic: a crash between the two leaves the entry pending, and it is
    // dead-lettered again by whoever takes it over (a duplicate dead letter, never a lost one).
    await backend.xadd(keys.dead, {
      id: entry.id,
      m: entry.fields.m ?? '',
      error,
      attempts: String(attempts),
      group: this.group,
      consumer: this.name,
      at: String(Date.now()),
    });
    await backend.xack(keys.stream, this.group, entry.id);
    await backend.hdel(keys.failures, this.#failureField(entry.id));
    this.stats.deadLettered++;
  }

  async #handle(entry: StreamEntry, redelivered: boolean): Promise<void> {
    const { backend } = this.#ctx;
    const keys = this.#stream.keys;
    const context = { channel: this.#stream.name };
    try {
      const raw = entry.fields.m;
      if (raw === undefined && Object.keys(entry.fields).length === 0) {
        // Trimmed away while pending: nothing left to handle.
        await backend.xack(keys.stream, this.group, entry.id);
        return;
      }
      let message: T;
      try {
        if (raw === undefined) throw new ValidationError(`${PKG} stream entry has no "m" field`);
        message = this.#ctx.decode(raw);
      } catch (error) {
        const invalid =
          error instanceof ValidationError || error instanceof SyntaxError
            ? error
            : new ValidationError(`${PKG} stream entry cannot be decoded`, { cause: error });
        report(this.#ctx.onInvalid, { channel: this.#stream.name, raw: raw ?? '', error: invalid });
        await this.#deadLetter(entry, `invalid: ${messageOf(invalid)}`, 0);
        return;
      }
      let failures = 0;
      if (redelivered) {
        const [failed, pending] = await Promise.all([
          backend.hget(keys.failures, this.#failureField(entry.id)),
          backend.xpendingRange(keys.stream, this.group, {
            start: entry.id,
            end: entry.id,
            count: 1,
          }),
        ]);
        failures = Number(failed ?? 0);
        const deliveries = pending[0]?.deliveries ?? 1;
        // Deliveries never acknowledged (consumers that died on it) count as failed attempts.
        failures = Math.max(failures, deliveries - 1);
        if (failures >= this.#maxAttempts) {
          await this.#deadLetter(
            entry,
            `delivered ${deliveries} times without being acknowledged (consumers died or stalled while handling it)`,
            failures,
          );
          return;
        }
      }
      for (;;) {
        try {
          await this.#handler(message, {
            id: entry.id,
            stream: this.#stream.name,
            attempt: failures + 1,
            redelivered: redelivered || failures > 0,
          });
        } catch (error) {
          this.stats.failed++;
          report(this.#ctx.onError, error, { ...context, message });
          failures = await backend.hincrBy(keys.failures, this.#failureField(entry.id), 1);
          if (failures >= this.#maxAttempts) {
            await this.#deadLetter(entry, messageOf(error), failures);
            return;
          }
          await sleep(this.#retryDelayMs);
          if (!this.#running) return; // stays pending: redelivered later
          continue;
        }
        await backend.xack(keys.stream, this.group, entry.id);
        if (redelivered || failures > 0) {
          await backend.hdel(keys.failures, this.#failureField(entry.id));
        }
        this.stats.handled++;
        return;
      }
    } catch (error) {
      // The backend failed (down, timed out): the entry stays pending and is redelivered.
      report(this.#ctx.onError, error, context);
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

/** Creates a durable stream. */
export function createStream<S extends z.ZodType | undefined = undefined>(
  options: StreamOptions<S>,
): Stream<MessageOf<S>> {
  return new Stream<MessageOf<S>>(options);
}
