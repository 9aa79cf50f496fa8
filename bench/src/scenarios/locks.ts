import { Mutex } from '@redbrick/locks';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import { Mutex as SemaphoreMutex } from 'redis-semaphore';
import Redlock from 'redlock';
import type { BenchContext, Scenario, Sides } from '../harness.js';

const TTL_MS = 10_000;
let seq = 0;

/** Uncontended acquire + release of a fresh resource each op; both sides hold the same lock shape. */
async function sides(baseline: 'redlock' | 'redis-semaphore', ctx: BenchContext): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('locks scenario without a server');
  const backend = await createRedisBackend({ type: 'redis', url });
  const mutex = new Mutex({ backend });
  const raw = new Redis(url, { enableAutoPipelining: false });
  const redlock = new Redlock([raw], { retryCount: 0 });
  const resource = () => `bench:lock:${seq++ % 100_000}`;
  const redbrick = async () => {
    const lease = await mutex.tryAcquire(resource(), { ttlMs: TTL_MS });
    if (!lease) throw new Error('redbrick mutex not acquired while uncontended');
    await lease.release();
  };
  const other =
    baseline === 'redlock'
      ? async () => {
          const lock = await redlock.acquire([resource()], TTL_MS);
          await lock.release();
        }
      : async () => {
          const m = new SemaphoreMutex(raw, resource(), {
            lockTimeout: TTL_MS,
            acquireTimeout: 1000,
            refreshInterval: 0,
          });
          await m.acquire();
          await m.release();
        };
  return {
    redbrick,
    baseline: other,
    async check() {
      // Correctness spot-check: a held mutex is not acquired by a second caller.
      const held = await mutex.tryAcquire('bench:lock:check', { ttlMs: TTL_MS });
      const second = await mutex.tryAcquire('bench:lock:check', { ttlMs: TTL_MS });
      if (!held || second) throw new Error('redbrick mutex admitted two holders');
      await held.release();
    },
    async teardown() {
      await backend.close();
      raw.disconnect();
    },
  };
}

/**
 * Issue 12: uncontended acquire+release vs redlock and redis-semaphore, goal ≥ 1.2× both. One
 * caller (latency-bound: two round trips each side), and 64 callers on distinct resources (a busy
 * service taking many independent locks at once).
 */
export const lockScenarios: Scenario[] = (['redlock', 'redis-semaphore'] as const).flatMap(
  (baseline): Scenario[] =>
    [1, 64].map(
      (inFlight): Scenario => ({
        package: 'locks',
        name: `acquire+release (uncontended) ×${inFlight}`,
        backend: 'redis',
        baseline,
        inFlight,
        target: 1.2,
        needsRedis: true,
        setup: (ctx) => sides(baseline, ctx),
      }),
    ),
);
