import { isRedbrickError } from '@redbrick/core';
import { counted, sleep, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Semaphore, semaphoreKeys } from '../src/index.js';

describe.each(worldTargets({ prefix: 'locks' }))('Semaphore on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('never admits more than N holders under contention', async () => {
    const clients = [world.backend, await world.client(), await world.client()];
    const semaphores = clients.map((backend) => new Semaphore({ backend, permits: 3 }));
    let inside = 0;
    let most = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        (semaphores[i % semaphores.length] as Semaphore).withPermit(
          'render',
          async () => {
            inside++;
            most = Math.max(most, inside);
            await sleep(10 + (i % 4) * 5);
            inside--;
            done++;
          },
          { waitMs: 20_000 },
        ),
      ),
    );
    expect(done).toBe(15);
    expect(most).toBe(3);
    expect(await semaphores[0]?.holders('render')).toEqual([]);
  });

  it('acquire and release are one round trip each; every lease has its own id and fence', async () => {
    const { backend, calls } = counted(world.backend);
    const semaphore = new Semaphore({ backend, permits: 2, owner: 'api-1' });
    const a = await semaphore.acquire('pool');
    expect(calls).toEqual(['run locks.semaphore.acquire']);
    const b = await semaphore.acquire('pool');
    expect(a.token).not.toBe(b.token);
    expect(b.fence).toBeGreaterThan(a.fence);
    expect(await semaphore.tryAcquire('pool')).toBeNull();
    const holders = await semaphore.holders('pool');
    expect(holders.map((h) => h.id).sort()).toEqual([a.token, b.token].sort());
    expect(holders.every((h) => h.owner === 'api-1' && h.ttlMs > 0)).toBe(true);
    calls.length = 0;
    expect(await a.release()).toBe(true);
    expect(calls).toEqual(['run locks.semaphore.release']);
    expect(await semaphore.release('pool', a.token)).toBe(false);
    const c = await semaphore.tryAcquire('pool');
    expect(c?.fence).toBeGreaterThan(b.fence);
  });

  it('a crashed holder’s permit frees itself when its lease lapses', async () => {
    const semaphore = new Semaphore({ backend: world.backend, permits: 2 });
    const other = new Semaphore({ backend: await world.client(), permits: 2 });
    // Two holders that "crash": never released, no watchdog.
    const crashed = [
      await semaphore.acquire('slots', { ttlMs: 300 }),
      await semaphore.acquire('slots', { ttlMs: 300 }),
    ];
    expect(await other.tryAcquire('slots')).toBeNull();
    await world.elapse(400);
    const lease = await other.tryAcquire('slots');
    expect(lease).not.toBeNull();
    // The crashed holders cannot extend or release what they lost.
    expect(await crashed[0]?.release()).toBe(false);
    await expect(crashed[1]?.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect((await other.holders('slots')).map((h) => h.id)).toEqual([lease?.token]);
  });

  it('a waiter gets a permit as soon as one is released, or when a lease lapses', async () => {
    const semaphore = new Semaphore({ backend: world.backend, permits: 1, maxRetryDelayMs: 5000 });
    const waiterSide = new Semaphore({
      backend: await world.client(),
      permits: 1,
      maxRetryDelayMs: 5000,
    });
    const held = await semaphore.acquire('one', { ttlMs: 30_000 });
    const waiting = waiterSide.acquire('one', { waitMs: 20_000 });
    await sleep(50);
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    expect(performance.now() - releasedAt).toBeLessThan(2000);
    await next.release();

    await semaphore.acquire('one', { ttlMs: 300 }); // lapses, never released
    const started = performance.now();
    const after = await waiterSide.acquire('one', { waitMs: 10_000 });
    expect(performance.now() - started).toBeLessThan(5000);
    await after.release();
  });

  it('fails with LOCK_NOT_ACQUIRED when no permit frees up in time', async () => {
    const semaphore = new Semaphore({ backend: world.backend, permits: 1 });
    await semaphore.acquire('full', { ttlMs: 30_000 });
    const error = await semaphore.acquire('full', { waitMs: 100 }).catch((e: unknown) => e);
    expect(isRedbrickError(error, 'LOCK_NOT_ACQUIRED')).toBe(true);
    expect(String((error as Error).message)).toContain('all 1 permits are held');
  });

  it('extend keeps a lease valid; the watchdog does it for long sections', async () => {
    const semaphore = new Semaphore({ backend: world.backend, permits: 1 });
    const lease = await semaphore.acquire('ext', { ttlMs: 500 });
    await lease.extend(60_000);
    const [holder] = await semaphore.holders('ext');
    expect(holder?.ttlMs).toBeGreaterThan(50_000);
    expect(await semaphore.extend('ext', lease.token, 1000)).toBe(true);
    await lease.release();
    const out = await semaphore.withPermit(
      'ext',
      async (l) => {
        await sleep(700);
        return l.lost;
      },
      { ttlMs: 250 },
    );
    expect(out).toBe(false);
    expect(await world.backend.exists(semaphoreKeys('ext').leases)).toBe(0);
  });
});
