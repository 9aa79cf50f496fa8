import { randomBytes } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { type TestTarget, testTargets } from '@redbrick/testkit';

/**
 * One test's view of a target: a backend under a fresh random prefix, more
 * clients on the same data, and server time that can be moved on memory.
 */
export interface World {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  readonly prefix: string;
  readonly backend: Backend;
  /** Another client (its own connection on Redis) on the same data and prefix. */
  client(): Promise<Backend>;
  /** Lets `ms` of server time pass: the memory clock jumps, Redis really waits. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface RepoTarget {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  open(): Promise<World>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function openWorld(target: TestTarget): Promise<World> {
  const prefix = `tr-${randomBytes(5).toString('hex')}`;
  if (target.name === 'memory') {
    let offset = 0;
    const root = createMemoryBackend({ clock: () => Date.now() + offset });
    return {
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
      close: () => root.close(),
    };
  }
  const opened: Backend[] = [];
  const client = async () => {
    const b = await target.make();
    opened.push(b);
    return b.scoped(prefix);
  };
  const backend = await client();
  return {
    name: target.name,
    target,
    prefix,
    backend,
    client,
    elapse: (ms) => sleep(ms),
    close: async () => {
      await Promise.all(opened.map((b) => b.close()));
    },
  };
}

/** The three targets (memory, redis, cluster; `REDBRICK_TARGETS` narrows them). */
export function repoTargets(): RepoTarget[] {
  return testTargets().map((target) => ({
    name: target.name,
    target,
    open: () => openWorld(target),
  }));
}

/**
 * Counts the calls a service makes on a real backend (instrumentation, not a mock: every
 * call goes through).
 */
export function counted(
  backend: Backend,
  calls: string[] = [],
): { backend: Backend; calls: string[] } {
  const proxy = new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        if (property !== 'scoped' && property !== 'onConnectionChange') calls.push(property);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        // A scoped view of a counted backend is counted too.
        if (property === 'scoped') return counted(result as Backend, calls).backend;
        return result;
      };
    },
  });
  return { backend: proxy, calls };
}
