import { hashSlot } from '@redbrick/core';
import { type RedisClusterHandle, startRedisCluster } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/index.js';
import { fresh, sleep, waitUntil } from './helpers.js';

/*
 * A hash slot moves from one primary to another while clients use it: the
 * CLUSTER SETSLOT IMPORTING / MIGRATING / MIGRATE / SETSLOT NODE sequence of
 * a live reshard. Commands meet ASK and MOVED redirections; a sharded
 * subscription on a channel of that slot must follow it to its new owner.
 */

let cluster: RedisClusterHandle;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});

afterAll(async () => {
  await cluster?.stop();
});

function server(i: number) {
  const s = cluster.servers[i];
  if (!s) throw new Error(`no server ${i}`);
  return s;
}

/** Index of the primary serving `slot`, and every node's id. */
async function topology(slot: number): Promise<{ owner: number; ids: string[] }> {
  const ids = await Promise.all(
    cluster.servers.map(async (_, i) => String(await server(i).command('CLUSTER', 'MYID'))),
  );
  const nodes = String(await server(0).command('CLUSTER', 'NODES'));
  for (const line of nodes.split('\n')) {
    const parts = line.trim().split(' ');
    if (!parts[2]?.includes('master')) continue;
    for (const range of parts.slice(8)) {
      const [from, to] = range.split('-').map(Number);
      if (from === undefined || Number.isNaN(from)) continue;
      if (slot >= from && slot <= (to ?? from)) return { owner: ids.indexOf(parts[0] ?? ''), ids };
    }
  }
  throw new Error(`nobody serves slot ${slot}`);
}

/** Moves `slot` from primary `from` to primary `to`, keys included, as redis-cli --cluster reshard does. */
async function migrate(slot: number, from: number, to: number, ids: string[]): Promise<number> {
  const source = server(from);
  const target = server(to);
  await target.command('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids[from] ?? '');
  await source.command('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids[to] ?? '');
  let moved = 0;
  for (;;) {
    const keys = (await source.command('CLUSTER', 'GETKEYSINSLOT', String(slot), '10')) as string[];
    if (keys.length === 0) break;
    await source.command(
      'MIGRATE',
      target.host,
      String(target.port),
      '',
      '0',
      '5000',
      'KEYS',
      ...keys,
    );
    moved += keys.length;
    // Slow enough that the load below meets ASK redirections mid-move.
    await sleep(20);
  }
  for (const i of [to, from, ...cluster.servers.keys()]) {
    await server(i).command('CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[to] ?? '');
  }
  return moved;
}

describe('Cluster slot migration', () => {
  it('keeps commands exact through ASK/MOVED, and a sharded subscription follows the slot', async () => {
    const tag = fresh('mig');
    const slot = hashSlot(`{${tag}}`);
    const keys = Array.from({ length: 60 }, (_, i) => `{${tag}}:k${i}`);
    const channel = `{${tag}}:chan`;
    const backend = await createRedisBackend({ cluster: { nodes: cluster.nodes } });
    const publisher = await createRedisBackend({ cluster: { nodes: cluster.nodes } });
    const received: string[] = [];
    try {
      for (const k of keys) await backend.set(k, '0');
      await backend.subscribe(channel, (m) => received.push(m));
      await publisher.publish(channel, 'before');
      await waitUntil('the message before the move', () => received.includes('before'));

      const { owner, ids } = await topology(slot);
      const to = [0, 1, 2].find((i) => i !== owner) ?? 0;

      // Load during the move: every key incremented over and over, none may fail or be lost.
      let stop = false;
      let increments = 0;
      const errors: unknown[] = [];
      const load = (async () => {
        while (!stop) {
          await Promise.all(
            keys.map((k) =>
              backend.incrBy(k, 1).then(
                () => {
                  increments++;
                },
                (error: unknown) => {
                  errors.push(error);
                },
              ),
            ),
          );
        }
      })();
      const moved = await migrate(slot, owner, to, ids);
      await sleep(200);
      stop = true;
      await load;

      expect(moved).toBe(keys.length);
      expect(errors).toEqual([]);
      const values = await Promise.all(keys.map((k) => backend.get(k)));
      const total = values.reduce((sum, v) => sum + Number(v), 0);
      expect(total).toBe(increments);
      expect((await topology(slot)).owner).toBe(to);

      // The subscription moves once the client's slot table catches up (a MOVED reply or the
      // periodic refresh); messages published after that arrive.
      const start = performance.now();
      await waitUntil(
        'the sharded subscription to follow the slot',
        async () => {
          await publisher.publish(channel, 'after').catch(() => 0);
          await sleep(100);
          return received.includes('after');
        },
        20_000,
      );
      console.info(
        `slot migration: ${moved} keys moved under load (${increments} increments, 0 lost); subscription followed in ${(performance.now() - start).toFixed(0)} ms`,
      );
    } finally {
      await publisher.close();
      await backend.close();
    }
  });
});
