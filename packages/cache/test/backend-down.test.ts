import { isRedbrickError } from '@redbrick/core';
import { describeFaults, sleep, until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/index.js';

/*
 * Real faults: the throwaway server (or every cluster node) SIGKILLed during
 * a read-heavy run, and paused with CLIENT PAUSE. Cached keys keep being
 * served from L1 / grace values, no call outlives the configured timeout,
 * and everything works again after a restart. Memory cannot die.
 */

const TIMEOUT_MS = 300;
/** Generous slack over the timeout for a loaded 2-core machine. */
const BOUND_MS = TIMEOUT_MS + 700;
const KEYS = Array.from({ length: 20 }, (_, i) => `user:${i}`);

async function timed<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describeFaults('Redis down', { prefix: 'cache' }, (ctx) => {
  it('killed during a read-heavy run: cached reads keep succeeding, nothing hangs, all recovers', async () => {
    const { world, servers } = ctx;
    const backend = await world.client({ redis: { commandTimeoutMs: 2000 } });
    await using cache = createCache<{ id: number }>({
      backend,
      ttlMs: 200,
      graceMs: 120_000,
      backendTimeoutMs: TIMEOUT_MS,
    });
    await cache.ready();
    await cache.setMany(KEYS.map((key, id) => ({ key, value: { id } })));
    for (const k of KEYS) expect(await cache.get(k)).toBeDefined();

    await Promise.all(servers.map((s) => s.kill()));
    const results: Array<{ ms: number; value?: unknown; error?: unknown }> = [];
    const until2s = Date.now() + 2000; // past the TTL: fresh L1 hits, then grace values
    let i = 0;
    while (Date.now() < until2s) {
      const k = KEYS[i++ % KEYS.length] as string;
      const batch = await Promise.all([
        timed(() => cache.get(k)),
        timed(() => cache.getOrSet(k, async () => ({ id: -1 }))),
        timed(() => cache.getMany([k, KEYS[0] as string])),
      ]);
      results.push(...batch);
      await sleep(5);
    }
    expect(results.length).toBeGreaterThan(30);
    const failures = results.filter((r) => r.error !== undefined);
    expect(failures.map((r) => String(r.error))).toEqual([]);
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(BOUND_MS);
    expect(results.every((r) => r.value !== undefined)).toBe(true);
    expect(cache.stats().staleServed).toBeGreaterThan(0);

    // A key that was never cached surfaces the outage with its code, quickly.
    const cold = await timed(() => cache.get('never-cached'));
    expect(isRedbrickError(cold.error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(cold.ms).toBeLessThan(BOUND_MS);

    await Promise.all(servers.map((s) => s.restart()));
    await until(
      'the cache writes and reads again',
      async () => {
        await cache.set('after', { id: 99 });
        return (await createCache<{ id: number }>({ backend, l1: false }).get('after'))?.id === 99;
      },
      30_000,
    );
    expect(await cache.ping()).toBeGreaterThanOrEqual(0);
    expect(cache.isConnected).toBe(true);
    // The killed server lost its data (no persistence): getOrSet recomputes and stores again.
    expect(await cache.getOrSet('user:1', async () => ({ id: 1001 }))).toEqual({ id: 1001 });
  }, 60_000);

  it('created while Redis is down: keeps nothing in L1 until its invalidation channel is subscribed, then stays coherent', async () => {
    const { world, servers } = ctx;
    const writerBackend = await world.client();
    const readerBackend = await world.client({ redis: { commandTimeoutMs: 500 } });
    await using writer = createCache<number>({ backend: writerBackend, name: 'late' });
    await writer.ready();
    await writer.set('k', 1);

    await Promise.all(servers.map((s) => s.kill()));
    // The subscription fails now; it is retried in the background.
    const reader = createCache<number>({ backend: readerBackend, name: 'late' });
    const errors: string[] = [];
    reader.on('error', (e) => errors.push(e.operation));
    const readyAt = reader.ready().then(() => Date.now());
    try {
      await until(
        'the first subscription attempt to fail',
        () => errors.includes('subscribe'),
        10_000,
      );
      expect(await reader.get('k').catch((e: unknown) => e)).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
    } finally {
      await Promise.all(servers.map((s) => (s.running ? undefined : s.restart())));
    }
    // The restarted server kept no data: write the first value again.
    await until(
      'the writer writes again',
      () =>
        writer.set('k', 1).then(
          () => true,
          () => false,
        ),
      30_000,
    );
    await until(
      'the reader reads the value',
      async () => (await reader.get('k').catch(() => 0)) === 1,
      30_000,
    );
    const subscribed = await readyAt;

    // Every later write reaches the reader's L1 as an invalidation: never an old value for good.
    for (let v = 2; v <= 6; v++) {
      await until(
        'the writer writes',
        () =>
          writer.set('k', v).then(
            () => true,
            () => false,
          ),
        30_000,
      );
      const since = Date.now();
      await until(`the reader sees ${v}`, async () => (await reader.get('k')) === v, 5000);
      expect(Date.now() - since).toBeLessThan(5000);
    }
    expect(subscribed).toBeGreaterThan(0);
    // L1 is in use again, not bypassed: with no write in between, a repeated read is an L1 hit.
    await reader.get('k');
    await sleep(100);
    const l1Hits = reader.stats().l1Hits;
    expect(await reader.get('k')).toBe(6);
    expect(await reader.get('k')).toBe(6);
    expect(reader.stats().l1Hits).toBeGreaterThan(l1Hits);
    await reader.close();
  });

  it('paused: every call returns within the timeout, from L1 / grace or with BACKEND_UNAVAILABLE', async () => {
    const { world, servers } = ctx;
    const backend = await world.client({ redis: { commandTimeoutMs: 5000 } });
    await using cache = createCache<number>({
      backend,
      ttlMs: 100,
      graceMs: 60_000,
      backendTimeoutMs: TIMEOUT_MS,
    });
    await cache.set('warm', 1);
    await sleep(150); // stale now: a read must try the backend first
    await Promise.all(servers.map((s) => s.pause(2500)));
    const reads = await Promise.all([
      timed(() => cache.get('warm')),
      timed(() => cache.getOrSet('warm', async () => 2)),
      timed(() => cache.get('cold')),
    ]);
    expect(reads[0]?.value).toBe(1);
    expect(reads[1]?.value).toBe(1);
    expect(isRedbrickError(reads[2]?.error, 'BACKEND_UNAVAILABLE')).toBe(true);
    for (const r of reads) expect(r.ms).toBeLessThan(BOUND_MS);
    await sleep(2600);
    await until('the server answers again', async () => (await cache.ping()) >= 0, 10_000);
  }, 30_000);
});

describe.each(
  worldTargets({ prefix: 'cache' }).filter(
    (t) => t.name === 'memory' || t.name === 'shared-memory',
  ),
)('backend closed on $name', (t) => {
  it('cached reads keep succeeding from L1 / grace, cold reads fail fast with the backend code', async () => {
    await using world = await t.open();
    const backend = await world.client();
    await using cache = createCache<number>({
      backend,
      ttlMs: 100,
      graceMs: 60_000,
      backendTimeoutMs: TIMEOUT_MS,
    });
    await cache.setMany(KEYS.map((key, i) => ({ key, value: i })));
    await world.close(); // the memory backend cannot die; closing it is its outage
    await sleep(150);
    const reads = await Promise.all([
      timed(() => cache.get('user:1')),
      timed(() => cache.getOrSet('user:2', async () => -1)),
      timed(() => cache.getMany(['user:3', 'user:4'])),
      timed(() => cache.get('cold')),
    ]);
    expect(reads.slice(0, 3).map((r) => r.value)).toEqual([1, 2, [3, 4]]);
    expect(isRedbrickError(reads[3]?.error)).toBe(true);
    for (const r of reads) expect(r.ms).toBeLessThan(BOUND_MS);
    expect(cache.stats().staleServed).toBe(3 + 1);
  });
});
