import {
  type ExpiredListener,
  type MessageListener,
  type PatternListener,
  RedbrickError,
  type Subscription,
  ValidationError,
} from '@redbrick/core';
import type { Redis } from 'ioredis';
import { connectReady } from './connection.js';
import { PKG, type Redactor } from './errors.js';
import type { Caller } from './scripts.js';

/** Where messages arriving on subscriber connections are delivered. */
export interface PubSubSink {
  message(channel: string, message: string): void;
  pmessage(pattern: string, channel: string, message: string): void;
  expired(key: string): void;
  /**
   * A subscriber connection (or a subscription being moved) lost messages
   * from now on (`up` false), or is receiving again (`up` true).
   */
  subscriber(id: string, up: boolean): void;
}

/** The Redis side of pub/sub: single node (one subscriber connection) or Cluster (one per primary). */
export interface PubSubTransport {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  psubscribe(pattern: string): Promise<void>;
  punsubscribe(pattern: string): Promise<void>;
  /** Subscribes to expiry events (enabling keyspace notifications as needed). */
  watchExpired(): Promise<void>;
  unwatchExpired(): Promise<void>;
  /**
   * Sends a PUBLISH the main connection cannot send as is: Cluster routes it (sharded). On one
   * node a PUBLISH is an ordinary command, so a single-node transport has no `publish`.
   */
  publish?(channel: string, message: string): Promise<number>;
  /** The main connection came back: re-apply server settings (keyspace events) lost on a restart. */
  reapply(): void;
  close(): Promise<void>;
}

/** How {@link trackSubscriber} reports a subscriber connection; `retire` before an intentional disconnect. */
export interface TrackedSubscriber {
  retire(): void;
}

/**
 * Restores a subscriber connection's subscriptions after every reconnect and
 * reports its drops and returns to `sink`.
 *
 * The subscriptions are re-issued here, not by ioredis (`autoResubscribe`
 * is off): ioredis records a channel only when its SUBSCRIBE reply arrives,
 * so a connection that drops again between sending the re-SUBSCRIBE and its
 * reply forgets the channel for good. `restore` subscribes from our own
 * bookkeeping instead, and the connection is reported back only when every
 * one of those commands has been answered — from then on nothing published
 * can be missed.
 */
export function trackSubscriber(
  client: Redis,
  id: string,
  sink: PubSubSink,
  restore: (client: Redis) => Promise<unknown>,
): TrackedSubscriber {
  let down = false;
  let retired = false;
  let attempt = 0;
  const confirm = (): void => {
    if (retired || !down || client.status !== 'ready') return;
    const mine = ++attempt;
    restore(client).then(
      () => {
        if (retired || !down || mine !== attempt || client.status !== 'ready') return;
        down = false;
        sink.subscriber(id, true);
      },
      () => {
        // Still connected but refused or unanswered (a paused server): try again shortly; a new
        // connection starts its own attempt on 'ready'.
        if (mine === attempt) setTimeout(confirm, 200).unref();
      },
    );
  };
  client.on('close', () => {
    attempt++;
    if (retired || down) return;
    down = true;
    sink.subscriber(id, false);
  });
  client.on('ready', confirm);
  return {
    retire() {
      if (retired) return;
      retired = true;
      if (down) sink.subscriber(id, true);
    },
  };
}

