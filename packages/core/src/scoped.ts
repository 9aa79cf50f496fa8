import type {
  Backend,
  BackendInfo,
  ConnectionListener,
  DataCommands,
  ExpiredListener,
  MessageListener,
  PatternListener,
  Pipeline,
  PipelineResult,
  ScanOptions,
  Subscription,
} from './backend.js';
import { ValidationError } from './errors.js';
import { escapeGlob, escapeKeyPart } from './keys.js';
import { REDIS_CONNECTION } from './redis-connection.js';
import type { Script } from './script.js';

/**
 * Where the keys are among a command's arguments: `first` (the first
 * argument), `all` (every argument), `entries` (the keys of an object or
 * pair list, for MSET) or `channel` (a pub/sub channel).
 */
export const KEY_POSITIONS: Readonly<
  Record<keyof DataCommands, 'first' | 'all' | 'entries' | 'channel'>
> = {
  get: 'first',
  set: 'first',
  setGet: 'first',
  del: 'all',
  exists: 'all',
  pexpire: 'first',
  pttl: 'first',
  persist: 'first',
  type: 'first',
  mget: 'all',
  mset: 'entries',
  incrBy: 'first',
  incrByFloat: 'first',
  hget: 'first',
  hmget: 'first',
  hset: 'first',
  hgetall: 'first',
  hdel: 'first',
  hincrBy: 'first',
  hincrByFloat: 'first',
  hexists: 'first',
  hlen: 'first',
  rpush: 'first',
  lpush: 'first',
  lrange: 'first',
  lindex: 'first',
  llen: 'first',
  ltrim: 'first',
  lpop: 'first',
  rpop: 'first',
  sadd: 'first',
  srem: 'first',
  smembers: 'first',
  sismember: 'first',
  scard: 'first',
  zadd: 'first',
  zrem: 'first',
  zscore: 'first',
  zcard: 'first',
  zrangeByScore: 'first',
  zremRangeByScore: 'first',
  xadd: 'first',
  xrange: 'first',
  xdel: 'first',
  xlen: 'first',
  xtrim: 'first',
  xgroupCreate: 'first',
  xreadgroup: 'first',
  xack: 'first',
  xautoclaim: 'first',
  xpending: 'first',
  xpendingRange: 'first',
  publish: 'channel',
};

/** Rewrites the key arguments of a data command with `map`. */
export function mapCommandKeys(
  command: keyof DataCommands,
  args: readonly unknown[],
  map: (key: string) => string,
): unknown[] {
  const position = KEY_POSITIONS[command];
  if (position === 'all') return args.map((a) => map(a as string));
  if (position === 'entries') {
    const [entries, ...rest] = args;
    const pairs = Array.isArray(entries)
      ? (entries as Array<[string, string]>)
      : Object.entries(entries as Record<string, string>);
    return [pairs.map(([k, v]) => [map(k), v] as [string, string]), ...rest];
  }
  const [first, ...rest] = args;
  return [map(first as string), ...rest];
}

/** Validates a scope prefix part: a non-empty string without `{` or `}`. */
export function checkScopePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new ValidationError('[redbrick/core] scoped(prefix): prefix must be a non-empty string', {
      field: 'prefix',
    });
  }
  if (prefix.includes('{') || prefix.includes('}')) {
    throw new ValidationError(
      `[redbrick/core] scoped(prefix): prefix must not contain "{" or "}" (they would break Redis Cluster hash tags), got ${JSON.stringify(prefix)}`,
      { field: 'prefix' },
    );
  }
  return `${escapeKeyPart(prefix)}:`;
}

const DATA_COMMANDS = Object.keys(KEY_POSITIONS) as Array<keyof DataCommands>;

/**
 * A prefixed view of a root backend. Implemented once here for every backend:
 * keys, scan patterns, script keys and channels get the prefix; scan results
 * and expiry events come back without it.
 */
