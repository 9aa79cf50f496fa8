import { randomBytes } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import {
  assertInteger,
  type Backend,
  type BackendInfo,
  BackendUnavailableError,
  ClosedError,
  ConfigError,
  type ConnectionListener,
  type ConnectionState,
  checkScriptCall,
  type DataCommands,
  describe,
  type ExpiredListener,
  type MessageListener,
  type PatternListener,
  type Pipeline,
  type PipelineResult,
  type ScanOptions,
  type Script,
  type ScriptReply,
  type Subscription,
  scopedView,
  scriptArgs,
  ValidationError,
  type XReadGroupOptions,
} from '@redbrick/core';
import { PKG } from '../errors.js';
import { MemoryPipeline } from '../pipeline.js';
import { type Link, link, type SharedMemoryChannel } from './channel.js';
import { fromWire, Outbox, type Reply, type Request, unpack } from './protocol.js';

/** Options of {@link createSharedMemoryBackend}; core's `{ type: 'shared-memory' }` config is accepted as is. */
export interface SharedMemoryBackendOptions {
  /** `'shared-memory'` when it comes from core's `createBackend`; optional here. */
  type?: 'shared-memory';
  /**
   * A call that gets no answer from the host within this many ms fails
   * with `BackendUnavailableError` (a blocking `xreadgroup` gets its
   * `blockMs` on top).
   * @default 2000
   */
  commandTimeoutMs?: number;
  /** Every key, pattern, script key and channel carries this prefix (like `scoped(prefix)`). */
  keyPrefix?: string;
  /** Default TTL in ms for services that take one. */
  defaultTtlMs?: number;
  /**
   * The channel to the host. By default `process` in a `node:cluster`
   * worker or forked child (it must have an IPC channel), else
   * `worker_threads`' `parentPort` in a worker thread.
   */
  channel?: SharedMemoryChannel;
}

type Pending = {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** `performance.now()` after which the call fails. */
  deadline: number;
  /** What the call waited for, in ms (for the error message). */
  waitMs: number;
};

type Listener =
  | { kind: 'channel'; listener: MessageListener }
  | { kind: 'pattern'; listener: PatternListener }
  | { kind: 'expired'; listener: ExpiredListener };

const DEFAULT_TIMEOUT_MS = 2000;

function defaultChannel(): SharedMemoryChannel {
  if (typeof process.send === 'function') return process as unknown as SharedMemoryChannel;
  if (parentPort) return parentPort as unknown as SharedMemoryChannel;
  throw new ConfigError(
    `${PKG} the shared-memory backend needs a channel to its host: run it in a node:cluster worker, a forked child process or a worker thread, or pass { channel }`,
    { field: 'channel' },
  );
}

function checkListener(listener: unknown): void {
  if (typeof listener !== 'function') {
    throw new ValidationError(`${PKG} listener must be a function, got ${describe(listener)}`, {
      field: 'listener',
    });
  }
}

/**
 * The worker side of the shared-memory backend: a `Backend` whose every
 * call is forwarded to the host over IPC and answered there.
 */
class SharedMemoryClient implements Backend {
  readonly kind = 'shared-memory';
  readonly prefix = '';
  readonly defaultTtlMs: number | undefined;

  readonly #id = randomBytes(6).toString('hex');
  readonly #link: Link;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<number, Listener>();
  readonly #connectionListeners = new Set<ConnectionListener>();
  readonly #stop: () => void;
  readonly #outbox: Outbox;
  readonly #receiveOne = (reply: Reply): void => {
    if (reply.c === this.#id) this.#receive(reply);
  };
  readonly #sweeper: ReturnType<typeof setInterval>;
  /** Scripts the host has accepted (name → SHA1): later calls send the name only. */
  readonly #verified = new Map<string, string>();
  #next = 1;
  #closed = false;
  #down = false;

