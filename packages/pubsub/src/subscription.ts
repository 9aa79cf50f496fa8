import type { Backend, ConnectionState } from '@redbrick/core';
import type { z } from 'zod';
import { decodeEnvelope, validateMessage } from './envelope.js';
import { BufferOverflowError } from './errors.js';

/** Where a received message came from. */
export interface MessageMeta {
  /** The channel it was published on (without the backend's scope prefix). */
  readonly channel: string;
  /** The pattern that matched, for pattern subscriptions. */
  readonly pattern?: string | undefined;
  /** Id of the publishing `Channel` instance; undefined for messages published by other tools. */
  readonly publisherId?: string | undefined;
  /** The publisher's sequence number of this message (1, 2, 3, …); undefined for foreign messages. */
  readonly seq?: number | undefined;
}

/** A message that could not be decoded or did not match the schema. */
export interface InvalidMessage {
  readonly channel: string;
  /** The raw string as received. */
  readonly raw: string;
  /** A `ValidationError` naming what was wrong. */
  readonly error: Error;
}

/** Messages a subscriber never saw: the publisher's numbering skipped ahead. */
export interface Gap {
  readonly channel: string;
  readonly publisherId: string;
  /** How many messages were missed. */
  readonly missed: number;
  /** The sequence number that was expected next. */
  readonly expectedSeq: number;
  /** The sequence number that arrived. */
  readonly receivedSeq: number;
}

/** Told after the connection came back: messages published while it was down are gone. */
export interface Reconnect {
  /** The subscribed channel or pattern. */
  readonly channel: string;
  /** How long the connection was not ready, in ms. */
  readonly downMs: number;
}

/** Where a handler or hook failed. */
export interface ErrorContext {
  readonly channel: string;
  /** The message the handler was called with, when a handler threw. */
  readonly message?: unknown;
}

/** Hooks shared by channels, patterns and streams. Each hook's own exceptions are swallowed. */
export interface PubSubHooks {
  /** A handler threw or rejected. Other handlers still receive the message. @default logs with console.error */
  onError?: (error: unknown, context: ErrorContext) => void;
  /** A received message was not JSON or did not match the schema. It is not delivered. @default ignored */
  onInvalid?: (invalid: InvalidMessage) => void;
  /** A publisher's numbering skipped: this subscriber missed `missed` messages. @default ignored */
  onGap?: (gap: Gap) => void;
  /**
   * The backend reconnected and resubscribed on its own. Messages published
   * while it was disconnected are gone (pub/sub is at-most-once). @default ignored
   */
  onReconnect?: (info: Reconnect) => void;
}

/** What to do when an iterator's buffer is full. */
export type OverflowPolicy = 'drop-oldest' | 'error';

/** Options of an async-iterator subscription. */
export interface IteratorOptions {
  /** Unread messages kept at most. @default 1000 */
  bufferSize?: number;
  /**
   * `'drop-oldest'` discards the oldest unread message and counts it in
   * `dropped`; `'error'` ends the iteration with a `BufferOverflowError`.
   * @default 'drop-oldest'
   */
  overflow?: OverflowPolicy;
}

/** A running subscription. */
export interface ChannelSubscription {
  /** Stops delivery. Idempotent. */
  unsubscribe(): Promise<void>;
}

/** An async-iterator subscription: `for await (const m of channel.subscribe())`. */
export interface MessageIterator<T> extends AsyncIterableIterator<T>, ChannelSubscription {
  /** Resolves once the subscription is active on the backend (messages published after it are seen). */
  readonly ready: Promise<void>;
  /** Messages discarded because the buffer was full (`overflow: 'drop-oldest'`). */
  readonly dropped: number;
  /** Messages received and not yet read. */
  readonly buffered: number;
}

export function report<A extends unknown[]>(
  hook: ((...args: A) => void) | undefined,
  ...args: A
): void {
  if (!hook) return;
  try {
    hook(...args);
  } catch {
    // a hook must never break delivery
  }
}

export function defaultOnError(error: unknown, context: ErrorContext): void {
  console.error(`[redbrick/pubsub] a handler for "${context.channel}" failed:`, error);
}

const MAX_TRACKED_PUBLISHERS = 10_000;

/**
 * Turns raw backend deliveries into validated messages for one subscription:
 * decoding, schema, gap counting per publisher, reconnect notices.
 */
export class Receiver {
  readonly #schema: z.ZodType | undefined;
  readonly #hooks: PubSubHooks;
  readonly #lastSeq = new Map<string, number>();

