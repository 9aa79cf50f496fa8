import { inspect } from 'node:util';
import {
  assertInteger,
  assertKey,
  assertString,
  type Backend,
  type BackendInfo,
  BackendUnavailableError,
  ClosedError,
  ConfigError,
  type ConnectionListener,
  type ConnectionState,
  checkScriptCall,
  describe,
  type ExpiredListener,
  hashSlot,
  type KeyType,
  type MessageListener,
  type PatternListener,
  type Pipeline,
  REDIS_CONNECTION,
  type RedbrickError,
  type RedisConnectionSource,
  type ScanOptions,
  type ScoreBound,
  type Script,
  type SetOptions,
  type StreamEntry,
  type Subscription,
  scopedView,
  scriptArgs,
  ValidationError,
  type XAddOptions,
  type XAutoClaimResult,
  type XPendingEntry,
  type XPendingRangeOptions,
  type XPendingSummary,
  type XReadGroupOptions,
  type XTrimOptions,
  type ZAddOptions,
  type ZMember,
  type ZRangeByScoreOptions,
} from '@redbrick/core';
import type { Cluster, Redis } from 'ioredis';
import { BlockingPool } from './blocking.js';
import {
  assertSameSlot,
  ClusterPubSub,
  nodeKey,
  primaries,
  primaryByKey,
  slotOwner,
} from './cluster.js';
import { type Op, ops, scriptOp } from './commands.js';
import {
  type Client,
  closeClient,
  connectReady,
  createClient,
  createNodeClient,
} from './connection.js';
import { enforceDeadlines } from './deadlines.js';
import { isUnavailable, PKG, Redactor, toRedbrickError } from './errors.js';
import { aggregateInfo, parseInfo, toBackendInfo } from './info.js';
import {
  parseRedisBackendConfig,
  type RedisBackendConfig,
  resolveSettings,
  type Settings,
} from './options.js';
import { RedisPipeline } from './pipeline.js';
import { NodePubSub, PubSub } from './pubsub.js';
import { type Caller, sendOp } from './scripts.js';

const SCAN_TYPES = new Set<string>(['string', 'hash', 'list', 'set', 'zset', 'stream']);

/**
 * Most commands one corked write carries. Unbounded batches win when client
 * and server share a CPU, but with the server on another core (the usual
 * deployment) they stop the server from working while the client is still
 * writing: 16 keeps both (measured in `bench/`, pinned and unpinned).
 */
const COALESCE_BATCH = 16;

/**
 * The redbrick `Backend` on Redis through ioredis: one node, Redis Cluster
 * or Sentinel. Create it with {@link createRedisBackend} (or core's
 * `createBackend({ type: 'redis', … })`).
 *
 * Failure behaviour: every command has a deadline (`commandTimeoutMs`), and
 * while Redis is unreachable calls fail at once with
 * `BackendUnavailableError` (no offline queue); the connection reconnects by
 * itself with capped backoff and subscriptions resume.
 */
export class RedisBackend implements Backend {
  /** `'redis'`, `'redis-cluster'` or `'redis-sentinel'`. */
  readonly kind: 'redis' | 'redis-cluster' | 'redis-sentinel';
  /** Always `''`: the root view (a `keyPrefix` is applied by a scoped view around it). */
  readonly prefix = '';
  /** Default TTL in ms for services that take one (config `defaultTtlMs` / env `REDIS_DEFAULT_TTL`). */
  readonly defaultTtlMs: number | undefined;