/** Rethrows a listener's exception outside the delivery loop, so one bad listener cannot starve the others. */
function deliver<A extends unknown[]>(listener: (...args: A) => void, ...args: A): void {
  try {
    listener(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

interface Topic<L> {
  readonly entries: Set<{ readonly listener: L }>;
  readonly ready: Promise<void>;
}

/**
 * Listeners per channel (or pattern), and the one Redis subscription behind
 * them: the first listener subscribes, the last unsubscribe unsubscribes.
 * Lives outside any connection, so it survives reconnects.
 */
class Topics<L> {
  readonly #map = new Map<string, Topic<L>>();
  readonly #on: (name: string) => Promise<void>;
  readonly #off: (name: string) => Promise<void>;

  constructor(on: (name: string) => Promise<void>, off: (name: string) => Promise<void>) {
    this.#on = on;
    this.#off = off;
  }

  get(name: string): Topic<L> | undefined {
    return this.#map.get(name);
  }

  get size(): number {
    return this.#map.size;
  }

  async add(name: string, listener: L): Promise<Subscription> {
    let topic = this.#map.get(name);
    if (!topic) {
      topic = { entries: new Set(), ready: this.#on(name) };
      this.#map.set(name, topic);
    }
    const t = topic;
    const entry = { listener };
    t.entries.add(entry);
    try {
      await t.ready;
    } catch (error) {
      t.entries.delete(entry);
      if (this.#map.get(name) === t) this.#map.delete(name);
      throw error;
    }
    let removed: Promise<void> | undefined;
    return {
      unsubscribe: () => {
        removed ??= this.#remove(name, t, entry);
        return removed;
      },
    };
  }

  async #remove(name: string, topic: Topic<L>, entry: { readonly listener: L }): Promise<void> {
    topic.entries.delete(entry);
    if (topic.entries.size > 0 || this.#map.get(name) !== topic) return;
    this.#map.delete(name);
    try {
      await this.#off(name);
    } catch {
      // Redis is unreachable: the server forgets the subscription with the connection,
      // and a message that still arrives finds no listener.
    }
  }

  clear(): void {
    this.#map.clear();
  }
}

/** The in-process half of pub/sub: validated subscriptions and fan-out to listeners. */
export class PubSub implements PubSubSink {
  readonly #transport: PubSubTransport;
  readonly #channels: Topics<MessageListener>;
  readonly #patterns: Topics<PatternListener>;
  readonly #expired: Topics<ExpiredListener>;

  readonly #onSubscriber: (id: string, up: boolean) => void;

  constructor(
    onSubscriber: (id: string, up: boolean) => void,
    makeTransport: (sink: PubSubSink) => PubSubTransport,
  ) {
    this.#onSubscriber = onSubscriber;
    const transport = makeTransport(this);
    this.#transport = transport;
    this.#channels = new Topics(
      (c) => transport.subscribe(c),
      (c) => transport.unsubscribe(c),
    );
    this.#patterns = new Topics(
      (p) => transport.psubscribe(p),
      (p) => transport.punsubscribe(p),
    );
    this.#expired = new Topics(
      () => transport.watchExpired(),
      () => transport.unwatchExpired(),
    );
  }

  subscribe(channel: string, listener: MessageListener): Promise<Subscription> {
    check(channel, 'channel', listener);
    return this.#channels.add(channel, listener);
  }

  psubscribe(pattern: string, listener: PatternListener): Promise<Subscription> {
    check(pattern, 'pattern', listener);
    return this.#patterns.add(pattern, listener);
  }

  onExpired(listener: ExpiredListener): Promise<Subscription> {
    if (typeof listener !== 'function') {
      return Promise.reject(
        new ValidationError(`${PKG} onExpired: listener must be a function`, { field: 'listener' }),
      );
    }
    return this.#expired.add('', listener);
  }

  /** A routed PUBLISH (Cluster); see {@link PubSubTransport.publish}. */
  publish(channel: string, message: string): Promise<number> {
    return (
      this.#transport.publish?.(channel, message) ??
      Promise.reject(new Error('publish is routed by the transport only on Cluster'))
    );
  }

  reapply(): void {
    this.#transport.reapply();
  }

  message(channel: string, message: string): void {
    const topic = this.#channels.get(channel);
    if (!topic) return;
    for (const { listener } of [...topic.entries]) deliver(listener, message, channel);
  }

  pmessage(pattern: string, channel: string, message: string): void {
    const topic = this.#patterns.get(pattern);
    if (!topic) return;
    for (const { listener } of [...topic.entries]) deliver(listener, message, channel, pattern);
  }

  expired(key: string): void {
    const topic = this.#expired.get('');
    if (!topic) return;
    for (const { listener } of [...topic.entries]) deliver(listener, key);
  }

  subscriber(id: string, up: boolean): void {
    this.#onSubscriber(id, up);
  }

  async close(): Promise<void> {
    this.#channels.clear();
    this.#patterns.clear();
    this.#expired.clear();
    await this.#transport.close();
  }
}

function check(name: unknown, field: 'channel' | 'pattern', listener: unknown): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(`${PKG} ${field} must be a non-empty string`, { field });
  }
  if (typeof listener !== 'function') {
    throw new ValidationError(`${PKG} listener must be a function`, { field: 'listener' });
  }
}

