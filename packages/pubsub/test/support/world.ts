import { randomBytes } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { type TargetBackendOptions, type TestTarget, testTargets } from '@redbrick/testkit';

/** One test's view of a target: clients sharing data under a fresh random prefix. */
export interface World {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  readonly prefix: string;
  /** The first client. */
  readonly backend: Backend;
  /** Another client (its own connections on Redis) on the same data and prefix. */
  client(options?: TargetBackendOptions): Promise<Backend>;
  close(): Promise<void>;
}

export interface PubSubTarget {
  readonly name: TestTarget['name'];
  readonly target: TestTarget;
  open(): Promise<World>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function openWorld(target: TestTarget): Promise<World> {
  const prefix = `ps-${randomBytes(5).toString('hex')}`;
  const opened: Backend[] = [];
  if (target.name === 'memory') {
    const root = await target.make();
    opened.push(root);
    return {
      name: target.name,
      target,
      prefix,
      backend: root.scoped(prefix),
      client: async () => root.scoped(prefix),
      close: () => root.close(),
    };
  }
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
    close: async () => {
      await Promise.all(opened.map((b) => b.close()));
    },
  };
}

/** The three targets (memory, redis, cluster; `REDBRICK_TARGETS` narrows them). */
export function pubsubTargets(): PubSubTarget[] {
  return testTargets().map((target) => ({
    name: target.name,
    target,
    open: () => openWorld(target),
  }));
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
