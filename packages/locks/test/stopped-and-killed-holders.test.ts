import { until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fencedRead, fencedWrite, Mutex, Semaphore, semaphoreKeys } from '../src/index.js';
import { startWorker, type Worker } from './support/processes.js';

/*
 * Real process faults: a holder frozen with SIGSTOP past its lease, and a
 * permit holder killed with SIGKILL. Other processes need a shared server,
 * so these run on Redis and Cluster; the same behaviours run on every
 * target (with controlled time on memory) in the behaviour suites.
 */
const redisTargets = worldTargets({ prefix: 'locks' }).filter(
  (t) => t.name === 'redis' || t.name === 'cluster',
);

// Only Redis targets have servers to kill (under REDBRICK_TARGETS=memory there is nothing to run).
describe.skipIf(redisTargets.length === 0)('on Redis', () => {
  describe.each(redisTargets)('holders on $name', (t) => {
    let world: World;
    const workers: Worker[] = [];
    beforeEach(async () => {
      world = await t.open();
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) {
        w.child.kill('SIGKILL');
        await w.exited;
      }
      await world.close();
    });

    it('a holder frozen (SIGSTOP) past its lease cannot make a fenced write after another holder acquired', async () => {
      const paused = startWorker({
        mode: 'paused-writer',
        config: await t.target.config(),
        prefix: world.prefix,
        key: 'ledger',
        resource: 'ledger:balance',
        ttlMs: 300,
      });
      workers.push(paused);
      const { fence: oldFence } = await paused.next<{ fence: number }>();
      paused.child.kill('SIGSTOP');

      const mutex = new Mutex({ backend: world.backend });
      const lease = await mutex.acquire('ledger', { waitMs: 10_000 }); // once the frozen lease lapses
      expect(lease.fence).toBeGreaterThan(oldFence);
      expect((await fencedWrite(world.backend, 'ledger:balance', lease.fence, 'new')).written).toBe(
        true,
      );

      paused.child.kill('SIGCONT');
      paused.send({ go: true });
      const report = await paused.next<{
        result: { written: boolean; fence: number };
        released: boolean;
      }>();
      expect(report.result).toEqual({ written: false, fence: lease.fence });
      expect(report.released).toBe(false);
      expect(await fencedRead(world.backend, 'ledger:balance')).toEqual({
        value: 'new',
        fence: lease.fence,
      });
      expect((await mutex.holder('ledger'))?.token).toBe(lease.token);
      await lease.release();
    });

    it('a killed holder’s permit (SIGKILL, even with a watchdog) frees after its lease', async () => {
      const config = await t.target.config();
      const holders = [0, 1].map(() =>
        startWorker({
          mode: 'permit-holder',
          config,
          prefix: world.prefix,
          key: 'gpu',
          permits: 2,
          ttlMs: 600,
          watchdog: true,
        }),
      );
      workers.push(...holders);
      await Promise.all(holders.map((h) => h.next()));
      const semaphore = new Semaphore({ backend: world.backend, permits: 2 });
      expect(await semaphore.tryAcquire('gpu')).toBeNull();

      // Alive, the watchdogs keep extending: the permits stay taken past their TTL.
      await new Promise((r) => setTimeout(r, 900));
      expect(await semaphore.tryAcquire('gpu')).toBeNull();

      const killedAt = performance.now();
      for (const h of holders) h.child.kill('SIGKILL');
      await Promise.all(holders.map((h) => h.exited));
      const lease = await semaphore.acquire('gpu', { waitMs: 10_000 });
      const waited = performance.now() - killedAt;
      expect(waited).toBeLessThan(5000);
      const second = await semaphore.acquire('gpu', { waitMs: 10_000 });
      expect(await semaphore.tryAcquire('gpu')).toBeNull();
      await until('only our leases to remain', async () => {
        const zset = await world.backend.zcard(semaphoreKeys('gpu').leases);
        return zset === 2;
      });
      await lease.release();
      await second.release();
    });
  });
});