/** The channel Redis publishes expiry events of database `db` on. */
export function expiredChannel(db: number): string {
  return `__keyevent@${db}__:expired`;
}

function hasExpiredEvents(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'));
}

/** `flags` plus what expiry events need (`E` keyevent class, `x` expired events). */
export function withExpiredEvents(flags: string): string {
  let out = flags;
  if (!out.includes('E')) out += 'E';
  if (!out.includes('x') && !out.includes('A')) out += 'x';
  return out;
}

/**
 * Makes sure a node publishes expiry events: reads `notify-keyspace-events`
 * and, when `E` + `x` are missing, adds them with CONFIG SET (when `enable`).
 * Throws a RedbrickError (`KEYSPACE_EVENTS_DISABLED`) when events are off and
 * cannot be turned on. When CONFIG is not allowed at all the state is
 * unknown; events are then assumed to be configured by the operator.
 * Returns the flags in force ('' when unknown).
 */
export async function ensureKeyspaceEvents(
  node: Caller,
  enable: boolean,
  where: string,
): Promise<string> {
  let current: string | undefined;
  try {
    const reply = await node.call('config', 'get', 'notify-keyspace-events');
    if (Array.isArray(reply) && typeof reply[1] === 'string') current = reply[1];
  } catch (error) {
    if (!isConfigRefused(error)) throw error;
  }
  if (current !== undefined && hasExpiredEvents(current)) return current;
  const wanted = withExpiredEvents(current ?? '');
  if (!enable) {
    if (current === undefined) return '';
    throw keyspaceDisabled(where, current, 'enableKeyspaceEvents is false');
  }
  try {
    await node.call('config', 'set', 'notify-keyspace-events', wanted);
    return wanted;
  } catch (error) {
    if (!isConfigRefused(error)) throw error;
    if (current === undefined) return '';
    throw keyspaceDisabled(where, current, 'CONFIG SET is not allowed on this server');
  }
}

function isConfigRefused(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /unknown command|NOPERM|no permissions|not allowed|disabled|protected config/i.test(
    message,
  );
}

function keyspaceDisabled(where: string, current: string, why: string): RedbrickError {
  return new RedbrickError(
    'KEYSPACE_EVENTS_DISABLED',
    `${PKG} onExpired needs keyspace notifications for expired keys on ${where}, but notify-keyspace-events is ${JSON.stringify(current)} and ${why}. ` +
      `Set "notify-keyspace-events ${withExpiredEvents(current)}" in redis.conf (or your provider's parameter group), or allow CONFIG SET.`,
  );
}

/**
 * Pub/sub on one node (directly or through Sentinel): a single subscriber
 * connection, created on first use, that ioredis resubscribes after every
 * reconnect (`autoResubscribe`). Publishing uses the main connection.
 */
export class NodePubSub implements PubSubTransport {
  readonly #sink: PubSubSink;
  readonly #main: Caller;
  readonly #createSubscriber: () => Redis;
  readonly #connectTimeoutMs: number;
  readonly #target: string;
  readonly #redactor: Redactor;
  readonly #enableEvents: boolean;
  readonly #expiredChannel: string;
  /** Refcount per channel: user channels and the expiry channel may coincide. */
  readonly #channels = new Map<string, number>();
  readonly #patterns = new Set<string>();
  #subscriber: Promise<Redis> | undefined;
  #tracked: TrackedSubscriber | undefined;
  #watching = false;

