import { isRedbrickError } from '@redbrick/core';
import { sleep, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadWriteLock, readWriteLockKeys } from '../src/index.js';

describe.each(worldTargets({ prefix: 'locks' }))('ReadWriteLock on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('lets readers share and keeps writers exclusive', async () => {
    const rw = new ReadWriteLock({ backend: world.backend });
    const other = new ReadWriteLock({ backend: await world.client() });
    const r1 = await rw.read('cfg');
    const r2 = await other.read('cfg');
    expect(r1.kind).toBe('read');
    expect(r2.fence).toBeGreaterThan(r1.fence);
    expect(await other.tryWrite('cfg')).toBeNull();
    await r1.release();
    expect(await other.tryWrite('cfg')).toBeNull();
    await r2.release();
    const w = await other.tryWrite('cfg');
    expect(w?.kind).toBe('write');
    expect(await rw.tryRead('cfg')).toBeNull();
    expect(await rw.tryWrite('cfg')).toBeNull();
    await w?.release();
    expect(await rw.tryRead('cfg')).not.toBeNull();
  });

  it('never lets a writer overlap anything under contention', async () => {
    const clients = [world.backend, await world.client(), await world.client()];
    const locks = clients.map((backend) => new ReadWriteLock({ backend }));
    let readers = 0;
    let writers = 0;
    let maxReaders = 0;
    const violations: string[] = [];
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const rw = locks[i % locks.length] as ReadWriteLock;
      if (i % 4 === 0) {
        return rw.withWrite(
          'doc',
          async () => {
            writers++;
            if (writers > 1 || readers > 0) violations.push(`write ${i}: ${writers}w ${readers}r`);
            await sleep(8);
            writers--;
          },
          { waitMs: 30_000 },
        );
      }
      return rw.withRead(
        'doc',
        async () => {
          readers++;
          maxReaders = Math.max(maxReaders, readers);
          if (writers > 0) violations.push(`read ${i}: ${writers}w`);
          await sleep(8);
          readers--;
        },
        { waitMs: 30_000 },
      );
    });
    await Promise.all(jobs);
    expect(violations).toEqual([]);
    expect(maxReaders).toBeGreaterThan(1);
  });

  it('a waiting writer holds back new readers, then goes first', async () => {
    const rw = new ReadWriteLock({ backend: world.backend });
    const writerSide = new ReadWriteLock({ backend: await world.client() });
    const reader = await rw.read('prio', { ttlMs: 30_000 });
    let wrote = false;
    const writing = writerSide
      .withWrite(
        'prio',
        async () => {
          wrote = true;
        },
        { waitMs: 20_000 },
      )
      .then(() => wrote);
    const { writerIntent } = readWriteLockKeys('prio');
    await until('the writer to announce itself', async () => {
      return (await world.backend.exists(writerIntent)) === 1;
    });
    expect(await rw.tryRead('prio')).toBeNull();
    await reader.release();
    expect(await writing).toBe(true);
    expect(await world.backend.exists(writerIntent)).toBe(0);
    expect(await rw.tryRead('prio')).not.toBeNull();
  });

  it('a writer that gives up lets held-back readers in', async () => {
    const rw = new ReadWriteLock({ backend: world.backend });
    const reader = await rw.read('give-up', { ttlMs: 30_000 });
    const error = await rw.write('give-up', { waitMs: 100 }).catch((e: unknown) => e);
    expect(isRedbrickError(error, 'LOCK_NOT_ACQUIRED')).toBe(true);
    const { writerIntent } = readWriteLockKeys('give-up');
    await until('the intent to be withdrawn', async () => {
      return (await world.backend.exists(writerIntent)) === 0;
    });
    expect(await rw.tryRead('give-up')).not.toBeNull();
    await reader.release();
  });

  it('leases of readers and writers lapse when their holders crash', async () => {
    const rw = new ReadWriteLock({ backend: world.backend });
    await rw.read('crash', { ttlMs: 300 });
    expect(await rw.tryWrite('crash')).toBeNull();
    await world.elapse(400);
    const w = await rw.tryWrite('crash', { ttlMs: 300 });
    expect(w).not.toBeNull();
    expect(await rw.tryRead('crash')).toBeNull();
    await world.elapse(400);
    expect(await rw.tryRead('crash')).not.toBeNull();
    expect(await w?.release()).toBe(false);
  });
});
