import type { Script } from './script.js';

/** The Redis data type of a key, or `'none'` when the key does not exist. */
export type KeyType = 'string' | 'hash' | 'list' | 'set' | 'zset' | 'stream' | 'none';

export interface SetOptions {
  /** Expire after this many milliseconds (a positive integer). Without it (and without `keepTtl`) any TTL is cleared, like Redis SET. */
  ttlMs?: number;
  /** Only set when the key does not exist (NX). */
  nx?: boolean;
  /** Only set when the key already exists (XX). */
  xx?: boolean;
  /** Keep the key's current TTL (KEEPTTL). Cannot be combined with `ttlMs`. */
  keepTtl?: boolean;
}

export interface ScanOptions {
  /** Redis glob pattern (`*`, `?`, `[a-z]`, `\` escapes). @default '*' */
  match?: string;
  /** Hint for how many keys to examine per step. @default 100 */
  count?: number;
  /** Only keys of this type. */
  type?: Exclude<KeyType, 'none'>;
}

export interface ZRangeByScoreOptions {
  /** Skip this many matches first. @default 0 */
  offset?: number;
  /** Return at most this many. */
  count?: number;
  /** Return `{ member, score }` pairs instead of members. @default false */
  withScores?: boolean;
}

/** A score bound: a number, `-Infinity`/`Infinity`, or `'(5'` style exclusive bound. */
export type ScoreBound = number | `(${number}` | '-inf' | '+inf';

export interface ZMember {
  member: string;
  score: number;
}

export interface ZAddOptions {
  nx?: boolean;
  xx?: boolean;
  gt?: boolean;
  lt?: boolean;
}

/** One stream entry: its id (`<ms>-<seq>`) and fields in insertion order. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface XAddOptions {
  /** Explicit id; `*` (auto) by default. */
  id?: string;
  /** Trim to about this many entries (MAXLEN). */
  maxLen?: number;
  /** Use `~` (approximate) trimming. @default true */
  approximate?: boolean;
  /** Do not create the stream when it is missing (NOMKSTREAM); returns null then. */
  noMkStream?: boolean;
}

export interface XReadGroupOptions {
  /** At most this many entries. */
  count?: number;
  /** Block up to this many ms for new entries when none are available. 0 or absent: do not block. */
  blockMs?: number;
  /** `'>'` (new entries, default) or an id to re-read this consumer's pending entries after it. */
  id?: string;
  /** Do not add the entries to the pending list (NOACK). */
  noAck?: boolean;
}

export interface XAutoClaimResult {
  /** Cursor for the next call (`0-0` when the whole pending list was scanned). */
  next: string;
  entries: StreamEntry[];
  /** Ids that were pending but whose entries no longer exist (removed from the pending list). */
  deleted: string[];
}

export interface XPendingSummary {
  count: number;
  minId: string | null;
  maxId: string | null;
  consumers: Array<{ name: string; count: number }>;
}

export interface XPendingEntry {
  id: string;
  consumer: string;
  /** Milliseconds since the entry was last delivered. */
  idleMs: number;
  /** How many times the entry was delivered. */
  deliveries: number;
}

export interface XPendingRangeOptions {
  start?: string;
  end?: string;
  count?: number;
  consumer?: string;
  /** Only entries idle for at least this many ms. */
  minIdleMs?: number;
}

export interface XTrimOptions {
  maxLen?: number;
  minId?: string;
  /** @default true */
  approximate?: boolean;
}

/** Unsubscribes a listener. Idempotent. */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

export type MessageListener = (message: string, channel: string) => void;
export type PatternListener = (message: string, channel: string, pattern: string) => void;
export type ExpiredListener = (key: string) => void;

/** Connection state changes of a backend (memory backends are always `ready`). */
export type ConnectionState = 'ready' | 'reconnecting' | 'down' | 'closed';
export type ConnectionListener = (state: ConnectionState) => void;

