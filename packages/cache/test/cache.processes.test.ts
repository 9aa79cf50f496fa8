import { sleep, until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/index.js';
import { startWorker } from './support/processes.js';

/*
 * Claims that span processes. On redis and cluster the instances live in
 * separate child processes (forked workers importing the built package);
 * the memory backend cannot be shared across processes, so there the same
 * claims run with several cache instances in this process, each on its own
 * client of the world. On shared-memory those are separate IPC clients of
 * the host (its config cannot carry the channel to another process).
 */

const PROCESSES = 3;
const CALLS = 1000;
const FACTORY_MS = 300;
const VERSIONS = 15;

describe.each(worldTargets({ prefix: 'cache' }))('$name', (t) => {
  it('1,000 concurrent getOrSet per process: once per process, once overall with distributed single-flight', async () => {
    await using world = await t.open();
    for (const singleFlight of ['process', 'distributed'] as const) {
      const key = `cold-${singleFlight}`;
      await world.backend.del('factory-runs');
      if (t.name === 'memory' || t.name === 'shared-memory') {
        const clients = await Promise.all(Array.from({ length: PROCESSES }, () => world.client()));
        const caches = clients.map((backend) =>
          createCache<{ from: number }>({ backend, singleFlight }),
        );
        const local = caches.map(() => 0);
        await Promise.all(
          caches.flatMap((cache, id) =>
            Array.from({ length: CALLS }, () =>
              cache.getOrSet(key, async () => {
                local[id] = (local[id] ?? 0) + 1;
                await sleep(FACTORY_MS);
                return { from: id };
              }),
            ),
          ),
        );
        for (const c of caches) await c.close();
        expect(local.every((n) => n <= 1)).toBe(true);
        const total = local.reduce((a, b) => a + b, 0);
        expect(total).toBe(singleFlight === 'distributed' ? 1 : PROCESSES);
        continue;
      }
      const config = await t.target.config();
      const workers = Array.from({ length: PROCESSES }, (_, id) =>
        startWorker({
          mode: 'stampede',
          config,
          prefix: world.prefix,
          key,
          singleFlight,
          calls: CALLS,
          factoryMs: FACTORY_MS,
          id,
        }),
      );
      for (const w of workers) expect(await w.next()).toEqual({ ready: true });
      for (const w of workers) w.send({ go: true });
      const reports = await Promise.all(
        workers.map((w) => w.next<{ local: number; values: number[]; calls: number }>()),
      );
      const exits = await Promise.all(workers.map((w) => w.exited));
      for (const e of exits) expect(e.stderr).toBe('');
      for (const r of reports) {
        expect(r.calls).toBe(CALLS);
        expect(r.local).toBeLessThanOrEqual(1);
        expect(r.values).toHaveLength(1); // every call of a process got the same value
      }
      const runs = Number(await world.backend.get('factory-runs'));
      expect(runs).toBe(singleFlight === 'distributed' ? 1 : PROCESSES);
      if (singleFlight === 'distributed') {
        // Everyone got the one computed value.
        expect(new Set(reports.flatMap((r) => r.values)).size).toBe(1);
      }
    }
  }, 60_000);

  it('after a set on A, B never serves the old value from L1 once the invalidation arrives', async () => {
    await using world = await t.open();
    await using a = createCache<{ v: number }>({ backend: world.backend, ttlMs: 600_000 });
    await a.set('k', { v: 0 });
    const setAt: number[] = [0];
    if (t.name === 'memory' || t.name === 'shared-memory') {
      await using b = createCache<{ v: number }>({
        backend: await world.client(),
        ttlMs: 600_000,
      });
      await b.ready();
      expect(await b.get('k')).toEqual({ v: 0 });
      for (let v = 1; v <= VERSIONS; v++) {
        await a.set('k', { v });
        await until(`B reads version ${v}`, async () => (await b.get('k'))?.v === v, 5000);
      }
      // B's L1 is in play: with no new invalidation, the latest version is served from it.
      const hits = b.stats().l1Hits;
      expect(await b.get('k')).toEqual({ v: VERSIONS });
      expect(b.stats().l1Hits).toBe(hits + 1);
      return;
    }
    const reader = startWorker({
      mode: 'reader',
      config: await t.target.config(),
      prefix: world.prefix,
    });
    expect(await reader.next()).toEqual({ ready: true });
    await sleep(100);
    for (let v = 1; v <= VERSIONS; v++) {
      setAt[v] = Date.now();
      await a.set('k', { v });
      await sleep(60);
    }
    await sleep(300);
    reader.send({ stop: true });
    const report = await reader.next<{
      firstSeen: Record<string, number>;
      arrivals: number[];
      violations: unknown[];
      reads: number;
      stats: { l1Hits: number; l2Hits: number };
    }>();
    const exit = await reader.exited;
    expect(exit.stderr).toBe('');
    expect(report.violations).toEqual([]);
    expect(report.arrivals).toHaveLength(VERSIONS);
    // Most reads are answered by B's L1: the claim is about a warm L1.
    expect(report.stats.l1Hits).toBeGreaterThan(report.stats.l2Hits);
    const delays: number[] = [];
    for (let v = 1; v <= VERSIONS; v++) {
      const seen = report.firstSeen[String(v)];
      expect(seen, `B saw version ${v}`).toBeTypeOf('number');
      delays.push((seen as number) - (setAt[v] as number));
    }
    const worst = Math.max(...delays);
    console.log(
      `[${t.name}] invalidation delay A.set → B reads new value: median ${delays.sort((x, y) => x - y)[Math.floor(delays.length / 2)]} ms, worst ${worst} ms over ${VERSIONS} writes, ${report.reads} reads`,
    );
    expect(worst).toBeLessThan(2000);
  }, 60_000);
});
