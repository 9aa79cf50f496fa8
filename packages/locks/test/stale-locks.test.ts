import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isLocalOwnerGone,
  listLocks,
  Mutex,
  ReadWriteLock,
  removeStaleLocks,
  Semaphore,
} from '../src/index.js';

describe.each(worldTargets({ prefix: 'locks' }))('stale-lock cleanup on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('lists every holder with its owner and remaining lease', async () => {
    const mutex = new Mutex({ backend: world.backend, owner: 'api-1' });
    const semaphore = new Semaphore({ backend: world.backend, permits: 3, owner: 'api-2' });
    const rw = new ReadWriteLock({ backend: world.backend, owner: 'api-3' });
    const m = await mutex.acquire('orders:1');
    const s = await semaphore.acquire('exports');
    const r = await rw.read('config');
    const w = await rw.write('schema');
    const found = [];
    for await (const record of listLocks(world.backend)) found.push(record);
    const view = found
      .map(({ kind, name, owner, token }) => ({ kind, name, owner, token }))
      .sort((a, b) => a.kind.localeCompare(b.kind));
    expect(view).toEqual([
      { kind: 'mutex', name: 'orders:1', owner: 'api-1', token: m.token },
      { kind: 'read', name: 'config', owner: 'api-3', token: r.token },
      { kind: 'semaphore', name: 'exports', owner: 'api-2', token: s.token },
      { kind: 'write', name: 'schema', owner: 'api-3', token: w.token },
    ]);
    expect(found.every((f) => f.ttlMs > 25_000 && f.ttlMs <= 30_000)).toBe(true);
  });

  it('removes only the leases of owners that are gone, and wakes their waiters', async () => {
    const dead = new Mutex({ backend: world.backend, owner: 'worker-dead' });
    const alive = new Mutex({ backend: world.backend, owner: 'worker-alive' });
    const deadSem = new Semaphore({ backend: world.backend, permits: 1, owner: 'worker-dead' });
    await dead.acquire('a', { ttlMs: 60_000 });
    const kept = await alive.acquire('b', { ttlMs: 60_000 });
    await deadSem.acquire('pool', { ttlMs: 60_000 });
    const waiter = new Mutex({ backend: await world.client(), maxRetryDelayMs: 5000 });
    const waiting = waiter.acquire('a', { waitMs: 20_000 });

    const isOwnerGone = (owner: string) => owner === 'worker-dead';
    const preview = await removeStaleLocks(world.backend, { isOwnerGone, dryRun: true });
    expect(preview.map((r) => r.name).sort()).toEqual(['a', 'pool']);
    expect(await alive.holder('a')).not.toBeNull();

    const started = performance.now();
    const removed = await removeStaleLocks(world.backend, { isOwnerGone });
    expect(removed.map((r) => `${r.kind}:${r.name}`).sort()).toEqual(['mutex:a', 'semaphore:pool']);
    const lease = await waiting;
    expect(performance.now() - started).toBeLessThan(2000); // woken, not polled
    expect((await alive.holder('b'))?.token).toBe(kept.token);
    expect(await deadSem.tryAcquire('pool')).not.toBeNull();
    await lease.release();
  });

  it('sweeps lapsed semaphore and read leases whatever their owner', async () => {
    const semaphore = new Semaphore({ backend: world.backend, permits: 2 });
    const rw = new ReadWriteLock({ backend: world.backend });
    // A long lease keeps each key alive, so the lapsed one stays until swept.
    const lapsed = await semaphore.acquire('pool', { ttlMs: 200 });
    const live = await semaphore.acquire('pool', { ttlMs: 60_000 });
    const lapsedReader = await rw.read('cfg', { ttlMs: 200 });
    const reader = await rw.read('cfg', { ttlMs: 60_000 });
    await world.elapse(300);
    const removed = await removeStaleLocks(world.backend, { isOwnerGone: () => false });
    expect(removed.map((r) => r.token).sort()).toEqual([lapsed.token, lapsedReader.token].sort());
    const left = [];
    for await (const record of listLocks(world.backend)) left.push(record.token);
    expect(left.sort()).toEqual([live.token, reader.token].sort());
  });
});

describe('isLocalOwnerGone', () => {
  it('knows processes on this host, and never guesses about others', () => {
    expect(isLocalOwnerGone(`${hostname()}:${process.pid}`)).toBe(false);
    const finished = spawnSync(process.execPath, ['-e', '0']);
    expect(finished.pid).toBeGreaterThan(0);
    expect(isLocalOwnerGone(`${hostname()}:${finished.pid}`)).toBe(true);
    expect(isLocalOwnerGone(`some-other-host:${finished.pid}`)).toBe(false);
    expect(isLocalOwnerGone('custom-owner')).toBe(false);
  });
});
