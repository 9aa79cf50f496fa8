import { hashSlot, isRedbrickError } from '@redbrick/core';
import { type RedisClusterHandle, startRedisCluster } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/index.js';
import { fresh, sleep, waitUntil } from './helpers.js';

/* A primary of a real cluster (3 primaries, 1 replica each) dies; its replica takes over. */

let cluster: RedisClusterHandle;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

/** The slot ranges a node serves, from its own CLUSTER NODES line. */
async function ownRanges(index: number): Promise<Array<[number, number]>> {
  const server = cluster.servers[index];
  if (!server) throw new Error(`no server ${index}`);
  const nodes = String(await server.command('CLUSTER', 'NODES'));
  const myself = nodes.split('\n').find((line) => line.includes('myself'));
  if (!myself?.includes('master')) return [];
  return myself
    .trim()
    .split(' ')
    .slice(8)
    .filter((part) => /^\d+(-\d+)?$/.test(part))
    .map((part) => {
      const [from, to] = part.split('-').map(Number);
      return [from as number, to ?? (from as number)];
    });
}

function keyIn(ranges: Array<[number, number]>, prefix: string): string {
  for (let i = 0; ; i++) {
    const k = `${prefix}:${i}`;
    const slot = hashSlot(k);
    if (ranges.some(([from, to]) => slot >= from && slot <= to)) return k;
  }
}

describe('Cluster failover', () => {
  it('keeps working, and sharded subscriptions follow the promoted replica', async () => {
    const victim = (
      await Promise.all(cluster.servers.map(async (_, i) => ({ i, ranges: await ownRanges(i) })))
    ).find((n) => n.ranges.length > 0);
    if (!victim) throw new Error('no primary found');
    const key = keyIn(victim.ranges, fresh('failover'));
    const channel = keyIn(victim.ranges, fresh('failover-chan'));

    const backend = await createRedisBackend({
      cluster: { nodes: cluster.nodes },
      commandTimeoutMs: 1000,
    });
    const publisher = await createRedisBackend({ cluster: { nodes: cluster.nodes } });
    const messages: string[] = [];
    try {
      await backend.subscribe(channel, (m) => messages.push(m));
      expect(await backend.set(key, 'before')).toBe(true);

      await cluster.servers[victim.i]?.kill();
      const killedAt = performance.now();
      let failures = 0;
      await waitUntil(
        'writes to the failed-over slot',
        async () => {
          try {
            return (await backend.set(key, 'after')) === true;
          } catch (error) {
            expect(isRedbrickError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
            failures += 1;
            await sleep(100);
            return false;
          }
        },
        20_000,
      );
      console.info(
        `cluster failover: writes back after ${(performance.now() - killedAt).toFixed(0)} ms, ${failures} failed call(s)`,
      );
      expect(await backend.get(key)).toBe('after');

      await waitUntil(
        'the sharded subscription to move to the new primary',
        async () => {
          await publisher.publish(channel, 'after-failover').catch(() => 0);
          await sleep(100);
          return messages.includes('after-failover');
        },
        20_000,
      );
    } finally {
      await publisher.close();
      await backend.close();
    }
  });
});
