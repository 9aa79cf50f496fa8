import { randomBytes } from 'node:crypto';
import { type Backend, createBackend, isRedbrickError } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mutex, mutexKeys, QuorumMutex } from '../src/index.js';

/**
 * Three independent backends: three memory backends, or three throwaway
 * redis-servers (not one Cluster: a quorum needs independent failures).
 * `down(i)` takes one away for good (closed / SIGKILLed).
 */
interface Fleet {
  backends: Backend[];
  down(i: number): Promise<void>;
  close(): Promise<void>;
}

let servers: RedisServerHandle[] | undefined;
afterAll(async () => {
  await Promise.all((servers ?? []).map((s) => s.stop()));
});

const fleets: Array<{ name: string; open: () => Promise<Fleet> }> = [
  {
    name: 'three memory backends',
    open: async () => {
      const backends = [createMemoryBackend(), createMemoryBackend(), createMemoryBackend()];
      return {
        backends,
        down: (i) => backends[i]?.close() ?? Promise.resolve(),
        close: async () => {
          await Promise.all(backends.map((b) => b.close()));
        },
      };
    },
  },
  {
    name: 'three redis-servers',
    open: async () => {
      servers ??= await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()]);
      const prefix = `quorum-${randomBytes(4).toString('hex')}`;
      const roots = await Promise.all(
        servers.map((s) => createBackend({ type: 'redis', url: s.url, commandTimeoutMs: 500 })),
      );
      return {
        backends: roots.map((r) => r.scoped(prefix)),
        down: async (i) => {
          await servers?.[i]?.kill();
        },
        close: async () => {
          await Promise.all(roots.map((r) => r.close()));
          // Bring killed servers back for the next test.
          await Promise.all((servers ?? []).filter((s) => !s.running).map((s) => s.restart()));
        },
      };
    },
  },
];

describe.each(fleets)('QuorumMutex on $name', ({ open }) => {
  let fleet: Fleet;
  beforeEach(async () => {
    fleet = await open();
  });
  afterEach(async () => {
    await fleet.close();
  });

  it('holds a lease on a majority, excludes others, and releases everywhere', async () => {
    const a = new QuorumMutex({ backends: fleet.backends, retryDelayMs: 20 });
    const b = new QuorumMutex({ backends: fleet.backends, retryDelayMs: 20 });
    expect(a.quorum).toBe(2);
    const lease = await a.acquire('report', { ttlMs: 10_000 });
    expect(lease.votes).toBe(3);
    expect(lease.remainingMs).toBeGreaterThan(9000);
    await expect(b.acquire('report', { waitMs: 100 })).rejects.toMatchObject({
      code: 'LOCK_NOT_ACQUIRED',
    });
    expect(await lease.release()).toBe(true);
    const next = await b.acquire('report', { waitMs: 1000 });
    await lease.extend().catch(() => undefined); // the old lease cannot come back
    expect(lease.signal.aborted).toBe(true);
    await next.release();
  });

  it('keeps working with a minority down, and fails fast with a majority down', async () => {
    const mutex = new QuorumMutex({ backends: fleet.backends, retryDelayMs: 20 });
    await fleet.down(2);
    const lease = await mutex.acquire('minority', { ttlMs: 10_000, waitMs: 2000 });
    expect(lease.votes).toBe(2);
    await lease.extend(20_000);
    expect(await lease.release()).toBe(true);

    await fleet.down(1);
    const started = performance.now();
    const error = await mutex
      .acquire('majority', { ttlMs: 10_000, waitMs: 30_000 })
      .catch((e: unknown) => e);
    expect(isRedbrickError(error)).toBe(true);
    expect((error as { code: string }).code).not.toBe('LOCK_NOT_ACQUIRED');
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('a round that wins only a minority gives back what it won', async () => {
    // Two backends are held by another owner (as if by a split round).
    const single = fleet.backends.map((backend) => new Mutex({ backend }));
    await single[0]?.acquire('split', { ttlMs: 30_000 });
    await single[1]?.acquire('split', { ttlMs: 30_000 });
    const mutex = new QuorumMutex({ backends: fleet.backends, retryDelayMs: 20 });
    await expect(mutex.acquire('split', { waitMs: 100 })).rejects.toMatchObject({
      code: 'LOCK_NOT_ACQUIRED',
    });
    expect(await fleet.backends[2]?.exists(mutexKeys('split').lock)).toBe(0);
  });

  it('aborts the lease signal when the validity runs out unextended', async () => {
    const mutex = new QuorumMutex({ backends: fleet.backends });
    const lease = await mutex.acquire('short', { ttlMs: 200 });
    expect(lease.signal.aborted).toBe(false);
    await new Promise<void>((resolve) =>
      lease.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    expect(lease.remainingMs).toBe(0);
    expect(isRedbrickError(lease.signal.reason, 'LOCK_LOST')).toBe(true);
  });
});
