import { sleep, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createPubSub,
  createStream,
  type InvalidMessage,
  type StreamConsumer,
} from '../src/index.js';

const Job = z.object({ n: z.number().int() });
const FAST = { blockMs: 50, claimIntervalMs: 50, retryDelayMs: 10 } as const;

describe.each(worldTargets({ prefix: 'ps' }))('streams on $name', (target) => {
  let world: World;
  const consumers: StreamConsumer[] = [];
  beforeEach(async () => {
    world = await target.open();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
    await world.close();
  });

  it('appends, consumes in order and acknowledges after the handler resolves', async () => {
    const jobs = createStream({ backend: world.backend, name: 'jobs', schema: Job });
    for (let n = 1; n <= 5; n++) await jobs.append({ n });
    expect(await jobs.length()).toBe(5);
    const seen: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = jobs.consume(
      'workers',
      'w1',
      async (job, delivery) => {
        expect(delivery).toMatchObject({ stream: 'jobs', attempt: 1, redelivered: false });
        if (job.n === 1) await gate;
        seen.push(job.n);
      },
      FAST,
    );
    consumers.push(consumer);
    // While the first handler runs, its entry is pending (not yet acknowledged).
    await until('the first entry pending', async () => (await jobs.pending('workers')).count === 1);
    const pending = await jobs.pending('workers');
    expect(pending.entries).toMatchObject([{ consumer: 'w1', deliveries: 1 }]);
    expect(pending.consumers).toEqual([{ name: 'w1', count: 1 }]);
    release();
    await until('five handled', () => seen.length === 5);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    await until('nothing pending', async () => (await jobs.pending('workers')).count === 0);
    expect(consumer.stats).toEqual({ handled: 5, failed: 0, deadLettered: 0, redelivered: 0 });
  });

  it('runs up to `concurrency` handlers at once', async () => {
    const jobs = createStream({ backend: world.backend, name: 'par' });
    for (let n = 0; n < 12; n++) await jobs.append(n);
    let running = 0;
    let peak = 0;
    let done = 0;
    consumers.push(
      jobs.consume(
        'g',
        'c',
        async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(30);
          running--;
          done++;
        },
        { ...FAST, concurrency: 4 },
      ),
    );
    await until('twelve handled', () => done === 12);
    expect(peak).toBe(4);
  });

  it('consumers of one group share the entries; groups each get every entry', async () => {
    const jobs = createStream({ backend: world.backend, name: 'shared' });
    const a: unknown[] = [];
    const b: unknown[] = [];
    const audit: unknown[] = [];
    const other = createStream({ backend: await world.client(), name: 'shared' });
    consumers.push(jobs.consume('work', 'a', (m) => void a.push(m), FAST));
    consumers.push(other.consume('work', 'b', (m) => void b.push(m), FAST));
    consumers.push(other.consume('audit', 'x', (m) => void audit.push(m), FAST));
    for (let n = 0; n < 40; n++) await jobs.append(n);
    await until('all handled', () => a.length + b.length === 40 && audit.length === 40);
    expect([...a, ...b].sort((x, y) => Number(x) - Number(y))).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expect(audit).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it("takes over a dead consumer's pending entries after claimIdleMs", async () => {
    const jobs = createStream({ backend: world.backend, name: 'claim' });
    for (let n = 0; n < 3; n++) await jobs.append(n);
    // A consumer that read the entries and died before acknowledging them.
    await world.backend.xgroupCreate(jobs.keys.stream, 'g', { id: '0' });
    const read = await world.backend.xreadgroup(jobs.keys.stream, 'g', 'dead', { count: 3 });
    expect(read).toHaveLength(3);
    expect((await jobs.pending('g')).consumers).toEqual([{ name: 'dead', count: 3 }]);

    const seen: Array<[unknown, boolean]> = [];
    const consumer = jobs.consume('g', 'alive', (m, d) => void seen.push([m, d.redelivered]), {
      ...FAST,
      claimIdleMs: 200,
    });
    consumers.push(consumer);
    await until('three redelivered', () => seen.length === 3);
    expect(seen).toEqual([
      [0, true],
      [1, true],
      [2, true],
    ]);
    expect(consumer.stats.redelivered).toBe(3);
    await until('nothing pending', async () => (await jobs.pending('g')).count === 0);
  });

  it('a consumer restarted under the same name picks up its own pending entries at once', async () => {
    const jobs = createStream({ backend: world.backend, name: 'own' });
    await jobs.append('a');
    await world.backend.xgroupCreate(jobs.keys.stream, 'g', { id: '0' });
    await world.backend.xreadgroup(jobs.keys.stream, 'g', 'w1', { count: 1 });
    await jobs.append('b');
    const seen: unknown[] = [];
    // claimIdleMs is long: only the own-pending re-read can deliver 'a' quickly.
    consumers.push(
      jobs.consume('g', 'w1', (m) => void seen.push(m), { ...FAST, claimIdleMs: 60_000 }),
    );
    await until('both', () => seen.length === 2);
    expect(seen).toEqual(['a', 'b']);
  });

  it('retries a failing handler and dead-letters a poison message after maxAttempts, with the error', async () => {
    const errors: unknown[] = [];
    const jobs = createStream({
      backend: world.backend,
      name: 'poison',
      schema: Job,
      onError: (e) => errors.push(e),
    });
    const attempts = new Map<number, number[]>();
    const handled: number[] = [];
    const consumer = jobs.consume(
      'g',
      'c',
      (job, delivery) => {
        attempts.set(job.n, [...(attempts.get(job.n) ?? []), delivery.attempt]);
        if (job.n === 13) throw new Error(`cannot handle ${job.n}`);
        if (job.n === 2 && delivery.attempt === 1) throw new Error('flaky once');
        handled.push(job.n);
      },
      { ...FAST, maxAttempts: 3 },
    );
    consumers.push(consumer);
    for (const n of [1, 13, 2, 3]) await jobs.append({ n });
    await until('dead-lettered', () => consumer.stats.deadLettered === 1);
    await until('others handled', () => handled.length === 3);
    expect(handled.sort()).toEqual([1, 2, 3]);
    expect(attempts.get(13)).toEqual([1, 2, 3]);
    expect(attempts.get(2)).toEqual([1, 2]);
    const dead = await jobs.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      message: { n: 13 },
      error: 'Error: cannot handle 13',
      attempts: 3,
      group: 'g',
      consumer: 'c',
    });
    expect(errors).toHaveLength(4);
    await until('nothing pending', async () => (await jobs.pending('g')).count === 0);
    // Failure counts are cleaned up.
    expect(await world.backend.hlen(jobs.keys.failures)).toBe(0);
  });

  it('dead-letters entries that do not match the schema at once, via onInvalid', async () => {
    const invalid: InvalidMessage[] = [];
    const jobs = createStream({
      backend: world.backend,
      name: 'inv',
      schema: Job,
      onInvalid: (i) => invalid.push(i),
    });
    await world.backend.xadd(jobs.keys.stream, { m: '{"n":"x"}' });
    await world.backend.xadd(jobs.keys.stream, { other: '1' });
    await jobs.append({ n: 1 });
    const seen: unknown[] = [];
    consumers.push(jobs.consume('g', 'c', (m) => void seen.push(m), FAST));
    await until('valid handled', () => seen.length === 1);
    await until('two dead letters', async () => (await jobs.deadLetters()).length === 2);
    expect(invalid.map((i) => i.raw)).toEqual(['{"n":"x"}', '']);
    const dead = await jobs.deadLetters();
    expect(dead[0]?.error).toMatch(/^invalid: .*n/);
    expect(dead.every((d) => d.attempts === 0)).toBe(true);
  });

  it('stop() waits for running handlers, acknowledges them, and reads nothing more', async () => {
    const jobs = createStream({ backend: world.backend, name: 'stop' });
    await jobs.append(1);
    let started = false;
    let finished = false;
    const consumer = jobs.consume(
      'g',
      'c',
      async () => {
        started = true;
        await sleep(200);
        finished = true;
      },
      FAST,
    );
    await until('started', () => started);
    await consumer.stop();
    expect(finished).toBe(true);
    expect((await jobs.pending('g')).count).toBe(0);
    await consumer.stop(); // idempotent
    await jobs.append(2);
    await sleep(150);
    expect(consumer.stats.handled).toBe(1);
    expect(await jobs.length()).toBe(2);
  });

  it('stop() with several handlers running waits for every one of them', async () => {
    const jobs = createStream({ backend: world.backend, name: 'stop-many' });
    for (let n = 0; n < 6; n++) await jobs.append(n);
    let running = 0;
    let finished = 0;
    const consumer = jobs.consume(
      'g',
      'c',
      async () => {
        running++;
        await sleep(100 + 50 * running);
        finished++;
      },
      { ...FAST, concurrency: 4 },
    );
    await until('four running', () => running === 4);
    await consumer.stop();
    expect(finished).toBe(running);
    expect(consumer.stats.handled).toBe(finished);
    const pending = await jobs.pending('g');
    expect(pending.count).toBe(0);
  });

  it("startAt 'end' skips entries appended before the group existed", async () => {
    const jobs = createStream({ backend: world.backend, name: 'tail' });
    await jobs.append('old');
    const seen: unknown[] = [];
    consumers.push(jobs.consume('g', 'c', (m) => void seen.push(m), { ...FAST, startAt: 'end' }));
    await until(
      'group created',
      async () =>
        await jobs.pending('g').then(
          () => true,
          () => false,
        ),
    );
    await jobs.append('new');
    await until('new handled', () => seen.length === 1);
    expect(seen).toEqual(['new']);
  });

  it('a consumer whose backend is closed reports it and stops', async () => {
    const own = await target.target.make();
    const errors: unknown[] = [];
    const jobs = createStream({ backend: own, name: 'closing', onError: (e) => errors.push(e) });
    await jobs.append(1);
    const seen: unknown[] = [];
    const consumer = jobs.consume('g', 'c', (m) => void seen.push(m), FAST);
    await until('handled', () => seen.length === 1);
    await own.close();
    await until('the CLOSED error', () =>
      errors.some((e) => (e as { code?: string }).code === 'CLOSED'),
    );
    await consumer.stop();
    expect(errors.filter((e) => (e as { code?: string }).code === 'CLOSED')).toHaveLength(1);
  });

  it('trims to about maxLen on append', async () => {
    const jobs = createPubSub({ backend: world.backend, maxLen: 10 }).stream('trim');
    for (let i = 0; i < 500; i++) await jobs.append(i);
    const length = await jobs.length();
    // Approximate trimming (MAXLEN ~) keeps at least maxLen and removes whole nodes.
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(500);
  });
});