/** Normalised `INFO`: the same shape from every backend. */
export interface BackendInfo {
  /** `'memory'`, `'redis'` or `'redis-cluster'`, … */
  backend: string;
  serverVersion: string;
  usedMemoryBytes: number;
  /** 0 when unlimited. */
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  keys: number;
  expiringKeys: number;
  opsPerSec: number;
  connectedClients: number;
  evictedKeys: number;
  expiredKeys: number;
  role: 'master' | 'replica' | 'none';
  /** The `notify-keyspace-events` setting, when known. */
  keyspaceEvents: string;
  /** Backend-specific raw fields. */
  raw: Record<string, string>;
}

/**
 * The data commands: a typed, promise-returning subset of Redis. Every
 * higher redbrick package is written against these, once.
 * Semantics follow Redis exactly (WRONGTYPE, TTL rules, empty collections vanish).
 */
export interface DataCommands {
  // keys
  get(key: string): Promise<string | null>;
  /** SET. Returns true when written, false when NX/XX prevented it. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** SET … GET: writes like `set` and returns the previous value (null if none). */
  setGet(key: string, value: string, options?: SetOptions): Promise<string | null>;
  /** Deletes keys, returns how many existed. */
  del(...keys: string[]): Promise<number>;
  /** How many of the keys exist (a key given twice counts twice). */
  exists(...keys: string[]): Promise<number>;
  /** Sets a TTL in ms. `0` or negative deletes the key. Returns false when the key does not exist. */
  pexpire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining TTL in ms: -1 when the key has none, -2 when it does not exist. */
  pttl(key: string): Promise<number>;
  /** Removes the TTL. True when a TTL was removed. */
  persist(key: string): Promise<boolean>;
  type(key: string): Promise<KeyType>;

  // strings
  mget(...keys: string[]): Promise<Array<string | null>>;
  /** Sets all pairs; with `ttlMs` every key gets that TTL (in one round trip). */
  mset(
    entries: Record<string, string> | Array<[string, string]>,
    options?: { ttlMs?: number },
  ): Promise<void>;
  incrBy(key: string, by: number): Promise<number>;
  /** Returns the new value (parsed from Redis' string reply). */
  incrByFloat(key: string, by: number): Promise<number>;

  // hashes
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  /** Sets fields, returns how many were new. */
  hset(key: string, fields: Record<string, string>): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, ...fields: string[]): Promise<number>;
  hincrBy(key: string, field: string, by: number): Promise<number>;
  hincrByFloat(key: string, field: string, by: number): Promise<number>;
  hexists(key: string, field: string): Promise<boolean>;
  hlen(key: string): Promise<number>;

  // lists
  rpush(key: string, ...values: string[]): Promise<number>;
  lpush(key: string, ...values: string[]): Promise<number>;
  /** Inclusive range; negative indexes count from the end. */
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  lindex(key: string, index: number): Promise<string | null>;
  llen(key: string): Promise<number>;
  ltrim(key: string, start: number, stop: number): Promise<void>;
  lpop(key: string): Promise<string | null>;
  rpop(key: string): Promise<string | null>;

  // sets
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  smembers(key: string): Promise<string[]>;
  sismember(key: string, member: string): Promise<boolean>;
  scard(key: string): Promise<number>;

  // sorted sets
  /** Adds or updates members; returns how many were added (not updated). */
  zadd(key: string, members: ZMember[] | ZMember, options?: ZAddOptions): Promise<number>;
  zrem(key: string, ...members: string[]): Promise<number>;
  zscore(key: string, member: string): Promise<number | null>;
  zcard(key: string): Promise<number>;
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
  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number>;

  // streams
  /** Appends an entry; returns its id, or null with `noMkStream` on a missing stream. */
  xadd(key: string, fields: Record<string, string>, options?: XAddOptions): Promise<string | null>;
  /** Entries from `start` to `end` inclusive (`-`/`+` for the ends). */
  xrange(key: string, start?: string, end?: string, count?: number): Promise<StreamEntry[]>;
  xdel(key: string, ...ids: string[]): Promise<number>;
  xlen(key: string): Promise<number>;
  xtrim(key: string, options: XTrimOptions): Promise<number>;
  /** Creates a consumer group; false when it already exists. `id` defaults to `$`. */
  xgroupCreate(
    key: string,
    group: string,
    options?: { id?: string; mkStream?: boolean },
  ): Promise<boolean>;
  xreadgroup(
    key: string,
    group: string,
    consumer: string,
    options?: XReadGroupOptions,
  ): Promise<StreamEntry[]>;
  xack(key: string, group: string, ...ids: string[]): Promise<number>;
  xautoclaim(
    key: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    start?: string,
    options?: { count?: number },
  ): Promise<XAutoClaimResult>;
  xpending(key: string, group: string): Promise<XPendingSummary>;
  xpendingRange(
    key: string,
    group: string,
    options?: XPendingRangeOptions,
  ): Promise<XPendingEntry[]>;

  // pub/sub
  /** Returns how many subscribers received the message. */
  publish(channel: string, message: string): Promise<number>;
}

