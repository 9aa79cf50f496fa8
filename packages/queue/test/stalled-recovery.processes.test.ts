import { randomBytes } from 'node:crypto';
import { testTargets, until } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../src/index.js';
import { startWorker } from './support/processes.js';

/*
 * A worker process is SIGKILLed while it holds jobs: BullMQ's stalled-job check
 * in the surviving worker moves them back and they complete. Over 1,000 jobs
 * none is lost. (Across processes only: the memory queue lives in one.)
 */

const targets = testTargets().filter((t) => t.name !== 'memory');

describe.skipIf(targets.length === 0)('across processes (Redis targets only)', () => {
  describe.each(targets)('a worker killed mid-job on $name', (target) => {
    it('loses no job: the survivor recovers the stalled ones', { timeout: 90_000 }, async () => {
      const prefix = `qk-${randomBytes(4).toString('hex')}`;
      const name = `kill${randomBytes(3).toString('hex')}`;
      const backend = (await target.make()).scoped(prefix);
      const config = await target.config();
      const queue = createQueue<number>({
        backend,
        name,
        defaults: { removeOnComplete: { count: 100_000, ageMs: 3_600_000 } },
      });
      const common = { config, prefix, name, lockDurationMs: 1000, stalledIntervalMs: 500 };
      const victim = startWorker({ ...common, concurrency: 8, workMs: 20 });
      const survivor = startWorker({ ...common, concurrency: 8, workMs: 5 });
      try {
        await Promise.all([victim.next(), survivor.next()]);
        const total = 1000;
        await queue.enqueueMany(Array.from({ length: total }, (_, i) => ({ data: i })));
        await until(
          'the victim to hold jobs',
          async () => (await queue.counts()).completed >= 200,
          30_000,
        );
        victim.child.kill('SIGKILL');
        const killed = await victim.exited;
        expect(killed.signal).toBe('SIGKILL');
        const killedAt = await queue.counts();

        await until(
          'every job completed',
          async () => (await queue.counts()).completed === total,
          60_000,
        );
        const counts = await queue.counts();
        expect(counts).toMatchObject({
          waiting: 0,
          active: 0,
          delayed: 0,
          failed: 0,
          completed: total,
        });
        const runs = await backend.lrange('runs', 0, -1);
        const distinct = new Set(runs);
        expect(distinct.size).toBe(total);
        console.info(
          `queue SIGKILL on ${target.name}: ${total} jobs, killed with ${killedAt.active} active / ${killedAt.completed} completed; all ${total} completed, ${runs.length - distinct.size} ran twice (stalled and redone)`,
        );
      } finally {
        victim.child.kill('SIGKILL');
        survivor.send({ type: 'stop' });
        await survivor.exited;
        await queue.close();
        await backend.close();
      }
    });
  });
});
