import { BackendUnavailableError, CrossSlotError, hashSlot } from '@redbrick/core';
import type { Cluster, Redis } from 'ioredis';
import type { Op } from './commands.js';
import { connectReady } from './connection.js';
import { CROSS_SLOT_HINT, PKG, type Redactor } from './errors.js';
import {
  ensureKeyspaceEvents,
  expiredChannel,
  type PubSubSink,
  type PubSubTransport,
  type TrackedSubscriber,
  trackSubscriber,
} from './pubsub.js';
import type { Caller } from './scripts.js';

/** `host:port` of a node connection, the key ioredis uses in its slot table. */
export function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** The primary that owns `slot`, as `host:port`, per the client's slot table. */
export function slotOwner(cluster: Cluster, slot: number): string | undefined {
  return cluster.slots[slot]?.[0];
}

/** The cluster's connections to its current primaries. */
export function primaries(cluster: Cluster): Redis[] {
  return cluster.nodes('master');
}

/** The connection to the primary `key`, or undefined when the client does not know it. */
export function primaryByKey(cluster: Cluster, key: string): Redis | undefined {
  return primaries(cluster).find((n) => nodeKey(n) === key);
}

/**
 * Throws a CrossSlotError when the keys of one multi-key command or script
 * live in different hash slots, before anything is sent (Redis would refuse
 * it with CROSSSLOT anyway; the message here says how to fix it).
 */
export function assertSameSlot(op: Op): void {
  const [first, ...rest] = op.keys;
  if (first === undefined || rest.length === 0) return;
  const slot = hashSlot(first);
  for (const k of rest) {
    if (hashSlot(k) !== slot) {
      throw new CrossSlotError(
        `${PKG} ${op.method}: keys ${JSON.stringify(first)} and ${JSON.stringify(k)} are in different hash slots (${slot} and ${hashSlot(k)}); ${CROSS_SLOT_HINT}`,
      );
    }
  }
}

