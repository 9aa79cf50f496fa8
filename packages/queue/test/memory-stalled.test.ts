import { createMemoryBackend } from '@redbrick/memory-backend';
import { until } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../src/index.js';

/* In process, a handler that never settles within the lock time stalls; the job runs again. */

describe('the memory queue', () => {
  it('recovers a job whose handler never settles, and fails it after maxStalledCount', async () => {
    const backend = createMemoryBackend();
    const queue = createQueue<string>({ backend, name: 'stall', lockDurationMs: 150 });
    const stalled: string[] = [];
    queue.on('stalled', (e) => stalled.push(e.jobId));
    let calls = 0;
    const worker = queue.process(
      (job) => {
        calls++;
        if (job.data === 'hang' && calls === 1) return new Promise(() => undefined);
        return 'done';
      },
      { concurrency: 2 },
    );
    const hang = await queue.enqueue('hang');
    await until(
      'completed on the second run',
      async () => (await queue.getJob(hang.id))?.state === 'completed',
    );
    expect(stalled).toEqual([hang.id]);
    expect(calls).toBe(2);

    const queue2 = createQueue<string>({
      backend,
      name: 'stall2',
      lockDurationMs: 100,
      maxStalledCount: 1,
    });
    const worker2 = queue2.process(() => new Promise(() => undefined), { concurrency: 5 });
    const forever = await queue2.enqueue('forever');
    await until(
      'failed after stalling twice',
      async () => (await queue2.getJob(forever.id))?.state === 'failed',
    );
    expect((await queue2.getJob(forever.id))?.failedReason).toMatch(/stalled/);
    await worker2.close(); // the stalled attempts freed their slots: close does not wait for them
    await worker.close();
    await backend.close();
  });

  it('shares one queue between two queue objects on one backend (as BullMQ does through Redis)', async () => {
    const backend = createMemoryBackend();
    const producer = createQueue<number>({ backend: backend.scoped('t1'), name: 'shared' });
    const consumer = createQueue<number>({ backend: backend.scoped('t1'), name: 'shared' });
    const other = createQueue<number>({ backend: backend.scoped('t2'), name: 'shared' });
    await producer.enqueue(7);
    expect((await consumer.dequeue())?.data).toBe(7);
    expect(await other.dequeue()).toBeUndefined();
    await Promise.all([producer.close(), consumer.close(), other.close()]);
    await backend.close();
  });
});