  constructor(options: {
    sink: PubSubSink;
    main: Caller;
    createSubscriber: () => Redis;
    connectTimeoutMs: number;
    target: string;
    redactor: Redactor;
    enableKeyspaceEvents: boolean;
    db: number;
  }) {
    this.#sink = options.sink;
    this.#main = options.main;
    this.#createSubscriber = options.createSubscriber;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#target = options.target;
    this.#redactor = options.redactor;
    this.#enableEvents = options.enableKeyspaceEvents;
    this.#expiredChannel = expiredChannel(options.db);
  }

  #connection(): Promise<Redis> {
    if (this.#subscriber) return this.#subscriber;
    const client = this.#createSubscriber();
    client.on('error', () => {
      // connection errors surface as failed calls and connection-state events
    });
    client.on('message', (channel: string, message: string) => {
      if (channel === this.#expiredChannel && this.#watching) this.#sink.expired(message);
      this.#sink.message(channel, message);
    });
    client.on('pmessage', (pattern: string, channel: string, message: string) =>
      this.#sink.pmessage(pattern, channel, message),
    );
    const tracked = trackSubscriber(client, 'subscriber', this.#sink, (c) => this.#restore(c));
    this.#tracked = tracked;
    const ready = connectReady(client, this.#connectTimeoutMs, this.#target, this.#redactor).then(
      () => client,
      (error: unknown) => {
        this.#subscriber = undefined;
        tracked.retire();
        client.disconnect();
        throw error;
      },
    );
    this.#subscriber = ready;
    return ready;
  }

  /** After a reconnect: subscribes again to every channel and pattern this transport holds. */
  async #restore(client: Redis): Promise<void> {
    const channels = [...this.#channels.keys()];
    const patterns = [...this.#patterns];
    await Promise.all([
      channels.length > 0 ? client.subscribe(...channels) : undefined,
      patterns.length > 0 ? client.psubscribe(...patterns) : undefined,
    ]);
  }

  async #addChannel(channel: string): Promise<void> {
    const n = this.#channels.get(channel) ?? 0;
    this.#channels.set(channel, n + 1);
    if (n > 0) return;
    try {
      const client = await this.#connection();
      await client.subscribe(channel);
    } catch (error) {
      this.#dropChannel(channel);
      throw error;
    }
  }

  #dropChannel(channel: string): boolean {
    const n = (this.#channels.get(channel) ?? 1) - 1;
    if (n > 0) {
      this.#channels.set(channel, n);
      return false;
    }
    this.#channels.delete(channel);
    return true;
  }

  async #removeChannel(channel: string): Promise<void> {
    if (!this.#dropChannel(channel)) return;
    const client = await this.#subscriber;
    await client?.unsubscribe(channel);
  }

  subscribe(channel: string): Promise<void> {
    return this.#addChannel(channel);
  }

  unsubscribe(channel: string): Promise<void> {
    return this.#removeChannel(channel);
  }

  async psubscribe(pattern: string): Promise<void> {
    this.#patterns.add(pattern);
    try {
      const client = await this.#connection();
      await client.psubscribe(pattern);
    } catch (error) {
      this.#patterns.delete(pattern);
      throw error;
    }
  }

  async punsubscribe(pattern: string): Promise<void> {
    this.#patterns.delete(pattern);
    const client = await this.#subscriber;
    await client?.punsubscribe(pattern);
  }

  async watchExpired(): Promise<void> {
    await ensureKeyspaceEvents(this.#main, this.#enableEvents, this.#target);
    await this.#addChannel(this.#expiredChannel);
    this.#watching = true;
  }

  async unwatchExpired(): Promise<void> {
    this.#watching = false;
    await this.#removeChannel(this.#expiredChannel);
  }

  reapply(): void {
    if (!this.#watching) return;
    // A restarted server forgot CONFIG SET: turn expiry events back on.
    ensureKeyspaceEvents(this.#main, this.#enableEvents, this.#target).catch(() => undefined);
  }

  async close(): Promise<void> {
    const pending = this.#subscriber;
    this.#subscriber = undefined;
    this.#channels.clear();
    this.#patterns.clear();
    this.#watching = false;
    this.#tracked?.retire();
    const client = await pending?.catch(() => undefined);
    client?.disconnect();
  }
}
