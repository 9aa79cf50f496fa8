import { createPubSub, createStream } from '@redbrick/pubsub';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import type { BenchContext, Op, Scenario, Sides } from '../harness.js';

/**
 * Publish → receive: an op publishes one message and completes when the
 * subscriber (same process, its own connection) has received it. Messages
 * arrive in order, so a FIFO of waiters pairs each publish with its delivery.
 */
function roundTripper(): { wait(): Promise<void>; delivered(): void; received: () => number } {
  const waiters: Array<() => void> = [];
  let received = 0;
  return {
    wait: () => new Promise<void>((resolve) => waiters.push(resolve)),
    delivered() {
      received++;
      waiters.shift()?.();
    },
    received: () => received,
  };
}

async function sides(ctx: BenchContext): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('pubsub scenario without a server');
  const payload = { id: 1, text: 'x'.repeat(64) };

  const backend = await createRedisBackend({ type: 'redis', url });
  const channel = createPubSub({ backend }).channel('bench:events');
  const ours = roundTripper();
  const subscription = await channel.subscribe(() => ours.delivered());

  const pub = new Redis(url, { enableAutoPipelining: false });
  const sub = new Redis(url);
  const theirs = roundTripper();
  await sub.subscribe('bench:raw');
  // The same work a user of raw pub/sub does for JSON messages: stringify each publish, parse each receipt.
  sub.on('message', (_channel: string, message: string) => {
    JSON.parse(message);
    theirs.delivered();
  });

  const redbrick: Op = async () => {
    const got = ours.wait();
    await channel.publish(payload);
    await got;
  };
  const baseline: Op = async () => {
    const got = theirs.wait();
    await pub.publish('bench:raw', JSON.stringify(payload));
    await got;
  };
  return {
    redbrick,
    baseline,
    check() {
      if (ours.received() === 0) throw new Error('no redbrick message was received');
    },
    async teardown() {
      await subscription.unsubscribe();
      await backend.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/**
 * Append → consume → ack through a stream consumer group: an op appends one entry and completes
 * when a consumer (same process, concurrency = ops in flight) has handled and acknowledged it.
 * The baseline is the same protocol by hand with ioredis: XADD; a loop of XREADGROUP (BLOCK,
 * COUNT = free slots) on its own connection; XACK per entry after handling.
 */
async function streamSides(ctx: BenchContext, inFlight: number): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('pubsub scenario without a server');
  const payload = { id: 1, text: 'x'.repeat(64) };
  const name = `bench:stream:${Date.now()}`;

  const backend = await createRedisBackend({ type: 'redis', url });
  const stream = createStream({ backend, name });
  const ours = roundTripper();
  const consumer = stream.consume('g', 'c1', () => ours.delivered(), {
    concurrency: inFlight,
    blockMs: 100,
    startAt: 'end',
  });

  const raw = new Redis(url, { enableAutoPipelining: false });
  const reader = new Redis(url, { enableAutoPipelining: false });
  const rawKey = `${name}:raw`;
  await raw.xgroup('CREATE', rawKey, 'g', '$', 'MKSTREAM');
  const theirs = roundTripper();
  let running = true;
  const loop = (async () => {
    while (running) {
      const reply = (await reader.xreadgroup(
        'GROUP',
        'g',
        'c1',
        'COUNT',
        inFlight,
        'BLOCK',
        100,
        'STREAMS',
        rawKey,
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [, entries] of reply ?? []) {
        await Promise.all(
          entries.map(async ([id, fields]) => {
            JSON.parse(fields[1] ?? 'null');
            theirs.delivered();
            await raw.xack(rawKey, 'g', id);
          }),
        );
      }
    }
  })();

  return {
    redbrick: async () => {
      const got = ours.wait();
      await stream.append(payload);
      await got;
    },
    baseline: async () => {
      const got = theirs.wait();
      await raw.xadd(rawKey, '*', 'm', JSON.stringify(payload));
      await got;
    },
    async check() {
      if (ours.received() === 0) throw new Error('no redbrick stream entry was handled');
      // Everything handled was acknowledged: nothing pending once the consumer is idle.
      const deadline = Date.now() + 2000;
      while ((await stream.pending('g')).count > 0) {
        if (Date.now() > deadline) throw new Error('stream entries left unacknowledged');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async teardown() {
      running = false;
      await consumer.stop();
      await loop;
      await backend.close();
      raw.disconnect();
      reader.disconnect();
    },
  };
}

/** Issue 13: publish→receive throughput vs raw ioredis pub/sub (goal ≥ 0.9×); stream append→ack. */
export const pubsubScenarios: Scenario[] = [
  ...[1, 64].map(
    (inFlight): Scenario => ({
      package: 'pubsub',
      name: `publish→receive ×${inFlight}`,
      backend: 'redis',
      baseline: 'ioredis pub/sub',
      inFlight,
      target: 0.9,
      needsRedis: true,
      setup: sides,
    }),
  ),
  ...[1, 64].map(
    (inFlight): Scenario => ({
      package: 'pubsub',
      name: `stream append→consume→ack ×${inFlight}`,
      backend: 'redis',
      baseline: 'ioredis XADD/XREADGROUP/XACK',
      inFlight,
      needsRedis: true,
      setup: (ctx) => streamSides(ctx, inFlight),
    }),
  ),
];
