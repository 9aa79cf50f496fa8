import { createRequire } from 'node:module';
import {
  assertInteger,
  assertKey,
  type Backend,
  type BackendInfo,
  ClosedError,
  ConfigError,
  type ConnectionListener,
  checkScriptCall,
  type DataCommands,
  describe,
  type ExpiredListener,
  isRedbrickError,
  type KeyType,
  type MessageListener,
  normalizeReply,
  type PatternListener,
  type Pipeline,
  type PipelineResult,
  RUN_NOW,
  type ScanOptions,
  type ScoreBound,
  type Script,
  ScriptError,
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
import { Commands } from './commands.js';
import { PKG } from './errors.js';
import { Keyspace } from './keyspace.js';
import { type MemoryBackendOptions, resolveOptions } from './options.js';
import { MemoryPipeline } from './pipeline.js';
import { PubSub } from './pubsub.js';
import { scanKeys } from './scan.js';

/** An XREADGROUP waiting for entries (BLOCK). */
interface BlockedRead {
  readonly key: string;
  readonly group: string;
  readonly consumer: string;
  readonly options: XReadGroupOptions;
  readonly resolve: (entries: StreamEntry[]) => void;
  readonly reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

let packageVersion: string | undefined;
function version(): string {
  if (packageVersion === undefined) {
    try {
      const pkg = createRequire(import.meta.url)('../package.json') as { version?: unknown };
      packageVersion = typeof pkg.version === 'string' ? pkg.version : 'memory';
    } catch {
      packageVersion = 'memory';
    }
  }
  return packageVersion;
}

function checkListener(listener: unknown): void {
  if (typeof listener !== 'function') {
    throw new ValidationError(`${PKG} listener must be a function, got ${describe(listener)}`, {
      field: 'listener',
    });
  }
}

function checkTopic(name: unknown, field: 'channel' | 'pattern'): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(`${PKG} ${field} must be a non-empty string, got ${describe(name)}`, {
      field,
    });
  }
}

/**
 * The in-process Backend: a small Redis with Redis 7.0 semantics — the
 * zero-infrastructure default. Every command runs synchronously on the
 * data; the async methods are thin wrappers, and a script's `local` body
 * gets the same commands without the promises (atomic because nothing
 * awaits). Data lives in this process only.
 */
export class MemoryBackend implements Backend {
  /** Always `'memory'`. */
  readonly kind = 'memory';
  /** The root has no prefix; see {@link MemoryBackend.scoped}. */
  readonly prefix = '';
  /** Default TTL in ms for services that take one, from the options. */
  readonly defaultTtlMs: number | undefined;

  readonly #keyspace: Keyspace;
  readonly #pubsub = new PubSub();
  readonly #commands: Commands;
  readonly #waiters = new Map<string, Set<BlockedRead>>();
  readonly #wakeScheduled = new Set<string>();
  readonly #connectionListeners = new Set<ConnectionListener>();
  readonly #createdAt = performance.now();
  #closed = false;
  #ops = 0;
  #sample = { at: performance.now(), ops: 0 };

