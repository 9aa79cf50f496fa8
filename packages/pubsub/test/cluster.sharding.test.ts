import { hashSlot } from '@redbrick/core';
import { testTargets, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChannel, createStream } from '../src/index.js';

const cluster = worldTargets({ prefix: 'ps' }).find((t) => t.name === 'cluster');
const clusterTarget = testTargets().find((t) => t.name === 'cluster');

function pairs(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const list = Array.isArray(reply) ? reply : [];
  for (let i = 0; i + 1 < list.length; i += 2) out.set(String(list[i]), Number(list[i + 1]));
  return out;
}

describe.runIf(cluster !== undefined && clusterTarget !== undefined)('on Redis Cluster', () => {
  let world: World;
  beforeEach(async () => {
    if (!cluster) throw new Error('no cluster target');
    world = await cluster.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('channels subscribe with sharded pub/sub (SSUBSCRIBE), not classic SUBSCRIBE', async () => {
    const handle = await clusterTarget?.cluster();
    if (!handle) throw new Error('the cluster target has no throwaway cluster to inspect');
    const channel = createChannel({ backend: await world.client(), name: 'orders' });
    const seen: unknown[] = [];
    await channel.subscribe((m) => {
      seen.push(m);
    });
    await createChannel({ backend: world.backend, name: 'orders' }).publish('hi');
    await until('delivered', () => seen.length === 1);
    const full = `${world.prefix}:orders`;
    let sharded = 0;
    let classic = 0;
    for (const server of handle.servers) {
      sharded += pairs(await server.command('PUBSUB', 'SHARDNUMSUB', full)).get(full) ?? 0;
      classic += pairs(await server.command('PUBSUB', 'NUMSUB', full)).get(full) ?? 0;
    }
    expect({ sharded, classic }).toEqual({ sharded: 1, classic: 0 });
  });

  it('all keys of one stream share one hash slot', async () => {
    const stream = createStream({ backend: world.backend, name: 'a:b{c}' });
    const { stream: s, dead, failures } = stream.keys;
    expect(new Set([hashSlot(s), hashSlot(dead), hashSlot(failures)]).size).toBe(1);
    await stream.append(1);
    const handled: unknown[] = [];
    const consumer = stream.consume('g', 'c', (m) => void handled.push(m), {
      blockMs: 50,
      claimIntervalMs: 50,
    });
    await until('handled', () => handled.length === 1);
    await consumer.stop();
  });
});
