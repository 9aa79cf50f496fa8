import { isRedbrickError } from '@redbrick/core';
import { sleep, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CountDownLatch } from '../src/index.js';

describe.each(worldTargets({ prefix: 'locks' }))('CountDownLatch on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('opens exactly when the count reaches zero', async () => {
    const latch = new CountDownLatch({ backend: world.backend, maxRetryDelayMs: 5000 });
    const worker = new CountDownLatch({ backend: await world.client() });
    expect(await latch.create('import', 3)).toBe(true);
    expect(await latch.create('import', 5)).toBe(false);
    let openedAt = 0;
    const waiting = latch.wait('import', { waitMs: 20_000 }).then(() => {
      openedAt = performance.now();
    });
    expect(await worker.countDown('import')).toBe(2);
    expect(await worker.countDown('import')).toBe(1);
    await sleep(50);
    expect(openedAt).toBe(0);
    const closed = await latch.wait('import', { waitMs: 60 }).catch((e: unknown) => e);
    expect(isRedbrickError(closed, 'TIMEOUT')).toBe(true);
    expect(await latch.count('import')).toBe(1);
    const lastAt = performance.now();
    expect(await worker.countDown('import')).toBe(0);
    await waiting;
    expect(openedAt).toBeGreaterThanOrEqual(lastAt);
    expect(openedAt - lastAt).toBeLessThan(2000); // woken by pub/sub, not the 2.5 s+ poll
    expect(await worker.countDown('import')).toBe(0); // never below zero
    await latch.wait('import', { waitMs: 0 }); // open stays open
  });

  it('counts down exactly once per call under concurrency', async () => {
    const clients = [world.backend, await world.client(), await world.client()];
    const latches = clients.map((backend) => new CountDownLatch({ backend }));
    await latches[0]?.create('fan-in', 20);
    const remaining = await Promise.all(
      Array.from({ length: 20 }, (_, i) => latches[i % 3]?.countDown('fan-in')),
    );
    expect([...remaining].sort((a, b) => (a ?? -1) - (b ?? -1))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    await latches[1]?.wait('fan-in', { waitMs: 0 });
  });

  it('a latch that does not exist is closed and cannot be counted down', async () => {
    const latch = new CountDownLatch({ backend: world.backend });
    expect(await latch.countDown('ghost')).toBeNull();
    expect(await latch.count('ghost')).toBeNull();
    const error = await latch.wait('ghost', { waitMs: 50 }).catch((e: unknown) => e);
    expect(isRedbrickError(error, 'TIMEOUT')).toBe(true);
    await latch.create('short', 1, { ttlMs: 200 });
    await world.elapse(300);
    expect(await latch.count('short')).toBeNull();
    await latch.create('gone', 1);
    expect(await latch.delete('gone')).toBe(true);
    const controller = new AbortController();
    const waiting = latch.wait('gone', { waitMs: 10_000, signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