  constructor(schema: z.ZodType | undefined, hooks: PubSubHooks) {
    this.#schema = schema;
    this.#hooks = hooks;
  }

  /** The decoded message and its meta, or undefined when it was invalid (reported). */
  receive(
    raw: string,
    channel: string,
    pattern: string | undefined,
  ): { value: unknown; meta: MessageMeta } | undefined {
    let decoded: ReturnType<typeof decodeEnvelope>;
    let value: unknown;
    try {
      decoded = decodeEnvelope(raw);
      value = validateMessage(this.#schema, decoded.value, 'received message');
    } catch (error) {
      report(this.#hooks.onInvalid, { channel, raw, error: error as Error });
      return undefined;
    }
    const { publisherId, seq } = decoded;
    if (publisherId !== undefined && seq !== undefined) {
      const last = this.#lastSeq.get(publisherId);
      if (last !== undefined && seq > last + 1) {
        report(this.#hooks.onGap, {
          channel,
          publisherId,
          missed: seq - last - 1,
          expectedSeq: last + 1,
          receivedSeq: seq,
        });
      }
      if (last === undefined || seq > last) {
        if (last === undefined && this.#lastSeq.size >= MAX_TRACKED_PUBLISHERS) {
          const oldest = this.#lastSeq.keys().next();
          if (!oldest.done) this.#lastSeq.delete(oldest.value);
        }
        this.#lastSeq.set(publisherId, seq);
      }
    }
    return { value, meta: { channel, pattern, publisherId, seq } };
  }
}

/** Calls `onReconnect` when the backend comes back after not being ready. Returns the stop function. */
export function watchReconnects(backend: Backend, channel: string, hooks: PubSubHooks): () => void {
  if (!hooks.onReconnect) return () => undefined;
  let downSince: number | undefined;
  return backend.onConnectionChange((state: ConnectionState) => {
    if (state === 'ready') {
      if (downSince !== undefined) {
        const downMs = Date.now() - downSince;
        downSince = undefined;
        report(hooks.onReconnect, { channel, downMs });
      }
    } else if (state !== 'closed') {
      downSince ??= Date.now();
    }
  });
}

/** A bounded buffer feeding an async iterator. */
export class IteratorBuffer<T> implements MessageIterator<T> {
  readonly ready: Promise<void>;
  #dropped = 0;
  readonly #items: T[] = [];
  #head = 0;
  readonly #waiting: Array<{
    resolve: (r: IteratorResult<T>) => void;
    reject: (e: unknown) => void;
  }> = [];
  #failure: Error | undefined;
  #done = false;
  readonly #size: number;
  readonly #overflow: OverflowPolicy;
  readonly #channel: string;
  #stop: () => Promise<void> = async () => undefined;

  constructor(
    channel: string,
    options: IteratorOptions,
    start: (buffer: IteratorBuffer<T>) => Promise<() => Promise<void>>,
  ) {
    this.#channel = channel;
    this.#size = options.bufferSize ?? 1000;
    this.#overflow = options.overflow ?? 'drop-oldest';
    this.ready = start(this).then((stop) => {
      this.#stop = stop;
      if (this.#done) return stop();
    });
    // Errors surface through next(); do not leave ready's rejection unhandled.
    this.ready.catch((error: unknown) => this.#fail(error as Error));
  }

  get dropped(): number {
    return this.#dropped;
  }

  get buffered(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    if (this.#done || this.#failure) return;
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      return;
    }
    if (this.buffered >= this.#size) {
      if (this.#overflow === 'error') {
        // The unread messages stay readable; the iteration throws after them.
        this.#fail(new BufferOverflowError(this.#channel, this.#size));
        void this.#stopBackend();
        return;
      }
      this.#head++;
      this.#dropped++;
    }
    this.#items.push(item);
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #fail(error: Error): void {
    if (this.#failure || this.#done) return;
    this.#failure = error;
    for (const w of this.#waiting.splice(0)) w.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffered > 0) {
      const value = this.#items[this.#head] as T;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#failure) {
      const error = this.#failure;
      this.#done = true;
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<T>> {
    await this.unsubscribe();
    return { value: undefined, done: true };
  }

  async unsubscribe(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#items.length = 0;
    this.#head = 0;
    for (const w of this.#waiting.splice(0)) w.resolve({ value: undefined, done: true });
    await this.#stopBackend();
  }

  async #stopBackend(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.#stop();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
