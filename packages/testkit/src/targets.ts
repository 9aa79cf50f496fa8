import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  type Backend,
  type BackendConfig,
  createBackend,
  RedbrickError,
  type RedisConfig,
} from '@redbrick/core';
import { afterAll } from 'vitest';
import { loadMemoryBackend } from './memory-module.js';
import { track } from './servers/reaper.js';
import { type RedisClusterHandle, startRedisCluster } from './servers/redis-cluster.js';
import { type RedisServerHandle, startRedisServer } from './servers/redis-server.js';

/**
 * The names of the targets: every package's tests run on `memory`, `redis`
 * and `cluster`; `shared-memory` (a memory backend in a host process, used
 * over IPC) runs only when `REDBRICK_TARGETS` names it.
 */
export type TargetName = 'memory' | 'redis' | 'cluster' | 'shared-memory';

/** Options for one backend made on a target. */
export interface TargetBackendOptions {
  /** Root key prefix of the backend (combined with the target's own prefix under `REDIS_URL`). */
  keyPrefix?: string;
  /** Default TTL in ms exposed by the backend. */
  defaultTtlMs?: number;
  /** Extra Redis options (timeouts, connections, …); ignored on `memory` and `shared-memory`. */
  redis?: Omit<
    Partial<RedisConfig>,
    'type' | 'url' | 'cluster' | 'sentinel' | 'keyPrefix' | 'defaultTtlMs'
  >;
}

/**
 * One place the tests run: the memory backend, one redis-server, a 3-master
 * cluster, or (opt-in) a memory backend in a host process used over IPC.
 */
export interface TestTarget {
  readonly name: TargetName;
  /** What the conformance suite may expect from this target (`cluster`: cross-slot rules apply). */
  readonly capabilities: { readonly cluster: boolean };
  /** A fresh backend on this target (the caller closes it). Starts the shared server on first use. */
  make(options?: TargetBackendOptions): Promise<Backend>;
  /** The config `make()` passes to `createBackend`. */
  config(options?: TargetBackendOptions): Promise<BackendConfig>;
  /**
   * The throwaway redis-server behind the `redis` target, for fault injection
   * (`kill()`, `restart()`, `pause(ms)`). Undefined on other targets and when
   * `REDIS_URL` points at a server the tests do not own.
   */
  server(): Promise<RedisServerHandle | undefined>;
  /** The throwaway cluster behind the `cluster` target (undefined elsewhere or with `REDIS_CLUSTER_NODES`). */
  cluster(): Promise<RedisClusterHandle | undefined>;
}

const DEFAULT: readonly TargetName[] = ['memory', 'redis', 'cluster'];
const ALL: readonly TargetName[] = [...DEFAULT, 'shared-memory'];

/*
 * Servers are shared by every test of a test file: Vitest isolates modules per
 * file, so this module state lives exactly as long as one file's run.
 */
let redisServer: Promise<RedisServerHandle> | undefined;
let redisCluster: Promise<RedisClusterHandle> | undefined;
let sharedHost: Promise<ChildProcess> | undefined;
let hookRegistered = false;

function uniquePrefix(): string {
  return `rbtest-${randomBytes(6).toString('hex')}`;
}

/** Stops the servers started for this test file (registered as an `afterAll` by {@link testTargets}). */
export async function stopTestServers(): Promise<void> {
  const server = redisServer;
  const cluster = redisCluster;
  const host = sharedHost;
  redisServer = undefined;
  redisCluster = undefined;
  sharedHost = undefined;
  hookRegistered = false;
  host?.then(
    (child) => child.kill('SIGKILL'),
    () => undefined,
  );
  await Promise.all([
    server?.then(
      (s) => s.stop(),
      () => undefined,
    ),
    cluster?.then(
      (c) => c.stop(),
      () => undefined,
    ),
  ]);
}

function sharedServer(): Promise<RedisServerHandle> {
  redisServer ??= startRedisServer();
  return redisServer;
}

function sharedCluster(): Promise<RedisClusterHandle> {
  redisCluster ??= startRedisCluster({ masters: 3, replicas: 0 });
  return redisCluster;
}

function common(options: TargetBackendOptions): { keyPrefix?: string; defaultTtlMs?: number } {
  const out: { keyPrefix?: string; defaultTtlMs?: number } = {};
  if (options.keyPrefix !== undefined) out.keyPrefix = options.keyPrefix;
  if (options.defaultTtlMs !== undefined) out.defaultTtlMs = options.defaultTtlMs;
  return out;
}

/** Under REDIS_URL the tests share someone's server: every backend gets its own prefix. */
function sharedPrefix(options: TargetBackendOptions): string {
  return options.keyPrefix === undefined
    ? uniquePrefix()
    : `${uniquePrefix()}:${options.keyPrefix}`;
}

function memoryTarget(): TestTarget {
  const config = async (options: TargetBackendOptions = {}): Promise<BackendConfig> => ({
    type: 'memory',
    ...common(options),
  });
  return {
    name: 'memory',
    capabilities: { cluster: false },
    config,
    make: async (options) => createBackend(await config(options)),
    server: async () => undefined,
    cluster: async () => undefined,
  };
}

