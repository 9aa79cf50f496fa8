import { isRedbrickError } from '@redbrick/core';
import { sleep, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createQueue, type JobInfo, type Queue } from '../src/index.js';

/*
 * One suite for the queue API: the in-process queue on memory, BullMQ on one
 * Redis and BullMQ on a 3-master Cluster must behave the same.
 */

let n = 0;
const fresh = () => `q${Date.now().toString(36)}${(n++).toString(36)}`;

describe.each(worldTargets({ prefix: 'queue' }))('queue on $name', (target) => {
  let world: World;
  const opened: Array<Queue<unknown>> = [];
  const open = <T>(options: Partial<Parameters<typeof createQueue<T>>[0]> = {}): Queue<T> => {
    const q = createQueue<T>({ backend: world.backend, name: fresh(), ...options });
    opened.push(q as Queue<unknown>);
    return q;
  };
  beforeEach(async () => {
    world = await target.open();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
    await world.close();
  });

  it('runs a job to completion: state, return value, progress and events', async () => {
    const queue = open<{ x: number }>();
    const events: string[] = [];
    queue.on('completed', (e) => events.push(`completed ${e.jobId}`));
    queue.on('progress', (e) => events.push(`progress ${e.jobId} ${JSON.stringify(e.progress)}`));
    await queue.ready();
    const worker = queue.process(async (job) => {
      await job.updateProgress(50);
      return { doubled: job.data.x * 2 };
    });
    const job = await queue.enqueue({ x: 21 });
    await until('completed', async () => (await queue.getJob(job.id))?.state === 'completed');
    const done = await queue.getJob(job.id);
    expect(done?.returnValue).toEqual({ doubled: 42 });
    expect(done?.progress).toBe(50);
    await until('events', () => events.includes(`completed ${job.id}`));
    expect(events).toContain(`progress ${job.id} 50`);
    await worker.close();
  });

  it('takes jobs without priority first (FIFO), then by priority', async () => {
    const queue = open<string>();
    for (const [data, priority] of [
      ['a', undefined],
      ['b', 5],
      ['c', 1],
      ['d', undefined],
      ['e', 1],
    ] as const) {
      await queue.enqueue(data, priority === undefined ? {} : { priority });
    }
    expect((await queue.peek(2)).map((j) => j.data)).toEqual(['a', 'd']);
    const order: string[] = [];
    for (;;) {
      const job = await queue.dequeue();
      if (!job) break;
      order.push(job.data);
      await job.complete();
    }
    expect(order).toEqual(['a', 'd', 'c', 'e', 'b']);
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 5 });
  });

  it('honours delays', async () => {
    const queue = open<string>();
    const started = Date.now();
    await queue.enqueue('later', { delayMs: 400 });
    expect(await queue.counts()).toMatchObject({ delayed: 1, waiting: 0 });
    expect(await queue.dequeue()).toBeUndefined();
    const ran: number[] = [];
    const worker = queue.process(() => {
      ran.push(Date.now() - started);
    });
    await until('the delayed job ran', () => ran.length === 1);
    expect(ran[0]).toBeGreaterThanOrEqual(350);
    await worker.close();
  });

  it('retries with exponential backoff, then completes', async () => {
    const queue = open<string>();
    const at: number[] = [];
    const worker = queue.process(() => {
      at.push(Date.now());
      if (at.length < 3) throw new Error(`boom ${at.length}`);
      return 'ok';
    });
    const job = await queue.enqueue('x', {
      attempts: 3,
      backoff: { type: 'exponential', delayMs: 150 },
    });
    await until('completed', async () => (await queue.getJob(job.id))?.state === 'completed');
    expect(at).toHaveLength(3);
    const [a = 0, b = 0, c = 0] = at;
    // 150 ms, then 300 ms (generous lower bounds: timers only fire late, never early)
    expect(b - a).toBeGreaterThanOrEqual(130);
    expect(c - b).toBeGreaterThanOrEqual(270);
    await worker.close();
  });

  it('keeps a job that ran out of attempts as failed, with its reason, and retries it on demand', async () => {
    const queue = open<string>();
    let calls = 0;
    let fail = true;
    const worker = queue.process(() => {
      calls++;
      if (fail) throw new Error('always');
    });
    const job = await queue.enqueue('x', { attempts: 2, backoff: { type: 'fixed', delayMs: 50 } });
    await until('failed', async () => (await queue.getJob(job.id))?.state === 'failed');
    const failed = await queue.getJob(job.id);
    expect(failed?.failedReason).toBe('always');
    expect(calls).toBe(2);
    expect((await queue.failed()).map((j) => j.id)).toEqual([job.id]);
    fail = false;
    expect(await queue.retry(job.id)).toBe(true);
    await until(
      'completed after retry',
      async () => (await queue.getJob(job.id))?.state === 'completed',
    );
    expect(await queue.retry(job.id)).toBe(false);
    await worker.close();
  });

  it('keeps only the configured number of finished jobs, by worker and by dequeue', async () => {
    const queue = open<number>({
      defaults: {
        removeOnComplete: { count: 2, ageMs: 3_600_000 },
        removeOnFail: { count: 1, ageMs: 3_600_000 },
      },
    });
    const worker = queue.process((job) => {
      if (job.data % 2 === 1) throw new Error(`odd ${job.data}`);
    });
    const jobs: Array<JobInfo<number>> = [];
    for (let i = 0; i < 8; i++) jobs.push(await queue.enqueue(i));
    const states = async () =>
      (await Promise.all(jobs.map(async (j) => (await queue.getJob(j.id))?.state ?? 'gone')))
        .sort()
        .join(' ');
    // 8 finished, of which the last 2 completed and the last failed are kept; the rest are gone.
    await until(
      'every job finished and trimmed',
      async () => (await states()) === 'completed completed failed gone gone gone gone gone',
    );
    await worker.close();
    let counts = await queue.counts();
    expect([counts.completed, counts.failed]).toEqual([2, 1]);
    expect((await queue.getJob(jobs[6]?.id ?? ''))?.state).toBe('completed');
    expect((await queue.getJob(jobs[7]?.id ?? ''))?.failedReason).toBe('odd 7');
    expect(await queue.getJob(jobs[0]?.id ?? '')).toBeUndefined();

    // Jobs finished by hand (dequeue) are trimmed the same way.
    await queue.enqueue(100);
    await queue.enqueue(101);
    const a = await queue.dequeue();
    await a?.complete(null);
    const b = await queue.dequeue();
    await b?.fail(new Error('by hand'));
    counts = await queue.counts();
    expect([counts.completed, counts.failed]).toEqual([2, 1]);
    expect((await queue.failed()).map((j) => j.failedReason)).toEqual(['by hand']);
  });

  it('deduplicates by jobId', async () => {
    const queue = open<number>();
    const first = await queue.enqueue(1, { jobId: 'order-7' });
    const second = await queue.enqueue(2, { jobId: 'order-7' });
    expect(second.id).toBe(first.id);
    expect(second.data).toBe(1);
    expect((await queue.counts()).waiting).toBe(1);
  });

  it('validates data at enqueue with the path, and adds nothing', async () => {
    const queue = open({ schema: z.object({ url: z.string().url(), pages: z.number().int() }) });
    try {
      await queue.enqueue({ url: 'https://a.example', pages: 1.5 } as never);
      expect.unreachable();
    } catch (error) {
      expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
      expect((error as Error).message).toMatch(/pages/);
    }
    await expect(
      queue.enqueueMany([
        { data: { url: 'https://a.example', pages: 1 } },
        { data: { url: 'nope', pages: 1 } },
      ]),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect((await queue.counts()).waiting).toBe(0);
  });

  it('runs up to `concurrency` jobs at once', async () => {
    const queue = open<number>();
    let running = 0;
    let peak = 0;
    let done = 0;
    const worker = queue.process(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(150);
        running--;
        done++;
      },
      { concurrency: 4 },
    );
    await queue.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ data: i })));
    await until('all done', () => done === 8);
    expect(peak).toBe(4);
    await worker.close();
  });

  it('pauses and resumes; clear removes what is not running', async () => {
    const queue = open<number>();
    await queue.pause();
    expect(await queue.isPaused()).toBe(true);
    const seen: number[] = [];
    const worker = queue.process((job) => {
      seen.push(job.data);
    });
    await queue.enqueue(1);
    await sleep(300);
    expect(seen).toEqual([]);
    await queue.resume();
    await until('processed after resume', () => seen.length === 1);
    await worker.close();
    await queue.enqueue(2);
    await queue.enqueue(3, { delayMs: 60_000 });
    await queue.clear();
    expect(await queue.counts()).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: 0,
      failed: 0,
    });
  });

  it('close() lets the running job finish', async () => {
    const queue = open<number>();
    let finished = false;
    const worker = queue.process(async () => {
      await sleep(300);
      finished = true;
    });
    const job = await queue.enqueue(1);
    await until('active', async () => (await queue.getJob(job.id))?.state === 'active');
    await worker.close();
    expect(finished).toBe(true);
    expect((await queue.getJob(job.id))?.state).toBe('completed');
  });

  it('dequeue hands a job to the caller, who completes or fails it', async () => {
    const queue = open<string>();
    await queue.enqueue('a');
    await queue.enqueue('b', { attempts: 1 });
    const a = await queue.dequeue();
    expect(a?.data).toBe('a');
    expect((await queue.counts()).active).toBe(1);
    await a?.complete({ ok: true });
    const b = await queue.dequeue();
    await b?.fail(new Error('nope'));
    const [ja, jb] = await Promise.all([queue.getJob(a?.id ?? ''), queue.getJob(b?.id ?? '')]);
    expect(ja?.state).toBe('completed');
    expect(ja?.returnValue).toEqual({ ok: true });
    expect(jb?.state).toBe('failed');
    expect(jb?.failedReason).toBe('nope');
  });

  it('repeats a scheduled job until unscheduled', async () => {
    const queue = open<string>();
    const seen: string[] = [];
    const worker = queue.process((job) => {
      seen.push(job.data);
    });
    await queue.schedule('tick', { everyMs: 150 }, 'tick');
    await until('two ticks', () => seen.length >= 2, 10_000);
    expect(await queue.unschedule('tick')).toBe(true);
    await sleep(400);
    const after = seen.length;
    await sleep(500);
    expect(seen.length).toBe(after);
    expect(seen.every((s) => s === 'tick')).toBe(true);
    await worker.close();
  });

  it('rejects bad input with the field named', async () => {
    const queue = open<number>();
    const bad: Array<[() => unknown, string]> = [
      [() => queue.enqueue(1, { priority: 0 }), 'priority'],
      [() => queue.enqueue(1, { delayMs: -1 }), 'delayMs'],
      [() => queue.enqueue(1, { attempts: 0 }), 'attempts'],
      [() => queue.enqueue(1, { jobId: 'a:b' }), 'jobId'],
      [() => queue.enqueue(1, { jobId: '123' }), 'jobId'],
      [() => queue.enqueue(1, { backoff: { type: 'linear' as never, delayMs: 1 } }), 'backoff'],
      [() => queue.enqueue(undefined as never), 'data'],
      [() => queue.process(() => undefined, { concurrency: 0 }), 'concurrency'],
      [() => queue.schedule('t', { cron: '61 * * * *' }, 1), 'repeat.cron'],
      [() => queue.schedule('t', { everyMs: 0 }, 1), 'repeat.everyMs'],
      [() => queue.on('nope' as never, () => undefined), 'event'],
      [() => createQueue({ backend: world.backend, name: 'has space' }), 'name'],
    ];
    for (const [call, field] of bad) {
      try {
        await call();
        expect.unreachable(`expected a validation error for ${field}`);
      } catch (error) {
        expect(isRedbrickError(error, 'VALIDATION'), String(error)).toBe(true);
        expect((error as { field?: string }).field).toBe(field);
      }
    }
    expect((await queue.counts()).waiting).toBe(0);
  });
});
