import type { Backend, Subscription } from '@redbrick/core';
import { json, ValidationError } from '@redbrick/core';
import type { z } from 'zod';
import { encodeEnvelope, newPublisherId, validateMessage } from './envelope.js';
import { PKG } from './errors.js';
import {
  type ChannelSubscription,
  defaultOnError,
  IteratorBuffer,
  type IteratorOptions,
  type MessageIterator,
  type MessageMeta,
  type PubSubHooks,
  Receiver,
  report,
  watchReconnects,
} from './subscription.js';
import {
  checkFunction,
  checkName,
  checkOneOf,
  checkOptionalFunction,
  checkOptionalInteger,
} from './validation.js';

/** The message type of a schema, or `unknown` without one. */
export type MessageOf<S> = S extends z.ZodType ? z.output<S> : unknown;

/** Called with each message; may be async (its rejection goes to `onError`). */
export type MessageHandler<T> = (message: T, meta: MessageMeta) => void | Promise<void>;

/** Options shared by channels and patterns. */
export interface SubscriberOptions<S extends z.ZodType | undefined>
  extends PubSubHooks,
    IteratorOptions {
  /** Any redbrick backend (memory, Redis, Cluster, or a `scoped()` view). */
  backend: Backend;
  /** Zod schema: messages are validated on publish and on receipt. */
  schema?: S;
}

/** Options of {@link createChannel}. */
export interface ChannelOptions<S extends z.ZodType | undefined = undefined>
  extends SubscriberOptions<S> {
  /** The channel name, used as the Redis channel as it is (under the backend's scope). */
  name: string;
}

/** Options of {@link createPattern}. */
export interface PatternOptions<S extends z.ZodType | undefined = undefined>
  extends SubscriberOptions<S> {
  /** A Redis glob pattern (`events.*`, `user.?`, `[ab].x`). */
  pattern: string;
}

export function checkSubscriberOptions(options: SubscriberOptions<z.ZodType | undefined>): void {
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(`${PKG} options must be an object`, { field: 'options' });
  }
  if (options.backend === null || typeof options.backend !== 'object') {
    throw new ValidationError(`${PKG} backend must be a redbrick Backend`, { field: 'backend' });
  }
  if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
    throw new ValidationError(`${PKG} schema must be a zod schema`, { field: 'schema' });
  }
  for (const hook of ['onError', 'onInvalid', 'onGap', 'onReconnect'] as const) {
    checkOptionalFunction(options[hook], hook);
  }
  checkIteratorOptions(options);
}

function checkIteratorOptions(options: IteratorOptions | undefined): void {
  if (options === undefined) return;
  checkOptionalInteger(options.bufferSize, 'bufferSize', 1);
  checkOneOf(options.overflow, 'overflow', ['drop-oldest', 'error']);
}

type Listen = (
  deliver: (raw: string, channel: string, pattern: string | undefined) => void,
) => Promise<Subscription>;

/** The subscribing half, shared by channels and patterns. */
abstract class Subscriber<T, Item> {
  protected readonly backend: Backend;
  protected readonly schema: z.ZodType | undefined;
  protected readonly hooks: PubSubHooks;
  readonly #iteratorDefaults: IteratorOptions;
  /** The subscribed channel or pattern. */
  abstract readonly target: string;

  constructor(options: SubscriberOptions<z.ZodType | undefined>) {
    checkSubscriberOptions(options);
    this.backend = options.backend;
    this.schema = options.schema;
    this.hooks = {
      onError: options.onError ?? defaultOnError,
      onInvalid: options.onInvalid,
      onGap: options.onGap,
      onReconnect: options.onReconnect,
    };
    this.#iteratorDefaults = { bufferSize: options.bufferSize, overflow: options.overflow };
  }

  protected abstract listen: Listen;
  protected abstract item(message: T, meta: MessageMeta): Item;