  readonly #settings: Settings;
  readonly #redactor: Redactor;
  readonly #client: Client;
  readonly #caller: Caller;
  readonly #cluster: Cluster | undefined;
  readonly #pubsub: PubSub;
  readonly #blocking: BlockingPool;
  /** Stops the main connection's deadline sweep (one node; Cluster nodes use ioredis' timers). */
  readonly #stopDeadlines: () => void;
  readonly #listeners = new Set<ConnectionListener>();
  #state: ConnectionState = 'reconnecting';
  /** State of the main connection alone; {@link #state} also counts subscriber connections. */
  #mainState: ConnectionState = 'reconnecting';
  /** Subscriber connections that dropped and have not yet restored their subscriptions. */
  readonly #subscribersDown = new Set<string>();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The main connection's socket while it is corked for the current tick (see `#coalesce`). */
  #corked: { uncork(): void } | undefined;
  #corkedCount = 0;
  readonly #uncork = (): void => {
    const socket = this.#corked;
    this.#corked = undefined;
    socket?.uncork();
  };

  private constructor(settings: Settings) {
    this.#settings = settings;
    this.kind = settings.kind;
    this.defaultTtlMs = settings.defaultTtlMs;
    this.#redactor = new Redactor(settings.secrets);
    const client = createClient(settings, 'main');
    this.#client = client;
    this.#caller = client as unknown as Caller;
    this.#cluster = settings.mode === 'cluster' ? (client as Cluster) : undefined;
    const cluster = this.#cluster;
    this.#stopDeadlines = cluster
      ? () => undefined
      : enforceDeadlines(client as Redis, settings.commandTimeoutMs);
    this.#pubsub = new PubSub(
      (id, up) => this.#subscriberState(id, up),
      (sink) =>
        cluster
          ? new ClusterPubSub({
              sink,
              cluster,
              createNode: (host, port) => createNodeClient(settings, host, port, 'subscriber'),
              connectTimeoutMs: settings.connectTimeoutMs,
              target: settings.target,
              redactor: this.#redactor,
              enableKeyspaceEvents: settings.enableKeyspaceEvents,
            })
          : new NodePubSub({
              sink,
              main: this.#caller,
              createSubscriber: () => createClient(settings, 'subscriber') as Redis,
              connectTimeoutMs: settings.connectTimeoutMs,
              target: settings.target,
              redactor: this.#redactor,
              enableKeyspaceEvents: settings.enableKeyspaceEvents,
              db: settings.db,
            }),
    );
    // main + subscriber connections come out of maxConnections; the rest may block.
    this.#blocking = new BlockingPool(async () => {
      const blocking = createClient(settings, 'blocking');
      blocking.on('error', () => undefined);
      try {
        await connectReady(blocking, settings.connectTimeoutMs, settings.target, this.#redactor);
      } catch (error) {
        blocking.disconnect();
        throw error;
      }
      return blocking;
    }, settings.maxConnections - 2);

    client.on('error', () => {
      // every failure reaches the caller as a BackendUnavailableError; no log lines, no secrets
    });
    let first = true;
    client.on('ready', () => {
      this.#setMainState('ready');
      if (first) {
        first = false;
        return;
      }
      // A restarted server forgot what CONFIG SET told it.
      this.#applyServerConfig().catch(() => undefined);
      this.#pubsub.reapply();
    });
    client.on('close', () => this.#setMainState('down'));
    client.on('end', () => this.#setMainState('down'));
    client.on('reconnecting', () => this.#setMainState('reconnecting'));
  }

  /**
   * Connects and resolves once Redis answers (within `connectTimeoutMs`),
   * then applies `maxMemoryBytes` / `maxMemoryPolicy`. Rejects with
   * BackendUnavailableError when Redis cannot be reached.
   */
  static async connect(config: RedisBackendConfig = { type: 'redis' }): Promise<RedisBackend> {
    const backend = new RedisBackend(resolveSettings(parseRedisBackendConfig(config)));
    const settings = backend.#settings;
    try {
      await connectReady(
        backend.#client,
        settings.connectTimeoutMs,
        settings.target,
        backend.#redactor,
      );
      await backend.#applyServerConfig();
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  #setMainState(state: ConnectionState): void {
    this.#mainState = state;
    this.#setState(this.#composite());
  }

  /**
   * A subscriber connection dropped (`up` false) or came back with its
   * subscriptions restored (`up` true). Messages published in between are
   * lost, so the backend reports `'reconnecting'` until every subscriber is
   * back: a listener that clears state on `'ready'` (the cache's L1) then
   * clears it after the last message it could have missed.
   */
  #subscriberState(id: string, up: boolean): void {
    if (up) this.#subscribersDown.delete(id);
    else this.#subscribersDown.add(id);
    this.#setState(this.#composite());
  }

  #composite(): ConnectionState {
    if (this.#mainState !== 'ready') return this.#mainState;
    return this.#subscribersDown.size > 0 ? 'reconnecting' : 'ready';
  }

  #setState(state: ConnectionState): void {
    if (this.#closed && state !== 'closed') return;
    if (state === this.#state) return;
    this.#state = state;
    for (const listener of [...this.#listeners]) {
      try {
        listener(state);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  async #applyServerConfig(): Promise<void> {
    const pairs: Array<[string, string, string]> = [];
    if (this.#settings.maxMemoryBytes !== undefined) {
      pairs.push(['maxmemory', String(this.#settings.maxMemoryBytes), 'maxMemoryBytes']);
    }
    if (this.#settings.maxMemoryPolicy !== undefined) {
      pairs.push(['maxmemory-policy', this.#settings.maxMemoryPolicy, 'maxMemoryPolicy']);
    }
    if (pairs.length === 0) return;
    const nodes: Caller[] = this.#cluster
      ? (primaries(this.#cluster) as unknown as Caller[])
      : [this.#caller];
    for (const node of nodes) {
      for (const [name, value, field] of pairs) {
        try {
          await node.call('config', 'set', name, value);
        } catch (error) {
          const message = this.#redactor.text(
            error instanceof Error ? error.message : String(error),
          );
          throw new ConfigError(
            `${PKG} could not apply ${field} (CONFIG SET ${name} ${value}) on ${this.#settings.target}: ${message}. Set ${name} in redis.conf instead, or drop the option.`,
            { field },
          );
        }
      }
    }
  }

  /** Throws (an ioredis-style error, mapped by the caller) when the main connection is down. */
  #assertUp(): void {
    if (this.#client.status !== 'ready')
      throw new Error("Stream isn't writeable: the connection is down");
  }

  #mapError(op: Op, error: unknown): RedbrickError {
    // Calls cut off by close() report that, not a lost connection.
    if (this.#closed) return this.#closedError();
    return toRedbrickError(error, {
      command: op.method,
      script: op.script?.name,
      target: this.#settings.target,
      redactor: this.#redactor,
    });
  }

  #closedError(): ClosedError {
    return new ClosedError(`${PKG} the backend (${this.#settings.target}) is closed`);
  }

  /**
   * Coalesces the commands sent in one tick into one socket write: the
   * first command corks the main connection's socket and a `nextTick`
   * uncorks it, after every caller resumed in the same turn has written.
   * Sixty-four calls in flight then cost four write syscalls (batches of
   * {@link COALESCE_BATCH}) instead of sixty-four. Only while replies are outstanding:
   * a lone caller (nothing in flight) writes at once and pays nothing. Not
   * on Cluster (one socket per node) nor with ioredis' `autoPipelining`,
   * which batches on its own.
   */
  #coalesce(): void {
    if (this.#corked !== undefined) {
      if (++this.#corkedCount >= COALESCE_BATCH) this.#uncork();
      return;
    }
    if (this.#cluster !== undefined) return;
    if (this.#settings.autoPipelining) return;
    const client = this.#client as Redis & { commandQueue?: { length: number } };
    if ((client.commandQueue?.length ?? 0) === 0) return;
    const socket = client.stream as { writable: boolean; cork(): void; uncork(): void } | undefined;
    if (socket === undefined || !socket.writable) return;
    socket.cork();
    this.#corked = socket;
    this.#corkedCount = 0;
    process.nextTick(this.#uncork);
  }

  #send<T>(op: Op<T>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#coalesce();
    if (this.#cluster && op.keys.length > 1) {
      try {
        assertSameSlot(op);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (
      op.blockMs === undefined &&
      (!op.publish || this.#cluster === undefined) &&
      op.script === undefined &&
      op.recover === undefined
    ) {
      // The hot path: one command, one promise (a PUBLISH too, except on Cluster where it is routed).
      return this.#caller.call(op.name, ...op.args).then(op.decode, (error: unknown) => {
        throw this.#mapError(op, error);
      });
    }
    let sent: Promise<T>;
    if (op.blockMs !== undefined) {
      // Fail fast instead of opening a blocking connection to a server that is down.
      sent =
        this.#client.status === 'ready'
          ? this.#blocking.run(op, op.blockMs + this.#settings.commandTimeoutMs)
          : Promise.reject(new Error('Connection is closed.'));
    } else if (op.publish) {
      sent = this.#pubsub.publish(op.args[0] as string, op.args[1] as string).then(op.decode);
    } else {
      sent = sendOp(this.#caller, op);
    }
    return sent.catch((error: unknown) => {
      throw this.#mapError(op, error);
    });
  }

  #do<A extends unknown[], T>(build: (...args: A) => Op<T>, args: A): Promise<T> {
    let op: Op<T>;
    try {
      op = build(...args);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(op);
  }

  // ------------------------------------------------------------------ keys

  get(key: string): Promise<string | null> {
    return this.#do(ops.get, [key]);
  }
  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    return this.#do(ops.set, [key, value, options]);
  }
  setGet(key: string, value: string, options?: SetOptions): Promise<string | null> {
    return this.#do(ops.setGet, [key, value, options]);
  }
  del(...keys: string[]): Promise<number> {
    return this.#do(ops.del, keys);
  }
  exists(...keys: string[]): Promise<number> {
    return this.#do(ops.exists, keys);
  }
  pexpire(key: string, ttlMs: number): Promise<boolean> {
    return this.#do(ops.pexpire, [key, ttlMs]);
  }
  pttl(key: string): Promise<number> {
    return this.#do(ops.pttl, [key]);
  }
  persist(key: string): Promise<boolean> {
    return this.#do(ops.persist, [key]);
  }
  type(key: string): Promise<KeyType> {
    return this.#do(ops.type, [key]);
  }

  // --------------------------------------------------------------- strings

  mget(...keys: string[]): Promise<Array<string | null>> {
    return this.#do(ops.mget, keys);
  }
  mset(
    entries: Record<string, string> | Array<[string, string]>,
    options?: { ttlMs?: number },
  ): Promise<void> {
    return this.#do(ops.mset, [entries, options]);
  }
  incrBy(key: string, by: number): Promise<number> {
    return this.#do(ops.incrBy, [key, by]);
  }
  incrByFloat(key: string, by: number): Promise<number> {
    return this.#do(ops.incrByFloat, [key, by]);
  }

  // ---------------------------------------------------------------- hashes

  hget(key: string, field: string): Promise<string | null> {
    return this.#do(ops.hget, [key, field]);
  }
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>> {
    return this.#do(ops.hmget, [key, ...fields]);
  }
  hset(key: string, fields: Record<string, string>): Promise<number> {
    return this.#do(ops.hset, [key, fields]);
  }
  hgetall(key: string): Promise<Record<string, string>> {
    return this.#do(ops.hgetall, [key]);
  }
  hdel(key: string, ...fields: string[]): Promise<number> {
    return this.#do(ops.hdel, [key, ...fields]);
  }
  hincrBy(key: string, field: string, by: number): Promise<number> {
    return this.#do(ops.hincrBy, [key, field, by]);
  }
  hincrByFloat(key: string, field: string, by: number): Promise<number> {
    return this.#do(ops.hincrByFloat, [key, field, by]);
  }
  hexists(key: string, field: string): Promise<boolean> {
    return this.#do(ops.hexists, [key, field]);
  }
  hlen(key: string): Promise<number> {
    return this.#do(ops.hlen, [key]);
  }

  // ----------------------------------------------------------------- lists

  rpush(key: string, ...values: string[]): Promise<number> {
    return this.#do(ops.rpush, [key, ...values]);
  }
  lpush(key: string, ...values: string[]): Promise<number> {
    return this.#do(ops.lpush, [key, ...values]);
  }
  lrange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#do(ops.lrange, [key, start, stop]);
  }
  lindex(key: string, index: number): Promise<string | null> {
    return this.#do(ops.lindex, [key, index]);
  }
  llen(key: string): Promise<number> {
    return this.#do(ops.llen, [key]);
  }
  ltrim(key: string, start: number, stop: number): Promise<void> {
    return this.#do(ops.ltrim, [key, start, stop]);
  }
  lpop(key: string): Promise<string | null> {
    return this.#do(ops.lpop, [key]);
  }
  rpop(key: string): Promise<string | null> {
    return this.#do(ops.rpop, [key]);
  }

  // ------------------------------------------------------------------ sets

  sadd(key: string, ...members: string[]): Promise<number> {
    return this.#do(ops.sadd, [key, ...members]);
  }
  srem(key: string, ...members: string[]): Promise<number> {
    return this.#do(ops.srem, [key, ...members]);
  }
  smembers(key: string): Promise<string[]> {
    return this.#do(ops.smembers, [key]);
  }
  sismember(key: string, member: string): Promise<boolean> {
    return this.#do(ops.sismember, [key, member]);
  }
  scard(key: string): Promise<number> {
    return this.#do(ops.scard, [key]);
  }

  // ----------------------------------------------------------- sorted sets

  zadd(key: string, members: ZMember[] | ZMember, options?: ZAddOptions): Promise<number> {
    return this.#do(ops.zadd, [key, members, options]);
  }
  zrem(key: string, ...members: string[]): Promise<number> {
    return this.#do(ops.zrem, [key, ...members]);
  }
  zscore(key: string, member: string): Promise<number | null> {
    return this.#do(ops.zscore, [key, member]);
  }
  zcard(key: string): Promise<number> {
    return this.#do(ops.zcard, [key]);
  }
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions & { withScores?: false },
  ): Promise<string[]>;
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ZRangeByScoreOptions & { withScores: true },
  ): Promise<ZMember[]>;
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): Promise<string[] | ZMember[]> {
    return this.#do(ops.zrangeByScore, [key, min, max, options]);
  }
  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.#do(ops.zremRangeByScore, [key, min, max]);
  }

  // --------------------------------------------------------------- streams

  xadd(key: string, fields: Record<string, string>, options?: XAddOptions): Promise<string | null> {
    return this.#do(ops.xadd, [key, fields, options]);
  }
  xrange(key: string, start?: string, end?: string, count?: number): Promise<StreamEntry[]> {
    return this.#do(ops.xrange, [key, start, end, count]);
  }
  xdel(key: string, ...ids: string[]): Promise<number> {
    return this.#do(ops.xdel, [key, ...ids]);
  }
  xlen(key: string): Promise<number> {
    return this.#do(ops.xlen, [key]);
  }
  xtrim(key: string, options: XTrimOptions): Promise<number> {
    return this.#do(ops.xtrim, [key, options]);
  }
  xgroupCreate(
    key: string,
    group: string,
    options?: { id?: string; mkStream?: boolean },
  ): Promise<boolean> {
    return this.#do(ops.xgroupCreate, [key, group, options]);
  }
  xreadgroup(
    key: string,
    group: string,
    consumer: string,
    options?: XReadGroupOptions,
  ): Promise<StreamEntry[]> {
    return this.#do(ops.xreadgroup, [key, group, consumer, options]);
  }
  xack(key: string, group: string, ...ids: string[]): Promise<number> {
    return this.#do(ops.xack, [key, group, ...ids]);
  }
  xautoclaim(
    key: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    start?: string,
    options?: { count?: number },
  ): Promise<XAutoClaimResult> {
    return this.#do(ops.xautoclaim, [key, group, consumer, minIdleMs, start, options]);
  }
  xpending(key: string, group: string): Promise<XPendingSummary> {
    return this.#do(ops.xpending, [key, group]);
  }
  xpendingRange(
    key: string,
    group: string,
    options?: XPendingRangeOptions,
  ): Promise<XPendingEntry[]> {
    return this.#do(ops.xpendingRange, [key, group, options]);
  }

  // --------------------------------------------------------------- pub/sub

  publish(channel: string, message: string): Promise<number> {
    return this.#do(ops.publish, [channel, message]);
  }

  subscribe(channel: string, listener: MessageListener): Promise<Subscription> {
    return this.#subscription('subscribe', () => this.#pubsub.subscribe(channel, listener));
  }

  psubscribe(pattern: string, listener: PatternListener): Promise<Subscription> {
    return this.#subscription('psubscribe', () => this.#pubsub.psubscribe(pattern, listener));
  }

  /** Expiry events via keyspace notifications (enables `notify-keyspace-events Ex` when CONFIG allows). */
  onExpired(listener: ExpiredListener): Promise<Subscription> {
    return this.#subscription('onExpired', () => this.#pubsub.onExpired(listener));
  }

  async #subscription(method: string, start: () => Promise<Subscription>): Promise<Subscription> {
    if (this.#closed) throw this.#closedError();
    try {
      this.#assertUp();
      return await start();
    } catch (error) {
      throw toRedbrickError(error, {
        command: method,
        target: this.#settings.target,
        redactor: this.#redactor,
      });
    }
  }

  onConnectionChange(listener: ConnectionListener): () => void {
    if (typeof listener !== 'function') {
      throw new ValidationError(`${PKG} onConnectionChange: listener must be a function`, {
        field: 'listener',
      });
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  // ------------------------------------------------------- scripts, batches

  run<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): Promise<R> {
    let op: Op<R>;
    try {
      checkScriptCall(script as Script<unknown>, keys);
      op = scriptOp(script, keys, scriptArgs(args, script.name));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(op);
  }

  pipeline(): Pipeline {
    return new RedisPipeline({
      client: this.#client,
      cluster: this.#cluster,
      runAlone: (op) => this.#send(op),
      check: (op) => {
        if (this.#closed) throw this.#closedError();
        if (this.#cluster && op.keys.length > 1) assertSameSlot(op);
      },
      mapError: (op, error) => this.#mapError(op, error),
    });
  }

  // ------------------------------------------------------------------ scan

  /**
   * SCAN with MATCH / COUNT / TYPE; on Cluster every primary is scanned in
   * turn. Keys that exist for the whole scan are returned at least once.
   */
  async *scan(options: ScanOptions = {}): AsyncIterable<string> {
    const args: Array<string | number> = [];
    if (options.match !== undefined) {
      assertString(options.match, 'match', 'redis-backend');
      args.push('MATCH', options.match);
    }
    if (options.count !== undefined) {
      assertInteger(options.count, 'count', { min: 1, pkg: 'redis-backend' });
    }
    args.push('COUNT', options.count ?? 100);
    if (options.type !== undefined) {
      if (!SCAN_TYPES.has(options.type)) {
        throw new ValidationError(
          `${PKG} scan: type must be one of ${[...SCAN_TYPES].join(', ')}, got ${JSON.stringify(options.type)}`,
          { field: 'type' },
        );
      }
      args.push('TYPE', options.type);
    }
    if (this.#closed) throw this.#closedError();
    const nodes: Caller[] = this.#cluster
      ? (primaries(this.#cluster) as unknown as Caller[])
      : [this.#caller];
    if (nodes.length === 0) {
      throw toRedbrickError(new Error('Connection is closed.'), {
        command: 'scan',
        target: this.#settings.target,
        redactor: this.#redactor,
      });
    }
    for (const node of nodes) {
      let cursor = '0';
      do {
        let reply: unknown;
        try {
          reply = await node.call('scan', cursor, ...args);
        } catch (error) {
          throw toRedbrickError(error, {
            command: 'scan',
            target: this.#settings.target,
            redactor: this.#redactor,
          });
        }
        const [next, keys] = reply as [string, string[]];
        cursor = String(next);
        for (const k of keys) yield k;
      } while (cursor !== '0');
    }
  }

  // ----------------------------------------------------------------- admin

  /** Round-trip latency of a PING, in ms. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.#admin('ping', () => this.#caller.call('ping'));
    return performance.now() - started;
  }

  /** Normalised INFO; on Cluster the sum over every primary (see `aggregateInfo`). */
  async info(): Promise<BackendInfo> {
    const nodes: Caller[] = this.#cluster
      ? (primaries(this.#cluster) as unknown as Caller[])
      : [this.#caller];
    const infos = await Promise.all(
      nodes.map(async (node) => {
        const [text, events] = await Promise.all([
          this.#admin('info', () => node.call('info')),
          node.call('config', 'get', 'notify-keyspace-events').then(
            (r) => (Array.isArray(r) && typeof r[1] === 'string' ? r[1] : ''),
            () => '',
          ),
        ]);
        return toBackendInfo(this.kind, parseInfo(String(text)), this.#settings.db, events);
      }),
    );
    if (!this.#cluster) return infos[0] as BackendInfo;
    return aggregateInfo(this.kind, infos);
  }

  /**
   * Redis `WAIT`, sent on the connection that carried this client's writes to `key`: the main
   * connection, or on a Cluster the connection to the primary serving `key`'s slot.
   */
  async waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    assertKey(key, 'key', 'redis-backend');
    assertInteger(replicas, 'replicas', { min: 0, pkg: 'redis-backend' });
    // WAIT blocks; the connection's command deadline must not cut it short (and 0 would block forever).
    const limit = this.#settings.commandTimeoutMs - 1;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > limit) {
      throw new ValidationError(
        `${PKG} timeoutMs must be an integer from 1 to ${limit} (below the backend's commandTimeoutMs), got ${describe(timeoutMs)}`,
        { field: 'timeoutMs' },
      );
    }
    const reply = await this.#admin('wait', () => {
      let node: Caller = this.#caller;
      if (this.#cluster) {
        const owner = slotOwner(this.#cluster, hashSlot(key));
        const primary = owner === undefined ? undefined : primaryByKey(this.#cluster, owner);
        if (!primary) {
          throw new BackendUnavailableError(`${PKG} no primary is known for the slot of "${key}"`);
        }
        node = primary as unknown as Caller;
      }
      return node.call('wait', replicas, timeoutMs);
    });
    return Number(reply);
  }

  /** Server time (TIME) in ms since the epoch, with microsecond fraction. */
  async time(): Promise<number> {
    const reply = await this.#admin('time', () => this.#caller.call('time'));
    const [seconds, micros] = reply as [string, string];
    return Number(seconds) * 1000 + Number(micros) / 1000;
  }

  async #admin(command: string, send: () => Promise<unknown>): Promise<unknown> {
    if (this.#closed) throw this.#closedError();
    try {
      return await send();
    } catch (error) {
      throw toRedbrickError(error, {
        command,
        target: this.#settings.target,
        redactor: this.#redactor,
      });
    }
  }

  /** True while the main connection is ready for commands. */
  get isConnected(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  /** The current connection state (`'ready'`, `'reconnecting'`, `'down'` or `'closed'`). */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Where this backend connects, passwords replaced by `***`. */
  get target(): string {
    return this.#settings.target;
  }

  /** Open connections: main, subscriber(s) and blocking (for tests and diagnostics). */
  get connections(): { blocking: number } {
    return { blocking: this.#blocking.size };
  }

  scoped(prefix: string): Backend {
    return scopedView(this, prefix);
  }

  /** Closes every connection (QUIT, bounded) and stops reconnecting. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#blocking.close();
    await this.#pubsub.close().catch(() => undefined);
    await closeClient(this.#client, this.#settings.commandTimeoutMs).catch(() => undefined);
    this.#stopDeadlines();
    this.#setState('closed');
    this.#listeners.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Shows where the backend connects — never a password. */
  /** New raw clients for libraries that need their own (BullMQ): see core's `redisConnectionSource`. */
  get [REDIS_CONNECTION](): RedisConnectionSource {
    const settings = this.#settings;
    return {
      cluster: settings.mode === 'cluster',
      createClient: () => createClient(settings, 'external'),
      isUnavailable: (error: unknown) => error instanceof Error && isUnavailable(error.message),
    };
  }

  [inspect.custom](): string {
    return `RedisBackend { kind: '${this.kind}', target: '${this.#settings.target}', state: '${this.#state}' }`;
  }

  /** Same as inspect: safe to log. */
  toJSON(): { kind: string; target: string; state: ConnectionState } {
    return { kind: this.kind, target: this.#settings.target, state: this.#state };
  }

  /** `host:port` of the primaries the client knows (Cluster), for diagnostics. */
  get primaries(): string[] {
    return this.#cluster ? primaries(this.#cluster).map(nodeKey) : [];
  }
}

/**
 * Creates the Redis backend: one node (`url` or host/port/…), a Cluster
 * (`cluster.nodes`) or Sentinel (`sentinel.sentinels` + `name`). Resolves
 * once Redis answers. With `keyPrefix`, the returned backend is a scoped
 * view whose `close()` still closes the connections.
 *
 * @example
 * const backend = await createRedisBackend({ url: 'redis://127.0.0.1:6379/0' });
 * await backend.set('greeting', 'hello', { ttlMs: 60_000 });
 * await backend.close();
 */
export async function createRedisBackend(
  config: RedisBackendConfig = { type: 'redis' },
): Promise<Backend> {
  const { keyPrefix } = parseRedisBackendConfig(config);
  const root = await RedisBackend.connect(config);
  if (keyPrefix === undefined) return root;
  const view = scopedView(root, keyPrefix);
  Object.defineProperties(view, {
    close: { value: () => root.close(), configurable: true, writable: true },
    [Symbol.asyncDispose]: { value: () => root.close(), configurable: true, writable: true },
    defaultTtlMs: { value: root.defaultTtlMs, configurable: true },
    [inspect.custom]: {
      value: () => `${root[inspect.custom]()} scoped to '${view.prefix}'`,
      configurable: true,
    },
  });
  return view;
}
