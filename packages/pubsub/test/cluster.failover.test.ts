import { randomBytes } from 'node:crypto';
import { hashSlot } from '@redbrick/core';
import { createRedisBackend } from '@redbrick/redis-backend';
import { type RedisClusterHandle, startRedisCluster, until } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannel, type Gap } from '../src/index.js';

/*
 * The primary that owns a channel's hash slot dies and its replica is
 * promoted: a typed channel subscription keeps receiving what is published
 * after the failover, and the publisher's numbering lets the subscriber
 * count what it missed meanwhile (pub/sub is at-most-once).
 */

let cluster: RedisClusterHandle;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

/** Index of the node that serves `slot` as a primary right now. */
async function ownerOf(slot: number): Promise<number> {
  for (const [i, server] of cluster.servers.entries()) {
    const nodes = String(await server.command('CLUSTER', 'NODES').catch(() => ''));
    const myself = nodes.split('\n').find((line) => line.includes('myself'));
    if (!myself?.includes('master')) continue;
    for (const range of myself.trim().split(' ').slice(8)) {
      const [from, to] = range.split('-').map(Number);
      if (from !== undefined && slot >= from && slot <= (to ?? from)) return i;
    }
  }
  throw new Error(`nobody serves slot ${slot}`);
}

describe('channels on a cluster whose primary fails over', () => {
  it('keep delivering after the replica takes over, and report the gap', {
    timeout: 60_000,
  }, async () => {
    const name = `fo-${randomBytes(4).toString('hex')}`;
    const subscriberBackend = await createRedisBackend({
      cluster: { nodes: cluster.nodes },
      commandTimeoutMs: 1000,
    });
    const publisherBackend = await createRedisBackend({
      cluster: { nodes: cluster.nodes },
      commandTimeoutMs: 1000,
    });
    const received: number[] = [];
    const gaps: Gap[] = [];
    try {
      const publisher = createChannel({ backend: publisherBackend, name });
      const subscription = await createChannel({
        backend: subscriberBackend,
        name,
        onGap: (gap) => gaps.push(gap),
      }).subscribe((n) => {
        received.push(n as number);
      });
      await publisher.publish(0);
      await until('the first message', () => received.includes(0));

      const victim = await ownerOf(hashSlot(name));
      await cluster.servers[victim]?.kill();
      const killedAt = performance.now();

      // Publishing fails (or reaches nobody) until the replica is promoted and the
      // subscriber has moved; then messages arrive again.
      let n = 0;
      let failedPublishes = 0;
      await until(
        'delivery after the failover',
        async () => {
          n += 1;
          await publisher.publish(n).catch(() => {
            failedPublishes += 1;
          });
          await new Promise((r) => setTimeout(r, 100));
          return received.some((x) => x > 0);
        },
        30_000,
      );
      const firstAfter = received.find((x) => x > 0) ?? 0;
      console.info(
        `pubsub failover: delivery back after ${(performance.now() - killedAt).toFixed(0)} ms; ${failedPublishes} publish call(s) failed, ${firstAfter - 1} message(s) lost, gaps reported: ${gaps.map((g) => g.missed).join(',') || 'none'}`,
      );
      // The publisher numbers every attempt, delivered or not: whatever the subscriber missed
      // between message 0 and the first one it got after the failover is reported as a gap.
      if (firstAfter > 1) {
        expect(gaps.reduce((sum, g) => sum + g.missed, 0)).toBe(firstAfter - 1);
      }
      await subscription.unsubscribe();
    } finally {
      await publisherBackend.close();
      await subscriberBackend.close();
    }
  });
});
