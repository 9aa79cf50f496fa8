import { createPubSub } from '@redbrick/pubsub';
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
  sub.on('message', () => theirs.delivered());
  const body = JSON.stringify(payload);

  const redbrick: Op = async () => {
    const got = ours.wait();
    await channel.publish(payload);
    await got;
  };
  const baseline: Op = async () => {
    const got = theirs.wait();
    await pub.publish('bench:raw', body);
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

/** Issue 13: publish→receive throughput vs raw ioredis pub/sub (goal ≥ 0.9×). */
export const pubsubScenarios: Scenario[] = [1, 64].map(
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
);