/** A command queued in a {@link Pipeline}. */
export type PipelineCommand = {
  [K in keyof DataCommands]: { command: K; args: Parameters<DataCommands[K]> };
}[keyof DataCommands];

/** The outcome of one pipelined command: a value, or the error it failed with. */
export type PipelineResult = { ok: true; value: unknown } | { ok: false; error: Error };

/**
 * Several commands sent in one round trip. Not atomic (use a Script for
 * that). On Redis Cluster, commands are grouped per node.
 */
export interface Pipeline {
  add<K extends keyof DataCommands>(command: K, ...args: Parameters<DataCommands[K]>): Pipeline;
  /** Number of queued commands. */
  readonly length: number;
  /** Runs the queued commands; results in order. A failed command does not stop the others. */
  exec(): Promise<PipelineResult[]>;
}

/**
 * The one abstraction: a Redis data model that the memory backend, one
 * Redis server, Redis Cluster and Sentinel all implement.
 */
export interface Backend extends DataCommands, AsyncDisposable {
  /** `'memory'`, `'redis'`, `'redis-cluster'`, `'redis-sentinel'`, `'shared-memory'`, … */
  readonly kind: string;
  /** The prefix every key of this view carries (`''` at the root). */
  readonly prefix: string;
  /** Default TTL in ms for services that take one (from config / `REDIS_DEFAULT_TTL`), if set. */
  readonly defaultTtlMs?: number | undefined;

  /** Iterates keys with SCAN (never KEYS). Keys that exist for the whole scan are returned at least once. */
  scan(options?: ScanOptions): AsyncIterable<string>;

  subscribe(channel: string, listener: MessageListener): Promise<Subscription>;
  psubscribe(pattern: string, listener: PatternListener): Promise<Subscription>;
  /** Called with the key (without this view's prefix) whenever a key expires. */
  onExpired(listener: ExpiredListener): Promise<Subscription>;
  /** Told when the connection goes down and comes back. Returns an unsubscribe function. */
  onConnectionChange(listener: ConnectionListener): () => void;

  /** Runs a script atomically: its `lua` body on Redis, its `local` body in memory. */
  run<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): Promise<R>;

  pipeline(): Pipeline;

  /**
   * Waits until `replicas` replicas have acknowledged every write this
   * client sent before the call (Redis `WAIT`), or `timeoutMs` passes, and
   * returns how many did. `key` picks the node: on a Cluster, the primary
   * serving its slot (where a write to `key` went). The memory backend has
   * no replicas and returns 0 at once. Use it after a write that must
   * survive a failover (e.g. a lock); it does not make Redis replication
   * synchronous, it only says how far it got.
   */
  waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number>;

  /** Round-trip latency in ms. */
  ping(): Promise<number>;
  info(): Promise<BackendInfo>;
  /** Server time in ms since the epoch (fractional). */
  time(): Promise<number>;
  /** True while commands can be sent. */
  readonly isConnected: boolean;

  /**
   * A view whose every key, scan pattern, script key and channel is
   * prefixed with `prefix` (escaped, followed by `:`). Scan results and
   * expiry events come back without it. `{` and `}` are not allowed.
   */
  scoped(prefix: string): Backend;

  /** Closes connections and timers. Idempotent. Closing a scoped view closes nothing. */
  close(): Promise<void>;
}
