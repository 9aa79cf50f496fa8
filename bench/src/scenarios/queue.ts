import { createMemoryBackend } from '@redbrick/memory-backend';
import { createQueue } from '@redbrick/queue';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BenchContext, Scenario, Sides } from '../harness.js';

/*
 * Jobs/s end to end: an op enqueues one job and completes when a worker in
 * the same process has run it. Both sides: the same payload, worker
 * concurrency = ops in flight, the same retention (remove completed jobs),
 * connections that ride out reconnects. Completion is signalled from inside
 * the handler on both sides.
 */

const PAYLOAD = { document: 'invoice-42.pdf', pages: 3 };

function waiters() {
  const pending = new Map<number, () => void>();
  let next = 0;
  return {
    add(): { n: number; done: Promise<void> } {
      const n = next++;
      return { n, done: new Promise<void>((resolve) => pending.set(n, resolve)) };
    },
    resolve(n: number) {
      pending.get(n)?.();
      pending.delete(n);
    },
  };
}

async function redisSides(ctx: BenchContext, inFlight: number): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('queue scenario without a server');
  const name = `bench${Date.now().toString(36)}`;

  const backend = await createRedisBackend({ type: 'redis', url });
  const queue = createQueue<typeof PAYLOAD & { n: number }>({
    backend,
    name,
    defaults: { removeOnComplete: { count: 0, ageMs: 1000 } },
  });
  const ours = waiters();
  let handled = 0;
  const worker = queue.process(
    (job) => {
      handled++;
      ours.resolve(job.data.n);
    },
    { concurrency: inFlight },
  );
  await queue.ready();

  const connection = () => new Redis(url, { maxRetriesPerRequest: null });
  const rawConnections = [connection(), connection()];
  const rawName = `${name}raw`;
  const bull = new BullQueue(rawName, {
    connection: rawConnections[0] as Redis,
    // The same settings as the redbrick side: retention and event-stream cap.
    defaultJobOptions: { removeOnComplete: { count: 0, age: 1 } },
    streams: { events: { maxLen: 1000 } },
  });
  const theirs = waiters();
  const bullWorker = new BullWorker(
    rawName,
    async (job) => {
      theirs.resolve(job.data.n as number);
    },
    { connection: rawConnections[1] as Redis, concurrency: inFlight },
  );
  await bullWorker.waitUntilReady();

  return {
    redbrick: async () => {
      const { n, done } = ours.add();
      await queue.enqueue({ ...PAYLOAD, n });
      await done;
    },
    baseline: async () => {
      const { n, done } = theirs.add();
      await bull.add('job', { ...PAYLOAD, n });
      await done;
    },
    async check() {
      if (handled === 0) throw new Error('no redbrick job ran');
      const c = await queue.counts();
      if (c.failed !== 0) throw new Error(`${c.failed} redbrick job(s) failed`);
    },
    async teardown() {
      await worker.close();
      await queue.close();
      await backend.close();
      await bullWorker.close();
      await bull.close();
      for (const c of rawConnections) c.disconnect();
    },
  };
}

/** Issue 14: jobs/s through this API vs raw BullMQ (goal ≥ 0.95×); the memory queue's jobs/s. */
export const queueScenarios: Scenario[] = [
  ...[1, 64].map(
    (inFlight): Scenario => ({
      package: 'queue',
      name: `enqueue→process ×${inFlight}`,
      backend: 'redis',
      baseline: 'raw BullMQ',
      inFlight,
      target: 0.95,
      needsRedis: true,
      countRoundTrips: false,
      setup: (ctx) => redisSides(ctx, inFlight),
    }),
  ),
  {
    package: 'queue',
    name: 'enqueue→process ×64',
    backend: 'memory',
    baseline: 'raw BullMQ (Redis, for scale)',
    inFlight: 64,
    needsRedis: true,
    countRoundTrips: false,
    async setup(ctx) {
      const redis = await redisSides(ctx, 64);
      const backend = createMemoryBackend();
      const queue = createQueue<{ n: number }>({ backend, name: 'bench' });
      const ours = waiters();
      const worker = queue.process((job) => ours.resolve(job.data.n), { concurrency: 64 });
      return {
        redbrick: async () => {
          const { n, done } = ours.add();
          await queue.enqueue({ n });
          await done;
        },
        baseline: redis.baseline,
        async teardown() {
          await worker.close();
          await queue.close();
          await backend.close();
          await redis.teardown?.();
        },
      };
    },
  },
];