type SharedClientFactory = (options: {
  channel: ChildProcess;
  commandTimeoutMs: number;
  keyPrefix?: string;
  defaultTtlMs?: number;
}) => Backend;

/** The host of this test file's shared-memory target: a child process, forked on first use. */
function sharedMemoryHost(): Promise<ChildProcess> {
  sharedHost ??= new Promise<ChildProcess>((resolve, reject) => {
    const entry = fileURLToPath(new URL('./shared-memory-host.js', import.meta.url));
    const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    track(child);
    child.once('message', () => resolve(child));
    child.once('exit', (code, signal) =>
      reject(new Error(`the shared-memory host exited (${signal ?? code}) before it was ready`)),
    );
  });
  return sharedHost;
}

/** The shared-memory client factory of `@redbrick/memory-backend`. */
async function sharedClientFactory(): Promise<SharedClientFactory> {
  const mod = await loadMemoryBackend<{ createSharedMemoryBackend: SharedClientFactory }>();
  return mod.createSharedMemoryBackend;
}

function sharedMemoryTarget(): TestTarget {
  const config = async (options: TargetBackendOptions = {}): Promise<BackendConfig> => ({
    type: 'shared-memory',
    commandTimeoutMs: 10_000,
    ...common(options),
  });
  return {
    name: 'shared-memory',
    capabilities: { cluster: false },
    config,
    make: async (options = {}) => {
      const [channel, create] = await Promise.all([sharedMemoryHost(), sharedClientFactory()]);
      return create({ channel, commandTimeoutMs: 10_000, ...common(options) });
    },
    server: async () => undefined,
    cluster: async () => undefined,
  };
}

function redisTarget(env: Record<string, string | undefined>): TestTarget {
  const external = env.REDIS_URL?.trim();
  const config = async (options: TargetBackendOptions = {}): Promise<BackendConfig> => {
    if (external) {
      return {
        type: 'redis',
        ...options.redis,
        ...common(options),
        url: external,
        keyPrefix: sharedPrefix(options),
      };
    }
    const server = await sharedServer();
    return { type: 'redis', ...options.redis, ...common(options), url: server.url };
  };
  return {
    name: 'redis',
    capabilities: { cluster: false },
    config,
    make: async (options) => createBackend(await config(options)),
    server: async () => (external ? undefined : sharedServer()),
    cluster: async () => undefined,
  };
}

function clusterTarget(env: Record<string, string | undefined>): TestTarget {
  const external = env.REDIS_CLUSTER_NODES?.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const config = async (options: TargetBackendOptions = {}): Promise<BackendConfig> => {
    if (external && external.length > 0) {
      return {
        type: 'redis',
        ...options.redis,
        ...common(options),
        cluster: { nodes: external },
        keyPrefix: sharedPrefix(options),
      };
    }
    const cluster = await sharedCluster();
    return {
      type: 'redis',
      ...options.redis,
      ...common(options),
      cluster: { nodes: cluster.nodes },
    };
  };
  return {
    name: 'cluster',
    capabilities: { cluster: true },
    config,
    make: async (options) => createBackend(await config(options)),
    server: async () => undefined,
    cluster: async () => (external && external.length > 0 ? undefined : sharedCluster()),
  };
}

/**
 * The target matrix: `memory`, `redis` (one throwaway redis-server, or
 * `REDIS_URL` with a unique key prefix per backend) and `cluster` (a
 * throwaway 3-master Redis Cluster, or `REDIS_CLUSTER_NODES`). Servers start
 * lazily on the first `make()` and are shared by the test file; they stop
 * in an `afterAll` and, at the latest, when the test process exits.
 * `REDBRICK_TARGETS=memory,redis` narrows the set. `shared-memory` runs
 * only when `REDBRICK_TARGETS` names it: a memory backend in a host child
 * process (forked once per test file, importing the package under test so
 * its scripts run there), used through the shared-memory client over IPC.
 * Its `config()` describes the client but cannot carry the IPC channel.
 *
 * @example
 * describe.each(testTargets())('$name', (target) => {
 *   it('counts', async () => {
 *     await using backend = await target.make();
 *     expect(await backend.incrBy('n', 2)).toBe(2);
 *   });
 * });
 */
export function testTargets(env: Record<string, string | undefined> = process.env): TestTarget[] {
  const wanted = env.REDBRICK_TARGETS?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const name of wanted ?? []) {
    if (!(ALL as readonly string[]).includes(name)) {
      throw new RedbrickError(
        'INVALID_CONFIG',
        `[redbrick/testkit] REDBRICK_TARGETS lists unknown target "${name}" (allowed: ${ALL.join(', ')})`,
      );
    }
  }
  if (!hookRegistered) {
    try {
      afterAll(stopTestServers);
      hookRegistered = true;
    } catch {
      // called outside a test file's collection phase: the exit handlers still stop the servers
    }
  }
  const names = wanted && wanted.length > 0 ? ALL.filter((n) => wanted.includes(n)) : [...DEFAULT];
  return names.map((name) => {
    if (name === 'memory') return memoryTarget();
    if (name === 'redis') return redisTarget(env);
    if (name === 'shared-memory') return sharedMemoryTarget();
    return clusterTarget(env);
  });
}