class ScopedBackend {
  readonly kind: string;
  readonly prefix: string;
  readonly #root: Backend;
  readonly #addPrefix = (k: string): string => {
    if (typeof k !== 'string' || k.length === 0) {
      throw new ValidationError('[redbrick/core] key must be a non-empty string', { field: 'key' });
    }
    return this.prefix + k;
  };

  constructor(root: Backend, prefix: string) {
    this.#root = root;
    this.kind = root.kind;
    this.prefix = prefix;
  }

  get isConnected(): boolean {
    return this.#root.isConnected;
  }

  get defaultTtlMs(): number | undefined {
    return this.#root.defaultTtlMs;
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<string> {
    const match = escapeGlob(this.prefix) + (options.match ?? '*');
    const cut = this.prefix.length;
    for await (const k of this.#root.scan({ ...options, match })) {
      if (k.startsWith(this.prefix)) yield k.slice(cut);
    }
  }

  subscribe(channel: string, listener: MessageListener): Promise<Subscription> {
    const cut = this.prefix.length;
    return this.#root.subscribe(this.#addPrefix(channel), (message, ch) =>
      listener(message, ch.slice(cut)),
    );
  }

  psubscribe(pattern: string, listener: PatternListener): Promise<Subscription> {
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw new ValidationError('[redbrick/core] pattern must be a non-empty string', {
        field: 'pattern',
      });
    }
    const cut = this.prefix.length;
    return this.#root.psubscribe(escapeGlob(this.prefix) + pattern, (message, ch) =>
      listener(message, ch.slice(cut), pattern),
    );
  }

  onExpired(listener: ExpiredListener): Promise<Subscription> {
    const cut = this.prefix.length;
    return this.#root.onExpired((k) => {
      if (k.startsWith(this.prefix)) listener(k.slice(cut));
    });
  }

  onConnectionChange(listener: ConnectionListener): () => void {
    return this.#root.onConnectionChange(listener);
  }

  run<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): Promise<R> {
    return this.#root.run(script, keys.map(this.#addPrefix), args);
  }

  pipeline(): Pipeline {
    const inner = this.#root.pipeline();
    const addPrefix = this.#addPrefix;
    const view: Pipeline = {
      add(command, ...args) {
        (inner.add as (c: string, ...a: unknown[]) => Pipeline)(
          command,
          ...mapCommandKeys(command, args, addPrefix),
        );
        return view;
      },
      get length() {
        return inner.length;
      },
      exec(): Promise<PipelineResult[]> {
        return inner.exec();
      },
    };
    return view;
  }

  /** The root's raw connection source (Redis backends only); the view's prefix is `prefix`. */
  get [REDIS_CONNECTION](): unknown {
    return (this.#root as unknown as Record<symbol, unknown>)[REDIS_CONNECTION];
  }

  waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    return this.#root.waitReplicas(this.#addPrefix(key), replicas, timeoutMs);
  }

  ping(): Promise<number> {
    return this.#root.ping();
  }

  info(): Promise<BackendInfo> {
    return this.#root.info();
  }

  time(): Promise<number> {
    return this.#root.time();
  }

  scoped(prefix: string): Backend {
    return scopeBackend(this.#root, this.prefix + checkScopePrefix(prefix));
  }

  /** A scoped view owns nothing: closing it leaves the root open. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {}
}

for (const command of DATA_COMMANDS) {
  Object.defineProperty(ScopedBackend.prototype, command, {
    value(this: ScopedBackend, ...args: unknown[]) {
      const root = rootOf(this);
      let mapped: unknown[];
      try {
        mapped = mapCommandKeys(command, args, (k) => {
          if (typeof k !== 'string' || k.length === 0) {
            throw new ValidationError(
              `[redbrick/core] ${command}: key must be a non-empty string`,
              {
                field: 'key',
              },
            );
          }
          return this.prefix + k;
        });
      } catch (error) {
        return Promise.reject(error);
      }
      return (root[command] as (...a: unknown[]) => Promise<unknown>).apply(root, mapped);
    },
    writable: true,
    configurable: true,
  });
}

const roots = new WeakMap<object, Backend>();
function rootOf(view: object): Backend {
  return roots.get(view) as Backend;
}

/**
 * The backend a scoped view was made from (the backend itself when it is not
 * a view). Two views of one backend share its data: services that keep
 * in-process state beside a memory backend (the memory queue) key it by this.
 */
export function unscoped(backend: Backend): Backend {
  return roots.get(backend) ?? backend;
}

/**
 * Returns a view of `root` whose keys all start with `fullPrefix` (already
 * escaped, ending in `:`). Backends call this from their `scoped()`.
 */
export function scopeBackend(root: Backend, fullPrefix: string): Backend {
  const view = new ScopedBackend(root, fullPrefix);
  roots.set(view, root);
  return view as unknown as Backend;
}

/** `root.scoped(prefix)` for backends: validates the prefix and builds the view. */
export function scopedView(root: Backend, prefix: string): Backend {
  return scopeBackend(root, root.prefix + checkScopePrefix(prefix));
}
