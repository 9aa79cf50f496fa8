import { isRedbrickError } from '@redbrick/core';
import { counted, sleep, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fencedRead, fencedWrite, type LockLostError, Mutex, mutexKeys } from '../src/index.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe.each(worldTargets({ prefix: 'locks' }))('Mutex on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('is exclusive, and acquire and release are one round trip each', async () => {
    const { backend, calls } = counted(world.backend);
    const a = new Mutex({ backend });
    const b = new Mutex({ backend: await world.client() });
    const lease = await a.acquire('orders:42', { ttlMs: 5000 });
    expect(calls).toEqual(['run locks.mutex.acquire']);
    expect(lease.kind).toBe('mutex');
    expect(lease.held).toBe(true);
    expect(await b.tryAcquire('orders:42')).toBeNull();
    expect(await b.tryAcquire('orders:43')).not.toBeNull();
    calls.length = 0;
    expect(await lease.release()).toBe(true);
    expect(calls).toEqual(['run locks.mutex.release']);
    expect(lease.released).toBe(true);
    expect(lease.lost).toBe(false);
    expect(await b.tryAcquire('orders:42')).not.toBeNull();
  });

  it('hands out strictly increasing fencing tokens per resource', async () => {
    const mutexes = [
      new Mutex({ backend: world.backend }),
      new Mutex({ backend: await world.client() }),
    ];
    const fences: number[] = [];
    for (let i = 0; i < 8; i++) {
      const lease = await (mutexes[i % 2] as Mutex).acquire('res', { ttlMs: 100 });
      fences.push(lease.fence);
      // Half are released, half just lapse: expiry must not reset the counter.
      if (i % 2 === 0) await lease.release();
      else await world.elapse(150);
    }
    for (let i = 1; i < fences.length; i++) {
      expect(fences[i]).toBeGreaterThan(fences[i - 1] as number);
    }
    const other = await mutexes[0]?.acquire('other-res');
    expect(other?.fence).toBe(1);
  });

  it('a lease nobody watches (no watchdog, onLost or signal) still reports running out', async () => {
    const mutex = new Mutex({ backend: world.backend });
    const quiet = await mutex.acquire('quiet', { ttlMs: 60 });
    const watched = await mutex.acquire('watched', { ttlMs: 60 });
    const signal = watched.signal;
    expect(signal.aborted).toBe(false);
    await sleep(150);
    // the read signal aborted on its own, at expiry
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ code: 'LOCK_LOST' });
    // the unwatched lease notices when looked at, with the same outcome
    expect(quiet.held).toBe(false);
    expect(quiet.lost).toBe(true);
    expect(quiet.lostError?.message).toMatch(/ran out after 60 ms/);
    expect(quiet.signal.aborted).toBe(true);
    const late = await mutex.acquire('late', { ttlMs: 60 });
    await sleep(150);
    await late.release();
    expect(late.lost).toBe(true);
    expect(late.released).toBe(false);
  });

  it('never deletes another owner’s lock on a wrong or expired token', async () => {
    const mutex = new Mutex({ backend: world.backend });
    const rival = new Mutex({ backend: await world.client() });
    const a = await mutex.acquire('doc', { ttlMs: 200 });
    expect(await mutex.release('doc', 'someone#else')).toBe(false);
    expect(await mutex.release('doc', `${a.token}x`)).toBe(false);
    expect((await mutex.holder('doc'))?.token).toBe(a.token);

    await world.elapse(300);
    const b = await rival.acquire('doc', { ttlMs: 10_000 });
    expect(await a.release()).toBe(false);
    expect(a.lost).toBe(true);
    expect(await mutex.release('doc', a.token)).toBe(false);
    await expect(a.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect(await mutex.extend('doc', a.token)).toBe(false);
    const holder = await rival.holder('doc');
    expect(holder?.token).toBe(b.token);
    expect(holder?.ttlMs).toBeGreaterThan(5000);
    expect(await b.release()).toBe(true);
    expect(await rival.holder('doc')).toBeNull();
  });

  it('extends a held lease and reports the owner', async () => {
    const mutex = new Mutex({ backend: world.backend, owner: 'worker-7' });
    const lease = await mutex.acquire('job', { ttlMs: 1000 });
    await lease.extend(60_000);
    expect(lease.ttlMs).toBe(60_000);
    expect(lease.remainingMs).toBeGreaterThan(50_000);
    const holder = await mutex.holder('job');
    expect(holder).toMatchObject({ owner: 'worker-7', token: lease.token });
    expect(holder?.ttlMs).toBeGreaterThan(50_000);
    expect(await mutex.extend('job', lease.token, 2000)).toBe(true);
    expect((await mutex.holder('job'))?.ttlMs).toBeLessThanOrEqual(2000);
    await lease.release();
  });

  it('fails with LOCK_NOT_ACQUIRED when the wait runs out', async () => {
    const mutex = new Mutex({ backend: world.backend, retryDelayMs: 10, maxRetryDelayMs: 40 });
    const held = await mutex.acquire('busy', { ttlMs: 10_000 });
    const started = performance.now();
    const error = await rejection(mutex.acquire('busy', { waitMs: 150 }));
    const waited = performance.now() - started;
    expect(isRedbrickError(error, 'LOCK_NOT_ACQUIRED')).toBe(true);
    expect(error).toMatchObject({ key: 'busy', waitedMs: 150 });
    expect(String((error as Error).message)).toMatch(/^\[redbrick\/locks\] mutex "busy"/);
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(3000);
    await held.release();
  });

  it('wakes a waiter by pub/sub as soon as the holder releases', async () => {
    // Polling alone would take at least 2.5 s here (maxRetryDelayMs 5000, jittered ≥ half).
    const holder = new Mutex({ backend: world.backend });
    const waiter = new Mutex({ backend: await world.client(), maxRetryDelayMs: 5000 });
    const lease = await holder.acquire('hand-over', { ttlMs: 30_000 });
    let acquiredAt = 0;
    const waiting = waiter.acquire('hand-over', { waitMs: 20_000 }).then((l) => {
      acquiredAt = performance.now();
      return l;
    });
    await sleep(100);
    const releasedAt = performance.now();
    await lease.release();
    const next = await waiting;
    expect(next.fence).toBe(lease.fence + 1);
    expect(acquiredAt - releasedAt).toBeLessThan(2000);
    await next.release();
  });

  it('gives the lock to a waiter when the holder’s lease runs out', async () => {
    const holder = new Mutex({ backend: world.backend });
    const waiter = new Mutex({ backend: await world.client() });
    await holder.acquire('crashed', { ttlMs: 300 }); // never released: the holder "crashed"
    const started = performance.now();
    const lease = await waiter.acquire('crashed', { waitMs: 10_000 });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(5000);
    await lease.release();
  });

  it('stops waiting on abort and never keeps a lock it no longer wants', async () => {
    const holder = new Mutex({ backend: world.backend });
    const waiter = new Mutex({ backend: await world.client() });
    const lease = await holder.acquire('abort', { ttlMs: 30_000 });
    const controller = new AbortController();
    const waiting = waiter.acquire('abort', { waitMs: 30_000, signal: controller.signal });
    await sleep(50);
    const reason = new Error('user went away');
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    await lease.release();
    const third = await holder.tryAcquire('abort');
    expect(third).not.toBeNull();
    await third?.release();
    await expect(
      waiter.acquire('abort', { signal: AbortSignal.abort(new Error('already')) }),
    ).rejects.toThrow('already');
  });

  it('withLock always releases: after success and after a throw', async () => {
    const mutex = new Mutex({ backend: world.backend });
    const value = await mutex.withLock('w', async (lease) => {
      expect(lease.signal.aborted).toBe(false);
      expect((await mutex.holder('w'))?.token).toBe(lease.token);
      return 42;
    });
    expect(value).toBe(42);
    expect(await mutex.holder('w')).toBeNull();
    const boom = new Error('boom');
    expect(
      await rejection(
        mutex.withLock('w', () => {
          throw boom;
        }),
      ),
    ).toBe(boom);
    expect(await mutex.holder('w')).toBeNull();
  });

  it('supports await using: released at the end of the block', async () => {
    const mutex = new Mutex({ backend: world.backend });
    {
      await using lease = await mutex.acquire('scoped');
      expect((await mutex.holder('scoped'))?.token).toBe(lease.token);
    }
    expect(await mutex.holder('scoped')).toBeNull();
  });

  it('await using throws LOCK_LOST when the lease was lost inside the block', async () => {
    const mutex = new Mutex({ backend: world.backend });
    const error = await rejection(
      (async () => {
        await using lease = await mutex.acquire('scoped-lost', { ttlMs: 100 });
        expect(lease.fence).toBeGreaterThan(0);
        await world.elapse(200);
        await sleep(150); // also past the local deadline
      })(),
    );
    expect(isRedbrickError(error, 'LOCK_LOST')).toBe(true);
  });

  it('the watchdog keeps a long critical section’s lease alive', async () => {
    const mutex = new Mutex({ backend: world.backend });
    const rival = new Mutex({ backend: await world.client() });
    const lost: unknown[] = [];
    const result = await mutex.withLock(
      'long',
      async (lease) => {
        await sleep(700); // more than two TTLs
        expect(lease.lost).toBe(false);
        expect(await rival.tryAcquire('long')).toBeNull();
        return 'done';
      },
      { ttlMs: 300, onLost: (e) => void lost.push(e) },
    );
    expect(result).toBe('done');
    expect(lost).toEqual([]);
  });

  it('a holder paused past its TTL (no watchdog) cannot make a fenced write after another holder acquired', async () => {
    const backendB = await world.client();
    const a = new Mutex({ backend: world.backend });
    const b = new Mutex({ backend: backendB });
    const leaseA = await a.acquire('ledger', { ttlMs: 200, watchdog: false });
    expect((await fencedWrite(world.backend, 'ledger:data', leaseA.fence, 'a1')).written).toBe(
      true,
    );

    await world.elapse(400); // A is "paused" (GC, VM stall) past its lease

    const leaseB = await b.acquire('ledger', { ttlMs: 10_000 });
    expect(leaseB.fence).toBeGreaterThan(leaseA.fence);
    expect(await fencedWrite(backendB, 'ledger:data', leaseB.fence, 'b1')).toEqual({
      written: true,
      fence: leaseB.fence,
    });

    // A wakes up and writes as if it still held the lock: rejected.
    expect(await fencedWrite(world.backend, 'ledger:data', leaseA.fence, 'a2')).toEqual({
      written: false,
      fence: leaseB.fence,
    });
    expect(await fencedRead(world.backend, 'ledger:data')).toEqual({
      value: 'b1',
      fence: leaseB.fence,
    });
    expect(await leaseA.release()).toBe(false);
    expect((await b.holder('ledger'))?.token).toBe(leaseB.token);
    await leaseB.release();
  });

  it('an event loop blocked past the TTL aborts fn’s signal, calls onLost, and rejects with LOCK_LOST', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const mutex = new Mutex({ backend: world.backend });
      const rival = new Mutex({ backend: await world.client() });
      const lost: LockLostError[] = [];
      let sawAbort = false;
      const error = await rejection(
        mutex.withLock(
          'blocked',
          async (lease) => {
            const until = performance.now() + 700;
            while (performance.now() < until) {
              // busy: timers (the watchdog) cannot run
            }
            await new Promise<void>((resolve) => {
              if (lease.signal.aborted) resolve();
              lease.signal.addEventListener('abort', () => resolve(), { once: true });
              setTimeout(resolve, 3000);
            });
            sawAbort = lease.signal.aborted;
            // Someone else may take over now that the lease is gone.
            const other = await rival.acquire('blocked', { waitMs: 2000 });
            await other.release();
          },
          { ttlMs: 200, onLost: (e) => void lost.push(e) },
        ),
      );
      expect(sawAbort).toBe(true);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.code).toBe('LOCK_LOST');
      expect(isRedbrickError(error, 'LOCK_LOST')).toBe(true);
      await sleep(50);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('fair mode hands the lock over in arrival order, waking only the next waiter', async () => {
    const clients = [world.backend, await world.client(), await world.client()];
    const mutexes = clients.map((backend) => new Mutex({ backend, fair: true }));
    const first = mutexes[0] as Mutex;
    const holder = await first.acquire('fifo', { ttlMs: 30_000 });
    const { queue } = mutexKeys('fifo');
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 6; i++) {
      const m = mutexes[i % mutexes.length] as Mutex;
      waiters.push(
        m.withLock(
          'fifo',
          async () => {
            order.push(i);
          },
          { waitMs: 20_000 },
        ),
      );
      await until(`waiter ${i} to queue`, async () => (await world.backend.zcard(queue)) === i + 1);
    }
    // A newcomer may not jump the queue even though it asks at a free moment.
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await world.backend.exists(queue)).toBe(0);
  });

  it('fair mode: a waiter that gives up leaves the queue', async () => {
    const mutex = new Mutex({ backend: world.backend, fair: true });
    const holder = await mutex.acquire('fifo-leave', { ttlMs: 30_000 });
    const { queue } = mutexKeys('fifo-leave');
    await expect(mutex.acquire('fifo-leave', { waitMs: 100 })).rejects.toMatchObject({
      code: 'LOCK_NOT_ACQUIRED',
    });
    await until('the queue to empty', async () => (await world.backend.zcard(queue)) === 0);
    await holder.release();
    expect(await mutex.tryAcquire('fifo-leave')).not.toBeNull();
  });

  it('fails fast with the backend’s error when it cannot be used', async () => {
    const other = await t.open();
    const mutex = new Mutex({ backend: other.backend });
    await other.close();
    const started = performance.now();
    const error = await rejection(mutex.acquire('x', { waitMs: 10_000 }));
    expect(isRedbrickError(error)).toBe(true);
    expect((error as { code: string }).code).not.toBe('LOCK_NOT_ACQUIRED');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