function splitKey(key: string): { host: string; port: number } {
  const colon = key.lastIndexOf(':');
  return { host: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
}

/**
 * Pub/sub on Redis Cluster.
 *
 * - `subscribe`/`publish` use sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis ≥ 7):
 *   a channel lives on the primary owning its hash slot, so messages are not
 *   broadcast over the cluster bus.
 * - Patterns cannot be sharded: `psubscribe` uses classic PSUBSCRIBE on one
 *   "hub" primary (the owner of slot 0), and `publish` also sends a classic
 *   PUBLISH to that hub, so pattern subscribers — in this process or any
 *   other using redbrick — receive every message. A message therefore reaches
 *   channel listeners once (sharded) and pattern listeners once (classic),
 *   and `publish` returns the sum of both receiver counts.
 * - Expiry events are node-local: every primary gets `notify-keyspace-events`
 *   and a SUBSCRIBE to `__keyevent@0__:expired`.
 *
 * One subscriber connection per primary, created on demand, resubscribed by
 * ioredis after a reconnect; after a slot-table refresh, channels whose slot
 * moved (failover, resharding) are moved to their new owner.
 */
export class ClusterPubSub implements PubSubTransport {
  readonly #sink: PubSubSink;
  readonly #cluster: Cluster;
  readonly #createNode: (host: string, port: number) => Redis;
  readonly #connectTimeoutMs: number;
  readonly #target: string;
  readonly #redactor: Redactor;
  readonly #enableEvents: boolean;
  readonly #conns = new Map<string, Promise<Redis>>();
  readonly #tracked = new Map<string, TrackedSubscriber>();
  readonly #sharded = new Map<string, string>();
  readonly #patterns = new Set<string>();
  readonly #expiredNodes = new Set<string>();
  readonly #channel = expiredChannel(0);
  readonly #onRefresh = () => {
    this.#reconcile().catch(() => undefined);
  };
  #hub: string | undefined;
  #watching = false;
  #reconciling = false;
  #closed = false;

  constructor(options: {
    sink: PubSubSink;
    cluster: Cluster;
    createNode: (host: string, port: number) => Redis;
    connectTimeoutMs: number;
    target: string;
    redactor: Redactor;
    enableKeyspaceEvents: boolean;
  }) {
    this.#sink = options.sink;
    this.#cluster = options.cluster;
    this.#createNode = options.createNode;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#target = options.target;
    this.#redactor = options.redactor;
    this.#enableEvents = options.enableKeyspaceEvents;
    this.#cluster.on('refresh', this.#onRefresh);
  }

  #owner(slot: number): string {
    const owner = slotOwner(this.#cluster, slot);
    if (owner === undefined) {
      throw new BackendUnavailableError(
        `${PKG} no primary is known for hash slot ${slot} of ${this.#target}`,
      );
    }
    return owner;
  }

  #connection(key: string): Promise<Redis> {
    const existing = this.#conns.get(key);
    if (existing) return existing;
    const { host, port } = splitKey(key);
    const client = this.#createNode(host, port);
    client.on('error', () => {
      // surfaced as failed calls
    });
    // A subscriber connection lost its node (dead, or demoted): re-read the slot table now, so
    // its subscriptions move to the new owner as soon as the cluster has one.
    client.on('close', () => {
      if (!this.#closed) this.#cluster.refreshSlotsCache();
    });
    client.on('smessage', (channel: string, message: string) =>
      this.#sink.message(channel, message),
    );
    client.on('pmessage', (pattern: string, channel: string, message: string) =>
      this.#sink.pmessage(pattern, channel, message),
    );
    client.on('message', (channel: string, message: string) => {
      if (channel === this.#channel && this.#watching) this.#sink.expired(message);
    });
    const tracked = trackSubscriber(client, key, this.#sink, (c) => this.#restore(key, c));
    this.#tracked.set(key, tracked);
    const ready = connectReady(
      client,
      this.#connectTimeoutMs,
      `${key} of ${this.#target}`,
      this.#redactor,
    ).then(
      () => client,
      (error: unknown) => {
        if (this.#conns.get(key) === ready) {
          this.#conns.delete(key);
          this.#tracked.delete(key);
        }
        tracked.retire();
        client.disconnect();
        throw error;
      },
    );
    this.#conns.set(key, ready);
    return ready;
  }

  /** After a reconnect: subscribes `node`'s connection again to what this transport placed there. */
  async #restore(node: string, client: Redis): Promise<void> {
    const calls: Array<Promise<unknown>> = [];
    for (const [channel, owner] of this.#sharded) {
      if (owner === node) calls.push(client.ssubscribe(channel));
    }
    if (this.#hub === node && this.#patterns.size > 0) {
      calls.push(client.psubscribe(...this.#patterns));
    }
    if (this.#expiredNodes.has(node)) calls.push(client.subscribe(this.#channel));
    await Promise.all(calls);
  }

  async subscribe(channel: string): Promise<void> {
    const node = this.#owner(hashSlot(channel));
    const client = await this.#connection(node);
    await client.ssubscribe(channel);
    this.#sharded.set(channel, node);
  }

  async unsubscribe(channel: string): Promise<void> {
    const node = this.#sharded.get(channel);
    this.#sharded.delete(channel);
    this.#sink.subscriber(`move:${channel}`, true); // a move that failed no longer matters
    if (node === undefined) return;
    const client = await this.#conns.get(node);
    await client?.sunsubscribe(channel);
  }

  async psubscribe(pattern: string): Promise<void> {
    const hub = this.#hub ?? this.#owner(0);
    const client = await this.#connection(hub);
    await client.psubscribe(pattern);
    this.#hub = hub;
    this.#patterns.add(pattern);
  }

  async punsubscribe(pattern: string): Promise<void> {
    this.#patterns.delete(pattern);
    if (this.#hub === undefined) return;
    const client = await this.#conns.get(this.#hub);
    await client?.punsubscribe(pattern);
  }

  async #watchNode(node: Redis): Promise<void> {
    const key = nodeKey(node);
    await ensureKeyspaceEvents(
      node as unknown as Caller,
      this.#enableEvents,
      `${key} of ${this.#target}`,
    );
    const client = await this.#connection(key);
    await client.subscribe(this.#channel);
    this.#expiredNodes.add(key);
  }

  async watchExpired(): Promise<void> {
    this.#watching = true;
    try {
      await Promise.all(primaries(this.#cluster).map((n) => this.#watchNode(n)));
    } catch (error) {
      await this.unwatchExpired().catch(() => undefined);
      throw error;
    }
  }

  async unwatchExpired(): Promise<void> {
    this.#watching = false;
    const nodes = [...this.#expiredNodes];
    this.#expiredNodes.clear();
    await Promise.all(
      nodes.map(async (key) => {
        const client = await this.#conns.get(key)?.catch(() => undefined);
        await client?.unsubscribe(this.#channel);
      }),
    );
  }

  publish(channel: string, message: string): Promise<number> {
    const hub = slotOwner(this.#cluster, 0);
    const hubNode: Caller =
      (hub === undefined
        ? undefined
        : (primaryByKey(this.#cluster, hub) as unknown as Caller | undefined)) ??
      (this.#cluster as unknown as Caller);
    const cluster = this.#cluster as unknown as Caller;
    return Promise.all([
      cluster.call('spublish', channel, message),
      hubNode.call('publish', channel, message),
    ]).then(([sharded, classic]) => Number(sharded) + Number(classic));
  }

  reapply(): void {
    if (!this.#watching) return;
    for (const node of primaries(this.#cluster)) {
      ensureKeyspaceEvents(node as unknown as Caller, this.#enableEvents, nodeKey(node)).catch(
        () => undefined,
      );
    }
  }

  /** After a slot-table refresh: move subscriptions whose node is no longer responsible. */
  async #reconcile(): Promise<void> {
    if (this.#reconciling || this.#closed) return;
    this.#reconciling = true;
    try {
      for (const [channel, node] of [...this.#sharded]) {
        const owner = slotOwner(this.#cluster, hashSlot(channel));
        if (owner === undefined || owner === node) continue;
        // Messages published to the new owner before the SSUBSCRIBE lands are lost.
        const move = `move:${channel}`;
        this.#sink.subscriber(move, false);
        const old = await this.#conns.get(node)?.catch(() => undefined);
        await old?.sunsubscribe(channel).catch(() => undefined);
        const client = await this.#connection(owner);
        await client.ssubscribe(channel);
        this.#sharded.set(channel, owner);
        this.#sink.subscriber(move, true);
      }
      const hub = slotOwner(this.#cluster, 0);
      if (
        this.#hub !== undefined &&
        hub !== undefined &&
        hub !== this.#hub &&
        this.#patterns.size > 0
      ) {
        this.#sink.subscriber('move:patterns', false);
        const old = await this.#conns.get(this.#hub)?.catch(() => undefined);
        const patterns = [...this.#patterns];
        await old?.punsubscribe(...patterns).catch(() => undefined);
        const client = await this.#connection(hub);
        await client.psubscribe(...patterns);
        this.#hub = hub;
        this.#sink.subscriber('move:patterns', true);
      }
      if (this.#watching) {
        const current = new Set(primaries(this.#cluster).map(nodeKey));
        for (const node of primaries(this.#cluster)) {
          if (!this.#expiredNodes.has(nodeKey(node))) await this.#watchNode(node);
        }
        for (const key of [...this.#expiredNodes]) {
          if (!current.has(key)) this.#expiredNodes.delete(key);
        }
      }
      // Drop subscriber connections to nodes that are no longer primaries and hold nothing.
      const current = new Set(primaries(this.#cluster).map(nodeKey));
      const used = new Set([...this.#sharded.values(), ...this.#expiredNodes]);
      if (this.#hub !== undefined && this.#patterns.size > 0) used.add(this.#hub);
      for (const [key, pending] of [...this.#conns]) {
        if (current.has(key) || used.has(key)) continue;
        this.#conns.delete(key);
        this.#tracked.get(key)?.retire();
        this.#tracked.delete(key);
        pending.then(
          (client) => client.disconnect(),
          () => undefined,
        );
      }
    } finally {
      this.#reconciling = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cluster.off('refresh', this.#onRefresh);
    this.#watching = false;
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const tracked of this.#tracked.values()) tracked.retire();
    this.#tracked.clear();
    this.#sharded.clear();
    this.#patterns.clear();
    this.#expiredNodes.clear();
    await Promise.all(
      conns.map(async (pending) => {
        const client = await pending.catch(() => undefined);
        client?.disconnect();
      }),
    );
  }
}