  /** Prefer {@link createMemoryBackend}, which also applies `keyPrefix`. */
  constructor(options?: Omit<MemoryBackendOptions, 'keyPrefix'>) {
    const resolved = resolveOptions(options);
    if (resolved.keyPrefix !== undefined) {
      throw new ConfigError(
        `${PKG} keyPrefix is applied by createMemoryBackend({ keyPrefix }) (or use backend.scoped(prefix)), not by the MemoryBackend constructor`,
        { field: 'keyPrefix' },
      );
    }
    this.defaultTtlMs = resolved.defaultTtlMs;
    this.#keyspace = new Keyspace({
      clock: resolved.clock,
      maxKeys: resolved.maxKeys,
      maxMemoryBytes: resolved.maxMemoryBytes,
      policy: resolved.evictionPolicy,
      activeExpiry: resolved.activeExpiry,
      onExpired: (key) => this.#pubsub.expired(key),
    });
    this.#commands = new Commands(this.#keyspace, this.#pubsub, {
      streamAdded: (key) => this.#streamAdded(key),
    });
  }

  /** The commands, or ClosedError once closed. */
  #open(): Commands {
    if (this.#closed) throw new ClosedError(`${PKG} the backend is closed`);
    this.#ops++;
    return this.#commands;
  }

  readonly #checkOpen = (): void => {
    if (this.#closed) throw new ClosedError(`${PKG} the backend is closed`);
  };

  /** True until `close()`. */
  get isConnected(): boolean {
    return !this.#closed;
  }

  // ---------------------------------------------------------------- keys

  async get(key: string): Promise<string | null> {
    return this.#open().get(key);
  }
  async set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    return this.#open().set(key, value, options);
  }
  async setGet(key: string, value: string, options?: SetOptions): Promise<string | null> {
    return this.#open().setGet(key, value, options);
  }
  async del(...keys: string[]): Promise<number> {
    return this.#open().del(...keys);
  }
  async exists(...keys: string[]): Promise<number> {
    return this.#open().exists(...keys);
  }
  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    return this.#open().pexpire(key, ttlMs);
  }
  async pttl(key: string): Promise<number> {
    return this.#open().pttl(key);
  }
  async persist(key: string): Promise<boolean> {
    return this.#open().persist(key);
  }
  async type(key: string): Promise<KeyType> {
    return this.#open().type(key);
  }

  // ------------------------------------------------------------- strings

  async mget(...keys: string[]): Promise<Array<string | null>> {
    return this.#open().mget(...keys);
  }
  async mset(
    entries: Record<string, string> | Array<[string, string]>,
    options?: { ttlMs?: number },
  ): Promise<void> {
    this.#open().mset(entries, options);
  }
  async incrBy(key: string, by: number): Promise<number> {
    return this.#open().incrBy(key, by);
  }
  async incrByFloat(key: string, by: number): Promise<number> {
    return this.#open().incrByFloat(key, by);
  }

  // -------------------------------------------------------------- hashes

  async hget(key: string, field: string): Promise<string | null> {
    return this.#open().hget(key, field);
  }
  async hmget(key: string, ...fields: string[]): Promise<Array<string | null>> {
    return this.#open().hmget(key, ...fields);
  }
  async hset(key: string, fields: Record<string, string>): Promise<number> {
    return this.#open().hset(key, fields);
  }
  async hgetall(key: string): Promise<Record<string, string>> {
    return this.#open().hgetall(key);
  }
  async hdel(key: string, ...fields: string[]): Promise<number> {
    return this.#open().hdel(key, ...fields);
  }
  async hincrBy(key: string, field: string, by: number): Promise<number> {
    return this.#open().hincrBy(key, field, by);
  }
  async hincrByFloat(key: string, field: string, by: number): Promise<number> {
    return this.#open().hincrByFloat(key, field, by);
  }
  async hexists(key: string, field: string): Promise<boolean> {
    return this.#open().hexists(key, field);
  }
  async hlen(key: string): Promise<number> {
    return this.#open().hlen(key);
  }

  // --------------------------------------------------------------- lists

  async rpush(key: string, ...values: string[]): Promise<number> {
    return this.#open().rpush(key, ...values);
  }
  async lpush(key: string, ...values: string[]): Promise<number> {
    return this.#open().lpush(key, ...values);
  }
  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#open().lrange(key, start, stop);
  }
  async lindex(key: string, index: number): Promise<string | null> {
    return this.#open().lindex(key, index);
  }
  async llen(key: string): Promise<number> {
    return this.#open().llen(key);
  }
  async ltrim(key: string, start: number, stop: number): Promise<void> {
    this.#open().ltrim(key, start, stop);
  }
  async lpop(key: string): Promise<string | null> {
    return this.#open().lpop(key);
  }
  async rpop(key: string): Promise<string | null> {
    return this.#open().rpop(key);
  }

  // ---------------------------------------------------------------- sets

  async sadd(key: string, ...members: string[]): Promise<number> {
    return this.#open().sadd(key, ...members);
  }
  async srem(key: string, ...members: string[]): Promise<number> {
    return this.#open().srem(key, ...members);
  }
  async smembers(key: string): Promise<string[]> {
    return this.#open().smembers(key);
  }
  async sismember(key: string, member: string): Promise<boolean> {
    return this.#open().sismember(key, member);
  }
  async scard(key: string): Promise<number> {
    return this.#open().scard(key);
  }

  // --------------------------------------------------------- sorted sets

  async zadd(key: string, members: ZMember[] | ZMember, options?: ZAddOptions): Promise<number> {
    return this.#open().zadd(key, members, options);
  }
  async zrem(key: string, ...members: string[]): Promise<number> {
    return this.#open().zrem(key, ...members);
  }
  async zscore(key: string, member: string): Promise<number | null> {
    return this.#open().zscore(key, member);
  }
  async zcard(key: string): Promise<number> {
    return this.#open().zcard(key);
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
  async zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): Promise<string[] | ZMember[]> {
    return this.#open().zrangeByScore(
      key,
      min,
      max,
      options as ZRangeByScoreOptions & { withScores?: false },
    );
  }
  async zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.#open().zremRangeByScore(key, min, max);
  }

  // ------------------------------------------------------------- streams

  async xadd(
    key: string,
    fields: Record<string, string>,
    options?: XAddOptions,
  ): Promise<string | null> {
    return this.#open().xadd(key, fields, options);
  }
  async xrange(key: string, start?: string, end?: string, count?: number): Promise<StreamEntry[]> {
    return this.#open().xrange(key, start, end, count);
  }
  async xdel(key: string, ...ids: string[]): Promise<number> {
    return this.#open().xdel(key, ...ids);
  }
  async xlen(key: string): Promise<number> {
    return this.#open().xlen(key);
  }
  async xtrim(key: string, options: XTrimOptions): Promise<number> {
    return this.#open().xtrim(key, options);
  }
  async xgroupCreate(
    key: string,
    group: string,
    options?: { id?: string; mkStream?: boolean },
  ): Promise<boolean> {
    return this.#open().xgroupCreate(key, group, options);
  }

  /**
   * XREADGROUP. With `blockMs` and `id: '>'`, waits up to `blockMs` for an
   * XADD to the stream when nothing is available, then returns `[]`.
   */
  async xreadgroup(
    key: string,
    group: string,
    consumer: string,
    options?: XReadGroupOptions,
  ): Promise<StreamEntry[]> {
    const entries = this.#open().xreadgroup(key, group, consumer, options);
    const blockMs = options?.blockMs ?? 0;
    if (entries.length > 0 || blockMs <= 0 || (options?.id !== undefined && options.id !== '>')) {
      return entries;
    }
    return new Promise<StreamEntry[]>((resolve, reject) => {
      const read: BlockedRead = {
        key,
        group,
        consumer,
        options: options ?? {},
        resolve,
        reject,
        timer: undefined,
      };
      read.timer = setTimeout(() => {
        this.#unblock(read);
        resolve([]);
      }, blockMs);
      let waiting = this.#waiters.get(key);
      if (waiting === undefined) {
        waiting = new Set();
        this.#waiters.set(key, waiting);
      }
      waiting.add(read);
    });
  }

  #unblock(read: BlockedRead): void {
    if (read.timer !== undefined) clearTimeout(read.timer);
    read.timer = undefined;
    const waiting = this.#waiters.get(read.key);
    if (waiting === undefined) return;
    waiting.delete(read);
    if (waiting.size === 0) this.#waiters.delete(read.key);
  }

  /**
   * Serves blocked readers of `key`, first come first served, after the
   * current command or script finishes (never inside it).
   */
  #streamAdded(key: string): void {
    if (!this.#waiters.has(key) || this.#wakeScheduled.has(key)) return;
    this.#wakeScheduled.add(key);
    queueMicrotask(() => {
      this.#wakeScheduled.delete(key);
      const waiting = this.#waiters.get(key);
      if (waiting === undefined || this.#closed) return;
      for (const read of waiting) {
        let entries: StreamEntry[];
        try {
          entries = this.#commands.xreadgroup(read.key, read.group, read.consumer, read.options);
        } catch (error) {
          this.#unblock(read);
          read.reject(error);
          continue;
        }
        if (entries.length === 0) continue;
        this.#unblock(read);
        read.resolve(entries);
      }
    });
  }

  async xack(key: string, group: string, ...ids: string[]): Promise<number> {
    return this.#open().xack(key, group, ...ids);
  }
  async xautoclaim(
    key: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    start?: string,
    options?: { count?: number },
  ): Promise<XAutoClaimResult> {
    return this.#open().xautoclaim(key, group, consumer, minIdleMs, start, options);
  }
  async xpending(key: string, group: string): Promise<XPendingSummary> {
    return this.#open().xpending(key, group);
  }
  async xpendingRange(
    key: string,
    group: string,
    options?: XPendingRangeOptions,
  ): Promise<XPendingEntry[]> {
    return this.#open().xpendingRange(key, group, options);
  }

  // ------------------------------------------------------------- pub/sub

  /** Returns how many subscriptions (each subscribe/psubscribe call counts once) will get the message. */
  async publish(channel: string, message: string): Promise<number> {
    return this.#open().publish(channel, message);
  }

  async subscribe(channel: string, listener: MessageListener): Promise<Subscription> {
    this.#open();
    checkTopic(channel, 'channel');
    checkListener(listener);
    return this.#pubsub.subscribe(channel, listener);
  }

  async psubscribe(pattern: string, listener: PatternListener): Promise<Subscription> {
    this.#open();
    checkTopic(pattern, 'pattern');
    checkListener(listener);
    return this.#pubsub.psubscribe(pattern, listener);
  }

  /** Expired keys, lazily (on access) or actively (on the expiry timer); not DEL, not eviction. */
  async onExpired(listener: ExpiredListener): Promise<Subscription> {
    this.#open();
    checkListener(listener);
    return this.#pubsub.onExpired(listener);
  }

  /** The memory backend is always `ready`; the listener hears only `closed`, once, on `close()`. */
  onConnectionChange(listener: ConnectionListener): () => void {
    checkListener(listener);
    if (this.#closed) return () => undefined;
    this.#connectionListeners.add(listener);
    return () => {
      this.#connectionListeners.delete(listener);
    };
  }

  // -------------------------------------------------------- keys (scan)

  scan(options?: ScanOptions): AsyncIterable<string> {
    return scanKeys(this.#keyspace, options, this.#checkOpen);
  }

  // ------------------------------------------------------------- scripts

  /**
   * Runs the script's `local` body on the synchronous commands, atomically.
   * Its reply is normalised like Redis converts a Lua value, then decoded.
   * A WRONGTYPE inside the body stays a `WrongTypeError` (Redis replies with
   * the WRONGTYPE error too); any other exception becomes a `ScriptError`
   * with the original as `cause`.
   */
  async run<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): Promise<R> {
    return this[RUN_NOW](script, keys, args);
  }

  /**
   * `run` without the promise: returns the decoded reply or throws what
   * `run` would reject with. Core's {@link RUN_NOW} capability, for the hot
   * paths of services running in this process.
   */
  [RUN_NOW]<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): R {
    const commands = this.#open();
    checkScriptCall(script, keys);
    const argv = scriptArgs(args, script.name);
    let reply: ReturnType<typeof normalizeReply>;
    // time stands still while a script runs, as in Redis: one clock read for the whole body
    const froze = this.#keyspace.freeze();
    try {
      const raw = script.local(commands, keys.slice(), argv);
      if (typeof (raw as { then?: unknown } | null)?.then === 'function') {
        throw new TypeError('the local body returned a promise; it must be synchronous');
      }
      reply = normalizeReply(raw);
    } catch (error) {
      if (isRedbrickError(error, 'WRONGTYPE')) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new ScriptError(script.name, `${PKG} script "${script.name}" failed: ${message}`, {
        cause: error,
      });
    } finally {
      if (froze) this.#keyspace.thaw();
    }
    return script.decode(reply);
  }

  // ------------------------------------------------------------ pipeline

  pipeline(): Pipeline {
    return new MemoryPipeline((queue) => this.#exec(queue));
  }

  async #exec(
    queue: ReadonlyArray<{ command: keyof DataCommands; args: unknown[] }>,
  ): Promise<PipelineResult[]> {
    const commands = this.#open();
    const results = new Array<PipelineResult>(queue.length);
    for (let i = 0; i < queue.length; i++) {
      const { command, args } = queue[i] as { command: keyof DataCommands; args: unknown[] };
      try {
        if (this.#closed) throw new ClosedError(`${PKG} the backend is closed`);
        this.#ops++;
        const blocking =
          command === 'xreadgroup' &&
          ((args[3] as XReadGroupOptions | undefined)?.blockMs ?? 0) > 0;
        const value = blocking
          ? await (this.xreadgroup as (...a: unknown[]) => Promise<unknown>).apply(this, args)
          : (commands[command] as (...a: unknown[]) => unknown).apply(commands, args);
        results[i] = { ok: true, value };
      } catch (error) {
        results[i] = {
          ok: false,
          error: error instanceof Error ? error : new Error(String(error)),
        };
      }
    }
    return results;
  }

  // --------------------------------------------------------------- admin

  /** There are no replicas in process: validates the call and returns 0 at once. */
  async waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    this.#open();
    assertKey(key, 'key', 'memory-backend');
    assertInteger(replicas, 'replicas', { min: 0, pkg: 'memory-backend' });
    assertInteger(timeoutMs, 'timeoutMs', { min: 1, pkg: 'memory-backend' });
    return 0;
  }

  /** Round trip in ms: the cost of one turn through a resolved promise, about 0. */
  async ping(): Promise<number> {
    this.#open();
    const start = performance.now();
    await Promise.resolve();
    return performance.now() - start;
  }

  async info(): Promise<BackendInfo> {
    this.#open();
    const ks = this.#keyspace;
    const now = performance.now();
    const seconds = (now - this.#sample.at) / 1000;
    const opsPerSec = seconds > 0 ? Math.round((this.#ops - this.#sample.ops) / seconds) : 0;
    this.#sample = { at: now, ops: this.#ops };
    return {
      backend: 'memory',
      serverVersion: version(),
      usedMemoryBytes: ks.usedBytes,
      maxMemoryBytes: ks.maxMemoryBytes,
      maxMemoryPolicy: ks.policy,
      keys: ks.map.size,
      expiringKeys: ks.expiringKeys,
      opsPerSec,
      connectedClients: 1,
      evictedKeys: ks.evictedKeys,
      expiredKeys: ks.expiredKeys,
      role: 'master',
      keyspaceEvents: 'Ex',
      raw: {
        uptime_in_ms: String(Math.round(now - this.#createdAt)),
        total_commands_processed: String(this.#ops),
        max_keys: String(ks.maxKeys),
      },
    };
  }

  /** The backend clock in ms since the epoch (what scripts see as `TIME`). */
  async time(): Promise<number> {
    return this.#open().time();
  }

  /**
   * Removes every key whose TTL has passed and fires their expiry events
   * now; returns how many. The expiry timer does this on its own — call it
   * after moving a fake `clock` forward.
   */
  purgeExpired(): number {
    this.#checkOpen();
    return this.#keyspace.purgeExpired();
  }

  /** A view whose keys, patterns, script keys and channels all carry `prefix` (core's `scopedView`). */
  scoped(prefix: string): Backend {
    return scopedView(this, prefix);
  }

  /** Drops all data, stops the expiry timer, ends subscriptions and blocked reads. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new ClosedError(`${PKG} the backend is closed`);
    for (const waiting of [...this.#waiters.values()]) {
      for (const read of waiting) {
        this.#unblock(read);
        read.reject(closed);
      }
    }
    this.#waiters.clear();
    this.#pubsub.close();
    this.#keyspace.clear();
    const listeners = [...this.#connectionListeners];
    this.#connectionListeners.clear();
    for (const listener of listeners) {
      try {
        listener('closed');
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the in-process backend. Synchronous: ready to use at once.
 * Accepts core's parsed memory config as is (`{ type: 'memory', … }`).
 * With `keyPrefix` the result is a prefixed view (like `scoped()`) whose
 * `close()` closes the backend.
 *
 * @example
 * const backend = createMemoryBackend({ maxKeys: 10_000 });
 * await backend.set('greeting', 'hello', { ttlMs: 60_000 });
 */
export function createMemoryBackend(
  options?: MemoryBackendOptions & { keyPrefix?: undefined },
): MemoryBackend;
export function createMemoryBackend(options?: MemoryBackendOptions): Backend;
export function createMemoryBackend(options?: MemoryBackendOptions): Backend {
  const resolved = resolveOptions(options);
  if (resolved.keyPrefix === undefined) return new MemoryBackend(options);
  const { keyPrefix, ...rest } = options ?? {};
  const root = new MemoryBackend(rest);
  const view = scopedView(root, resolved.keyPrefix);
  const close = (): Promise<void> => root.close();
  Object.defineProperty(view, 'close', { value: close, configurable: true, writable: true });
  Object.defineProperty(view, Symbol.asyncDispose, {
    value: close,
    configurable: true,
    writable: true,
  });
  return view;
}
