import { randomBytes } from 'node:crypto';
import { type Backend, RUN_NOW } from '@redbrick/core';
import { afterEach, beforeEach, describe } from 'vitest';
import { loadMemoryBackend } from './memory-module.js';
import type { RedisServerHandle } from './servers/redis-server.js';
import { type TargetBackendOptions, type TestTarget, testTargets } from './targets.js';

/**
 * One test's view of a target: clients that share the same data under a
 * fresh random prefix, and control over the server's clock where the
 * target allows it.
 */
export interface World {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  /** The random key prefix of this world (every client is scoped to it). */
  readonly prefix: string;
  /** The first client. */
  readonly backend: Backend;
  /** Another client (its own connection on Redis, its own IPC client on shared-memory) on the same data and prefix. */
  client(options?: TargetBackendOptions): Promise<Backend>;
  /**
   * Lets `ms` of server time pass: on memory the backend clock jumps ahead
   * at once (controlled time); on Redis and shared-memory the test really waits.
   */
  elapse(ms: number): Promise<void>;
  /**
   * The throwaway redis-server processes behind this world, for fault
   * injection: one on `redis`, every node on `cluster`, none on memory and
   * shared-memory (or when `REDIS_URL` / `REDIS_CLUSTER_NODES` point at
   * servers the tests do not own).
   */
  servers(): Promise<RedisServerHandle[]>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A target of the matrix, able to open fresh worlds. */
export interface WorldTarget {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  open(): Promise<World>;
}

/** Options of {@link openWorld}. */
export interface OpenWorldOptions {
  /** Start of the random prefix (default `w`), e.g. the package's short name. */
  prefix?: string;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type MemoryFactory = (options: { clock: () => number }) => Backend & { purgeExpired(): unknown };

async function memoryFactory(): Promise<MemoryFactory> {
  const mod = await loadMemoryBackend<{ createMemoryBackend: MemoryFactory }>();
  return mod.createMemoryBackend;
}

/**
 * Opens a world on `target`. On memory every client is a scoped view of one
 * backend whose clock {@link World.elapse} moves; elsewhere each client is a
 * new connection (an IPC client on shared-memory) and time really passes.
 */
export async function openWorld(
  target: TestTarget,
  options: OpenWorldOptions = {},
): Promise<World> {
  const prefix = `${options.prefix ?? 'w'}-${randomBytes(5).toString('hex')}`;
  const finish = (world: Omit<World, typeof Symbol.asyncDispose>): World => ({
    ...world,
    [Symbol.asyncDispose]: () => world.close(),
  });
  if (target.name === 'memory') {
    let offset = 0;
    const create = await memoryFactory();
    const root = create({ clock: () => Date.now() + offset });
    return finish({
      name: target.name,
      target,
      prefix,
      backend: root.scoped(prefix),
      client: async () => root.scoped(prefix),
      elapse: async (ms) => {
        offset += ms;
        root.purgeExpired();
        await sleep(1);
      },
      servers: async () => [],
      close: () => root.close(),
    });
  }
  const opened: Backend[] = [];
  const client = async (clientOptions?: TargetBackendOptions) => {
    const b = await target.make(clientOptions);
    opened.push(b);
    return b.scoped(prefix);
  };
  const backend = await client();
  return finish({
    name: target.name,
    target,
    prefix,
    backend,
    client,
    elapse: (ms) => sleep(ms),
    servers: async () => {
      const server = await target.server();
      if (server) return [server];
      return (await target.cluster())?.servers ?? [];
    },
    close: async () => {
      await Promise.all(opened.map((b) => b.close()));
    },
  });
}

/**
 * The target matrix (memory, redis, cluster; `REDBRICK_TARGETS` narrows it
 * or selects the opt-in `shared-memory`), each able to open fresh worlds.
 *
 * @example
 * describe.each(worldTargets({ prefix: 'cache' }))('$name', (t) => {
 *   it('sees the other client', async () => {
 *     await using world = await t.open();
 *     const other = await world.client();
 *     await world.backend.set('k', 'v');
 *     expect(await other.get('k')).toBe('v');
 *   });
 * });
 */
export function worldTargets(options: OpenWorldOptions = {}): WorldTarget[] {
  return testTargets().map((target) => ({
    name: target.name,
    target,
    open: () => openWorld(target, options),
  }));
}

/** What each test of {@link describeFaults} gets: a fresh world and the servers behind it. */
export interface FaultContext {
  /** This test's world (opened before it, closed after it). */
  readonly world: World;
  /** The throwaway servers to kill, restart or pause: one on `redis`, every node on `cluster`. */
  readonly servers: RedisServerHandle[];
}

/**
 * Declares fault-injection tests: a `describe` per Redis target (`redis`,
 * `cluster`) whose servers the tests own, each test getting a fresh world
 * and its server handles through `ctx`. Under a target filter that leaves
 * no Redis target (e.g. `REDBRICK_TARGETS=memory`) the block is skipped as
 * a whole instead of leaving an empty test file.
 *
 * @example
 * describeFaults('Redis killed', { prefix: 'cache' }, (ctx) => {
 *   it('fails fast', async () => {
 *     const { world, servers } = ctx;
 *     await Promise.all(servers.map((s) => s.kill()));
 *     await expect(world.backend.get('k')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
 *   });
 * });
 */
export function describeFaults(
  title: string,
  options: OpenWorldOptions,
  define: (ctx: FaultContext, target: WorldTarget) => void,
): void {
  const targets = worldTargets(options).filter((t) => t.name === 'redis' || t.name === 'cluster');
  describe.skipIf(targets.length === 0)(title, () => {
    describe.each(targets)('on $name', (target) => {
      let current: { world: World; servers: RedisServerHandle[] } | undefined;
      const ctx: FaultContext = {
        get world() {
          if (!current) throw new Error('describeFaults: the world is open only inside a test');
          return current.world;
        },
        get servers() {
          if (!current) throw new Error('describeFaults: the world is open only inside a test');
          return current.servers;
        },
      };
      beforeEach(async () => {
        const world = await target.open();
        const servers = await world.servers();
        if (servers.length === 0) {
          await world.close();
          throw new Error(
            `describeFaults: no throwaway server behind ${target.name} (REDIS_URL / REDIS_CLUSTER_NODES point at servers these tests must not kill)`,
          );
        }
        current = { world, servers };
      });
      afterEach(async () => {
        await current?.world.close();
        current = undefined;
      });
      define(ctx, target);
    });
  });
}

/**
 * Polls `probe` until it is true; fails after `timeoutMs` (generous: these
 * are not timing tests). A probe that throws counts as not yet true.
 */
export async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`, { cause: last });
    }
    await sleep(5);
  }
}

/**
 * Counts the calls a service makes on a real backend (instrumentation, not a
 * mock: every call goes through). Scoped views of it are counted too; script
 * runs are recorded as `run <name>`.
 */
export function counted(
  backend: Backend,
  calls: string[] = [],
): { backend: Backend; calls: string[] } {
  const proxy = new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      if (property === RUN_NOW) {
        // a synchronous script run (an in-process backend) is a script run too
        return (...args: unknown[]) => {
          calls.push(`run ${(args[0] as { name: string }).name}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        if (property === 'run') calls.push(`run ${(args[0] as { name: string }).name}`);
        else if (property !== 'scoped' && property !== 'onConnectionChange') calls.push(property);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (property === 'scoped') return counted(result as Backend, calls).backend;
        return result;
      };
    },
  });
  return { backend: proxy, calls };
}
