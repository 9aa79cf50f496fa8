import { randomBytes } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { type TargetBackendOptions, type TestTarget, testTargets } from '@redbrick/testkit';

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
  /** Another client (its own connection on Redis) on the same data and prefix. */
  client(options?: TargetBackendOptions): Promise<Backend>;
  /**
   * Lets `ms` of server time pass: on memory the backend clock jumps ahead
   * at once (controlled time), on Redis the test really waits.
   */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A target of the matrix, able to open fresh worlds. */
export interface LockTarget {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  open(): Promise<World>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function openWorld(target: TestTarget): Promise<World> {
  const prefix = `locks-${randomBytes(5).toString('hex')}`;
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
  const client = async (options?: TargetBackendOptions) => {
    const b = await target.make(options);
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
export function lockTargets(): LockTarget[] {
  return testTargets().map((target) => ({
    name: target.name,
    target,
    open: () => openWorld(target),
  }));
}

/** Polls `probe` every few ms until it is true; fails after `timeoutMs`. */
export async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Counts the calls a service makes on a real backend (instrumentation, not
 * a mock: every call goes through to the backend).
 */
export function counted(backend: Backend): { backend: Backend; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        if (property === 'run') {
          calls.push(`run ${(args[0] as { name: string }).name}`);
        } else if (property !== 'scoped' && property !== 'onConnectionChange') {
          calls.push(property);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { backend: proxy, calls };
}

export { sleep };
