import { isRedbrickError } from '@redbrick/core';
import { describeFaults, sleep } from '@redbrick/testkit';
import { expect, it } from 'vitest';
import { type LockLostError, Mutex } from '../src/index.js';

/*
 * Redis killed mid-run (SIGKILL of the throwaway server, or of every
 * cluster node): acquire fails fast with BACKEND_UNAVAILABLE instead of
 * waiting out `waitMs`, and a lock held by the watchdog reports itself
 * lost instead of silently continuing. Memory cannot die; its closed
 * backend failing fast is in the behaviour suite.
 */
describeFaults('Redis killed', { prefix: 'locks' }, (ctx, t) => {
  it('acquire fails fast with BACKEND_UNAVAILABLE and watchdog-held locks report lost', async () => {
    const { world, servers } = ctx;
    const backend = await world.client({ redis: { commandTimeoutMs: 500 } });
    const mutex = new Mutex({ backend, ttlMs: 600 });
    const lost: LockLostError[] = [];
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let abortedAfterMs = -1;
    const killedAt = { ms: 0 };
    const critical = mutex
      .withLock(
        'job',
        async (lease) => {
          entered();
          await new Promise<void>((resolve) => {
            lease.signal.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 8000);
          });
          abortedAfterMs = lease.signal.aborted ? performance.now() - killedAt.ms : -1;
        },
        { onLost: (e) => void lost.push(e) },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await inside;
    await sleep(300); // the watchdog has extended at least once

    killedAt.ms = performance.now();
    await Promise.all(servers.map((s) => s.kill()));

    const started = performance.now();
    const error = await mutex.acquire('other', { waitMs: 30_000 }).catch((e: unknown) => e);
    const failedAfter = performance.now() - started;
    expect(isRedbrickError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(failedAfter).toBeLessThan(3000);

    const outcome = await critical;
    console.log(
      `[${t.name}] after the kill: acquire failed in ${failedAfter.toFixed(0)} ms (${(error as Error).message}); the held lock was reported lost after ${abortedAfterMs.toFixed(0)} ms`,
    );
    expect(isRedbrickError(outcome, 'LOCK_LOST')).toBe(true);
    expect(lost).toHaveLength(1);
    // Lost no later than one TTL after the last extension that got through.
    expect(abortedAfterMs).toBeGreaterThan(0);
    expect(abortedAfterMs).toBeLessThan(1500);

    await Promise.all(servers.map((s) => s.restart()));
  }, 60_000);
});