  /**
   * With a handler: calls it with every message, in arrival order, until
   * `unsubscribe()`. Handlers are not awaited one by one (pub/sub has no
   * backpressure); a throw or rejection goes to `onError` and never stops
   * delivery. Without one: an async iterator over a bounded buffer.
   */
  subscribe(handler: MessageHandler<T>): Promise<ChannelSubscription>;
  subscribe(options?: IteratorOptions): MessageIterator<Item>;
  subscribe(
    handlerOrOptions?: MessageHandler<T> | IteratorOptions,
  ): Promise<ChannelSubscription> | MessageIterator<Item> {
    if (typeof handlerOrOptions === 'function') return this.#subscribeHandler(handlerOrOptions);
    if (
      handlerOrOptions !== undefined &&
      (handlerOrOptions === null || typeof handlerOrOptions !== 'object')
    ) {
      checkFunction(handlerOrOptions, 'handler');
    }
    checkIteratorOptions(handlerOrOptions);
    const options = { ...this.#iteratorDefaults, ...handlerOrOptions };
    return new IteratorBuffer<Item>(this.target, options, (buffer) =>
      this.#start((value, meta) => buffer.push(this.item(value, meta))),
    );
  }

  async #subscribeHandler(handler: MessageHandler<T>): Promise<ChannelSubscription> {
    const { onError } = this.hooks;
    const stop = await this.#start((value, meta) => {
      try {
        const result = handler(value, meta);
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(undefined, (error: unknown) =>
            report(onError, error, { channel: meta.channel, message: value }),
          );
        }
      } catch (error) {
        report(onError, error, { channel: meta.channel, message: value });
      }
    });
    return { unsubscribe: stop };
  }

  async #start(deliver: (value: T, meta: MessageMeta) => void): Promise<() => Promise<void>> {
    const receiver = new Receiver(this.schema, this.hooks);
    const { onError } = this.hooks;
    const subscription = await this.listen((raw, channel, pattern) => {
      try {
        const received = receiver.receive(raw, channel, pattern);
        if (received) deliver(received.value as T, received.meta);
      } catch (error) {
        report(onError, error, { channel });
      }
    });
    const stopWatching = watchReconnects(this.backend, this.target, this.hooks);
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      stopWatching();
      await subscription.unsubscribe();
    };
  }
}

/**
 * A typed pub/sub channel. Plain pub/sub is at-most-once: a subscriber gets
 * the messages published while it is subscribed and connected, nothing
 * else. Use a {@link Stream} for messages that must not be lost.
 */
export class Channel<T = unknown> extends Subscriber<T, T> {
  /** The channel name. */
  readonly name: string;
  /** This instance's publisher id (messages carry it with a sequence number). */
  readonly publisherId: string = newPublisherId();
  readonly target: string;
  #seq = 0;

  constructor(options: ChannelOptions<z.ZodType | undefined>) {
    super(options);
    checkName(options.name, 'name');
    this.name = options.name;
    this.target = options.name;
  }

  protected listen: Listen = (deliver) =>
    this.backend.subscribe(this.name, (message, channel) => deliver(message, channel, undefined));

  protected item(message: T): T {
    return message;
  }

  /**
   * Publishes a message (validated with the schema first; a mismatch throws
   * a `ValidationError` before any I/O). Returns how many subscribers
   * received it — on Cluster, channel plus pattern subscribers.
   */
  publish(message: T): Promise<number> {
    let payload: string;
    try {
      const value = validateMessage(this.schema, message, 'message');
      // Encode before numbering: a message that cannot be encoded must not use up a number.
      payload = encodeEnvelope(this.publisherId, this.#seq + 1, json.encode(value));
      this.#seq++;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.backend.publish(this.name, payload);
  }
}

/** A pattern subscription (`events.*`): handlers learn the matched channel from `meta.channel`. */
export class PatternChannel<T = unknown> extends Subscriber<T, PatternMessage<T>> {
  /** The glob pattern. */
  readonly pattern: string;
  readonly target: string;

  constructor(options: PatternOptions<z.ZodType | undefined>) {
    super(options);
    checkName(options.pattern, 'pattern');
    this.pattern = options.pattern;
    this.target = options.pattern;
  }

  protected listen: Listen = (deliver) =>
    this.backend.psubscribe(this.pattern, (message, channel, pattern) =>
      deliver(message, channel, pattern),
    );

  protected item(message: T, meta: MessageMeta): PatternMessage<T> {
    return { channel: meta.channel, message };
  }
}

/** What a pattern iterator yields. */
export interface PatternMessage<T> {
  /** The channel the message was published on. */
  readonly channel: string;
  readonly message: T;
}

/** Creates a typed channel. */
export function createChannel<S extends z.ZodType | undefined = undefined>(
  options: ChannelOptions<S>,
): Channel<MessageOf<S>> {
  return new Channel<MessageOf<S>>(options);
}

/** Creates a pattern subscriber (`events.*`). */
export function createPattern<S extends z.ZodType | undefined = undefined>(
  options: PatternOptions<S>,
): PatternChannel<MessageOf<S>> {
  return new PatternChannel<MessageOf<S>>(options);
}