  constructor(channel: SharedMemoryChannel, timeoutMs: number, defaultTtlMs: number | undefined) {
    this.#link = link(channel, 'channel');
    this.#sweeper = setInterval(this.#sweep, Math.max(10, Math.min(250, timeoutMs / 4)));
    this.#sweeper.unref();
    this.#timeoutMs = timeoutMs;
    this.defaultTtlMs = defaultTtlMs;
    this.#outbox = new Outbox((envelope) => {
      if (this.#link.send(envelope)) return true;
      this.#lost();
      return false;
    });
    this.#stop = this.#link.listen(
      (raw) => unpack(raw, this.#receiveOne),
      () => this.#lost(),
    );
  }

  #receive(reply: Reply): void {
    if (reply.t === 'msg') {
      const entry = this.#listeners.get(reply.s);
      if (entry?.kind === 'channel') entry.listener(reply.m, reply.ch);
      else if (entry?.kind === 'pattern') entry.listener(reply.m, reply.ch, reply.p ?? '');
      return;
    }
    if (reply.t === 'exp') {
      const entry = this.#listeners.get(reply.s);
      if (entry?.kind === 'expired') entry.listener(reply.k);
      return;
    }
    const pending = this.#pending.get(reply.i);
    if (!pending) return;
    this.#pending.delete(reply.i);
    if (reply.t === 'err') pending.reject(fromWire(reply.e));
    else if (reply.t === 'ok') pending.resolve(reply.v);
    else {
      const results: PipelineResult[] = reply.r.map((r) =>
        r.ok ? { ok: true, value: r.v } : { ok: false, error: fromWire(r.e) },
      );
      pending.resolve(results);
    }
  }

  /** The host went away (the channel closed): every call fails from now on. */
  #lost(): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    const error = new BackendUnavailableError(
      `${PKG} the shared-memory host is gone (the IPC channel closed)`,
    );
    for (const pending of this.#pending.values()) {
      pending.reject(error);
    }
    this.#pending.clear();
    this.#emit('down');
  }

  #emit(state: ConnectionState): void {
    for (const listener of [...this.#connectionListeners]) {
      try {
        listener(state);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Sends one request and waits for its answer (at most the timeout plus `extraMs`). */
  #request(build: (i: number) => Request, extraMs = 0): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ClosedError(`${PKG} the backend is closed`));
    if (this.#down) {
      return Promise.reject(
        new BackendUnavailableError(
          `${PKG} the shared-memory host is gone (the IPC channel closed)`,
        ),
      );
    }
    const i = this.#next++;
    const waitMs = this.#timeoutMs + extraMs;
    return new Promise((resolve, reject) => {
      this.#pending.set(i, { resolve, reject, deadline: performance.now() + waitMs, waitMs });
      this.#outbox.push(build(i));
    });
  }

  /**
   * Fails the calls past their deadline. One sweep timer instead of a timer
   * per call: a call fails between `commandTimeoutMs` and a quarter more.
   */
  readonly #sweep = (): void => {
    const now = performance.now();
    for (const [i, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(i);
      pending.reject(
        new BackendUnavailableError(
          `${PKG} the shared-memory host did not answer within ${pending.waitMs} ms (commandTimeoutMs)`,
        ),
      );
    }
  };

  #call(method: string, args: unknown[], extraMs = 0): Promise<never> {
    return this.#request(
      (i) => ({ t: 'call', c: this.#id, i, m: method, a: args }),
      extraMs,
    ) as Promise<never>;
  }

  get isConnected(): boolean {
    return !this.#closed && !this.#down;
  }

  // Every data command is forwarded as is; the host validates and answers.
  get(...a: Parameters<DataCommands['get']>) {
    return this.#call('get', a) as ReturnType<DataCommands['get']>;
  }
  set(...a: Parameters<DataCommands['set']>) {
    return this.#call('set', a) as ReturnType<DataCommands['set']>;
  }
  setGet(...a: Parameters<DataCommands['setGet']>) {
    return this.#call('setGet', a) as ReturnType<DataCommands['setGet']>;
  }
  del(...a: Parameters<DataCommands['del']>) {
    return this.#call('del', a) as ReturnType<DataCommands['del']>;
  }
  exists(...a: Parameters<DataCommands['exists']>) {
    return this.#call('exists', a) as ReturnType<DataCommands['exists']>;
  }
  pexpire(...a: Parameters<DataCommands['pexpire']>) {
    return this.#call('pexpire', a) as ReturnType<DataCommands['pexpire']>;
  }
  pttl(...a: Parameters<DataCommands['pttl']>) {
    return this.#call('pttl', a) as ReturnType<DataCommands['pttl']>;
  }
  persist(...a: Parameters<DataCommands['persist']>) {
    return this.#call('persist', a) as ReturnType<DataCommands['persist']>;
  }
  type(...a: Parameters<DataCommands['type']>) {
    return this.#call('type', a) as ReturnType<DataCommands['type']>;
  }
  mget(...a: Parameters<DataCommands['mget']>) {
    return this.#call('mget', a) as ReturnType<DataCommands['mget']>;
  }
  mset(...a: Parameters<DataCommands['mset']>) {
    return this.#call('mset', a) as ReturnType<DataCommands['mset']>;
  }
  incrBy(...a: Parameters<DataCommands['incrBy']>) {
    return this.#call('incrBy', a) as ReturnType<DataCommands['incrBy']>;
  }
  incrByFloat(...a: Parameters<DataCommands['incrByFloat']>) {
    return this.#call('incrByFloat', a) as ReturnType<DataCommands['incrByFloat']>;
  }
  hget(...a: Parameters<DataCommands['hget']>) {
    return this.#call('hget', a) as ReturnType<DataCommands['hget']>;
  }
  hmget(...a: Parameters<DataCommands['hmget']>) {
    return this.#call('hmget', a) as ReturnType<DataCommands['hmget']>;
  }
  hset(...a: Parameters<DataCommands['hset']>) {
    return this.#call('hset', a) as ReturnType<DataCommands['hset']>;
  }
  hgetall(...a: Parameters<DataCommands['hgetall']>) {
    return this.#call('hgetall', a) as ReturnType<DataCommands['hgetall']>;
  }
  hdel(...a: Parameters<DataCommands['hdel']>) {
    return this.#call('hdel', a) as ReturnType<DataCommands['hdel']>;
  }
  hincrBy(...a: Parameters<DataCommands['hincrBy']>) {
    return this.#call('hincrBy', a) as ReturnType<DataCommands['hincrBy']>;
  }
  hincrByFloat(...a: Parameters<DataCommands['hincrByFloat']>) {
    return this.#call('hincrByFloat', a) as ReturnType<DataCommands['hincrByFloat']>;
  }
  hexists(...a: Parameters<DataCommands['hexists']>) {
    return this.#call('hexists', a) as ReturnType<DataCommands['hexists']>;
  }
  hlen(...a: Parameters<DataCommands['hlen']>) {
    return this.#call('hlen', a) as ReturnType<DataCommands['hlen']>;
  }
  rpush(...a: Parameters<DataCommands['rpush']>) {
    return this.#call('rpush', a) as ReturnType<DataCommands['rpush']>;
  }
  lpush(...a: Parameters<DataCommands['lpush']>) {
    return this.#call('lpush', a) as ReturnType<DataCommands['lpush']>;
  }
  lrange(...a: Parameters<DataCommands['lrange']>) {
    return this.#call('lrange', a) as ReturnType<DataCommands['lrange']>;
  }
  lindex(...a: Parameters<DataCommands['lindex']>) {
    return this.#call('lindex', a) as ReturnType<DataCommands['lindex']>;
  }
  llen(...a: Parameters<DataCommands['llen']>) {
    return this.#call('llen', a) as ReturnType<DataCommands['llen']>;
  }
  ltrim(...a: Parameters<DataCommands['ltrim']>) {
    return this.#call('ltrim', a) as ReturnType<DataCommands['ltrim']>;
  }
  lpop(...a: Parameters<DataCommands['lpop']>) {
    return this.#call('lpop', a) as ReturnType<DataCommands['lpop']>;
  }
  rpop(...a: Parameters<DataCommands['rpop']>) {
    return this.#call('rpop', a) as ReturnType<DataCommands['rpop']>;
  }
  sadd(...a: Parameters<DataCommands['sadd']>) {
    return this.#call('sadd', a) as ReturnType<DataCommands['sadd']>;
  }
  srem(...a: Parameters<DataCommands['srem']>) {
    return this.#call('srem', a) as ReturnType<DataCommands['srem']>;
  }
  smembers(...a: Parameters<DataCommands['smembers']>) {
    return this.#call('smembers', a) as ReturnType<DataCommands['smembers']>;
  }
  sismember(...a: Parameters<DataCommands['sismember']>) {
    return this.#call('sismember', a) as ReturnType<DataCommands['sismember']>;
  }
  scard(...a: Parameters<DataCommands['scard']>) {
    return this.#call('scard', a) as ReturnType<DataCommands['scard']>;
  }
  zadd(...a: Parameters<DataCommands['zadd']>) {
    return this.#call('zadd', a) as ReturnType<DataCommands['zadd']>;
  }
  zrem(...a: Parameters<DataCommands['zrem']>) {
    return this.#call('zrem', a) as ReturnType<DataCommands['zrem']>;
  }
  zscore(...a: Parameters<DataCommands['zscore']>) {
    return this.#call('zscore', a) as ReturnType<DataCommands['zscore']>;
  }
  zcard(...a: Parameters<DataCommands['zcard']>) {
    return this.#call('zcard', a) as ReturnType<DataCommands['zcard']>;
  }
  zrangeByScore(...a: unknown[]): Promise<never> {
    return this.#call('zrangeByScore', a);
  }
  zremRangeByScore(...a: Parameters<DataCommands['zremRangeByScore']>) {
    return this.#call('zremRangeByScore', a) as ReturnType<DataCommands['zremRangeByScore']>;
  }
  xadd(...a: Parameters<DataCommands['xadd']>) {
    return this.#call('xadd', a) as ReturnType<DataCommands['xadd']>;
  }
  xrange(...a: Parameters<DataCommands['xrange']>) {
    return this.#call('xrange', a) as ReturnType<DataCommands['xrange']>;
  }
  xdel(...a: Parameters<DataCommands['xdel']>) {
    return this.#call('xdel', a) as ReturnType<DataCommands['xdel']>;
  }
  xlen(...a: Parameters<DataCommands['xlen']>) {
    return this.#call('xlen', a) as ReturnType<DataCommands['xlen']>;
  }
  xtrim(...a: Parameters<DataCommands['xtrim']>) {
    return this.#call('xtrim', a) as ReturnType<DataCommands['xtrim']>;
  }
  xgroupCreate(...a: Parameters<DataCommands['xgroupCreate']>) {
    return this.#call('xgroupCreate', a) as ReturnType<DataCommands['xgroupCreate']>;
  }
  xreadgroup(...a: Parameters<DataCommands['xreadgroup']>) {
    return this.#call('xreadgroup', a, blockOf(a[3])) as ReturnType<DataCommands['xreadgroup']>;
  }
  xack(...a: Parameters<DataCommands['xack']>) {
    return this.#call('xack', a) as ReturnType<DataCommands['xack']>;
  }
  xautoclaim(...a: Parameters<DataCommands['xautoclaim']>) {
    return this.#call('xautoclaim', a) as ReturnType<DataCommands['xautoclaim']>;
  }
  xpending(...a: Parameters<DataCommands['xpending']>) {
    return this.#call('xpending', a) as ReturnType<DataCommands['xpending']>;
  }
  xpendingRange(...a: Parameters<DataCommands['xpendingRange']>) {
    return this.#call('xpendingRange', a) as ReturnType<DataCommands['xpendingRange']>;
  }
  publish(...a: Parameters<DataCommands['publish']>) {
    return this.#call('publish', a) as ReturnType<DataCommands['publish']>;
  }

  async #listen(kind: Listener['kind'], name: string, listener: Listener): Promise<Subscription> {
    const s = this.#next++;
    // Registered first: a message published right after the host subscribed must find it.
    this.#listeners.set(s, listener);
    try {
      await this.#request((i) => ({ t: 'sub', c: this.#id, i, s, k: kind, n: name }));
    } catch (error) {
      this.#listeners.delete(s);
      throw error;
    }
    let active = true;
    return {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        this.#listeners.delete(s);
        if (this.#closed || this.#down) return;
        await this.#request((i) => ({ t: 'unsub', c: this.#id, i, s }));
      },
    };
  }

  async subscribe(channel: string, listener: MessageListener): Promise<Subscription> {
    checkListener(listener);
    return this.#listen('channel', channel, { kind: 'channel', listener });
  }

  async psubscribe(pattern: string, listener: PatternListener): Promise<Subscription> {
    checkListener(listener);
    return this.#listen('pattern', pattern, { kind: 'pattern', listener });
  }

  async onExpired(listener: ExpiredListener): Promise<Subscription> {
    checkListener(listener);
    return this.#listen('expired', '', { kind: 'expired', listener });
  }

  /** Hears `down` when the host goes away and `closed` on `close()`. */
  onConnectionChange(listener: ConnectionListener): () => void {
    checkListener(listener);
    if (this.#closed) return () => undefined;
    this.#connectionListeners.add(listener);
    return () => {
      this.#connectionListeners.delete(listener);
    };
  }

  scan(options?: ScanOptions): AsyncIterable<string> {
    const client = this;
    return {
      async *[Symbol.asyncIterator]() {
        const s = client.#next++;
        let done = false;
        try {
          let [keys, last] = (await client.#request((i) => ({
            t: 'scan',
            c: client.#id,
            i,
            s,
            o: options,
          }))) as [string[], boolean];
          for (;;) {
            yield* keys;
            if (last) break;
            [keys, last] = (await client.#request((i) => ({
              t: 'scanNext',
              c: client.#id,
              i,
              s,
            }))) as [string[], boolean];
          }
          done = true;
        } finally {
          if (!done && client.isConnected) {
            client.#request((i) => ({ t: 'scanEnd', c: client.#id, i, s })).catch(() => undefined);
          }
        }
      },
    };
  }

  /** Sends the script by name; the host runs its `local` body atomically, the reply is decoded here. */
  async run<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): Promise<R> {
    if (this.#closed) throw new ClosedError(`${PKG} the backend is closed`);
    checkScriptCall(script, keys);
    const argv = scriptArgs(args, script.name);
    const name = script.name;
    const known = this.#verified.get(name) === script.sha1;
    const reply = await this.#request((i) =>
      known
        ? { t: 'run', c: this.#id, i, n: name, k: keys.slice(), a: argv }
        : { t: 'run', c: this.#id, i, n: name, h: script.sha1, k: keys.slice(), a: argv },
    );
    if (!known) this.#verified.set(name, script.sha1);
    return script.decode(reply as ScriptReply);
  }

  pipeline(): Pipeline {
    return new MemoryPipeline((queue) => {
      let extra = 0;
      for (const { command, args } of queue)
        if (command === 'xreadgroup') extra += blockOf(args[3]);
      return this.#request(
        (i) => ({
          t: 'pipe',
          c: this.#id,
          i,
          q: queue.map(({ command, args }) => [command, args]),
        }),
        extra,
      ) as Promise<PipelineResult[]>;
    });
  }

  waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    return this.#call('waitReplicas', [key, replicas, timeoutMs]);
  }

  /** Round trip to the host and back, in ms. */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.#call('ping', []);
    return performance.now() - start;
  }

  async info(): Promise<BackendInfo> {
    const info = (await this.#call('info', [])) as BackendInfo;
    return { ...info, backend: 'shared-memory', raw: { ...info.raw, host_backend: info.backend } };
  }

  time(): Promise<number> {
    return this.#call('time', []);
  }

  scoped(prefix: string): Backend {
    return scopedView(this, prefix);
  }

  /** Drops this client's subscriptions on the host and stops listening; the host keeps the data. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#down) {
      await this.#request((i) => ({ t: 'bye', c: this.#id, i })).catch(() => undefined);
    }
    this.#closed = true;
    this.#stop();
    clearInterval(this.#sweeper);
    const closed = new ClosedError(`${PKG} the backend is closed`);
    for (const pending of this.#pending.values()) {
      pending.reject(closed);
    }
    this.#pending.clear();
    this.#listeners.clear();
    this.#emit('closed');
    this.#connectionListeners.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function blockOf(options: unknown): number {
  const block = (options as XReadGroupOptions | undefined)?.blockMs;
  return typeof block === 'number' && Number.isFinite(block) && block > 0 ? block : 0;
}

/**
 * Creates the worker side of a shared-memory backend: a `Backend` that
 * forwards every call to the host (`createSharedMemoryHost`) over IPC.
 * Synchronous: usable at once. Accepts core's parsed
 * `{ type: 'shared-memory' }` config as is; `createBackend({ type:
 * 'shared-memory' })` calls it.
 *
 * @example
 * // in a node:cluster worker (the primary runs createSharedMemoryHost())
 * const backend = createSharedMemoryBackend({ keyPrefix: 'app' });
 * await backend.incrBy('hits', 1); // counted once for the whole machine
 */
export function createSharedMemoryBackend(options: SharedMemoryBackendOptions = {}): Backend {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(
      `${PKG} shared-memory options must be an object, got ${describe(options)}`,
      {
        field: 'options',
      },
    );
  }
  if (options.type !== undefined && options.type !== 'shared-memory') {
    throw new ConfigError(`${PKG} type must be "shared-memory", got ${describe(options.type)}`, {
      field: 'type',
    });
  }
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  assertConfigInteger(timeoutMs, 'commandTimeoutMs');
  if (options.defaultTtlMs !== undefined) assertConfigInteger(options.defaultTtlMs, 'defaultTtlMs');
  if (
    options.keyPrefix !== undefined &&
    (typeof options.keyPrefix !== 'string' || options.keyPrefix.length === 0)
  ) {
    throw new ConfigError(
      `${PKG} keyPrefix must be a non-empty string, got ${describe(options.keyPrefix)}`,
      {
        field: 'keyPrefix',
      },
    );
  }
  const client = new SharedMemoryClient(
    options.channel ?? defaultChannel(),
    timeoutMs,
    options.defaultTtlMs,
  );
  if (options.keyPrefix === undefined) return client;
  const view = scopedView(client, options.keyPrefix);
  const close = (): Promise<void> => client.close();
  Object.defineProperty(view, 'close', { value: close, configurable: true, writable: true });
  Object.defineProperty(view, Symbol.asyncDispose, {
    value: close,
    configurable: true,
    writable: true,
  });
  return view;
}

function assertConfigInteger(value: unknown, field: string): void {
  try {
    assertInteger(value, field, { min: 1, pkg: 'memory-backend' });
  } catch (error) {
    throw new ConfigError(
      `${PKG} ${field} must be a positive integer (ms), got ${describe(value)}`,
      {
        field,
        cause: error,
      },
    );
  }
}
