import { type Backend, defineScript, hashSlot, key, tag } from '@redbrick/core';
import { type RedisClusterHandle, startRedisCluster } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend, type RedisBackend } from '../src/index.js';
import { fresh, rejection, waitUntil } from './helpers.js';

/*
 * Redis Cluster specifics on a real 3-primary cluster: cross-slot rules,
 * scan across primaries, pipelines split by node, scripts loaded on every
 * node, sharded pub/sub next to patterns, expiry events from every primary.
 */

let cluster: RedisClusterHandle;
let backend: Backend;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  backend = await createRedisBackend({ cluster: { nodes: cluster.nodes } });
});

afterAll(async () => {
  await backend?.close();
  await cluster?.stop();
});

/** Keys that land on every primary (slots 0–5460, 5461–10922, 10923–16383 with 3 primaries). */
function keysOnEveryNode(prefix: string, perNode = 1): string[] {
  const wanted = [0, 1, 2].map(() => perNode);
  const out: string[] = [];
  for (let i = 0; wanted.some((n) => n > 0); i++) {
    const k = `${prefix}:${i}`;
    const node = Math.min(2, Math.floor(hashSlot(k) / 5462));
    if ((wanted[node] ?? 0) > 0) {
      wanted[node] = (wanted[node] ?? 0) - 1;
      out.push(k);
    }
  }
  return out;
}

describe('cross-slot rules', () => {
  it('rejects multi-key commands across slots with a CROSSSLOT error that says how to fix it', async () => {
    const p = fresh('xs');
    const [a, b] = keysOnEveryNode(p);
    if (a === undefined || b === undefined) throw new Error('no keys');
    for (const call of [
      () => backend.mget(a, b),
      () => backend.del(a, b),
      () => backend.exists(a, b),
      () => backend.mset({ [a]: '1', [b]: '2' }),
      () => backend.mset({ [a]: '1', [b]: '2' }, { ttlMs: 1000 }),
    ]) {
      const { error } = await rejection(call(), 'CROSSSLOT');
      expect(error.message).toMatch(/hash slot/);
      expect(error.message).toMatch(/hash tag/);
    }
    const script = defineScript({
      name: 'redis-backend-test.two-keys',
      keys: 2,
      lua: `return redis.call('exists', KEYS[1], KEYS[2])`,
      local: (r, [k1, k2]) => r.exists(k1 as string, k2 as string),
    });
    const { error } = await rejection(backend.run(script, [a, b]), 'CROSSSLOT');
    expect(error.message).toMatch(/hash tag/);
  });

  it('accepts the same commands when a hash tag puts the keys in one slot', async () => {
    const t = tag(fresh('user'));
    const a = key('cart', t, 'a');
    const b = key('cart', t, 'b');
    await backend.mset({ [a]: '1', [b]: '2' }, { ttlMs: 60_000 });
    expect(await backend.mget(a, b)).toEqual(['1', '2']);
    expect(await backend.exists(a, b)).toBe(2);
    expect(await backend.del(a, b)).toBe(2);
  });
});

describe('scan', () => {
  it('finds every key on every primary', async () => {
    const p = fresh('scan');
    const keys = Array.from({ length: 300 }, (_, i) => `${p}:${i}`);
    const pipe = backend.pipeline();
    for (const k of keys) pipe.add('set', k, 'v');
    expect((await pipe.exec()).every((r) => r.ok)).toBe(true);
    const nodesWithKeys = await Promise.all(
      cluster.servers.map(async (s) => Number(await s.command('DBSIZE')) > 0),
    );
    expect(nodesWithKeys).toEqual([true, true, true]);
    const seen = new Set<string>();
    for await (const k of backend.scan({ match: `${p}:*`, count: 50 })) seen.add(k);
    expect([...seen].sort()).toEqual([...keys].sort());
    const typed: string[] = [];
    for await (const k of backend.scan({ match: `${p}:*`, type: 'hash' })) typed.push(k);
    expect(typed).toEqual([]);
  });

  it('info() sums keys over the primaries', async () => {
    const sizes = await Promise.all(
      cluster.servers.map(async (s) => Number(await s.command('DBSIZE'))),
    );
    const info = await backend.info();
    expect(info.backend).toBe('redis-cluster');
    expect(info.keys).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(info.raw.cluster_primaries).toBe('3');
    expect(info.role).toBe('master');
  });
});

describe('pipelines', () => {
  it('split by node and merge the results in order', async () => {
    const p = fresh('pipe');
    const keys = keysOnEveryNode(p, 5);
    const pipe = backend.pipeline();
    keys.forEach((k, i) => {
      pipe.add('set', k, String(i));
    });
    keys.forEach((k) => {
      pipe.add('get', k);
    });
    pipe.add('mget', keys[0] as string, keys[1] as string);
    pipe.add('incrBy', keys[0] as string, 10);
    const results = await pipe.exec();
    expect(results.slice(0, keys.length)).toEqual(keys.map(() => ({ ok: true, value: true })));
    expect(results.slice(keys.length, 2 * keys.length)).toEqual(
      keys.map((_, i) => ({ ok: true, value: String(i) })),
    );
    const crossSlot = results[2 * keys.length];
    expect(crossSlot?.ok).toBe(false);
    expect(crossSlot?.ok === false && (crossSlot.error as Error & { code?: string }).code).toBe(
      'CROSSSLOT',
    );
    expect(results[2 * keys.length + 1]).toEqual({ ok: true, value: 10 });
  });
});

describe('scripts', () => {
  it('run on every node and reload after SCRIPT FLUSH (NOSCRIPT → EVAL)', async () => {
    const script = defineScript<number>({
      name: 'redis-backend-test.incr-twice',
      keys: 1,
      lua: `--[[ redis-backend-test.incr-twice
  KEYS[1]  counter
  returns  the counter after two increments ]]
redis.call('incr', KEYS[1])
return redis.call('incr', KEYS[1])`,
      local: (r, [k]) => {
        r.incrBy(k as string, 1);
        return r.incrBy(k as string, 1);
      },
    });
    const keys = keysOnEveryNode(fresh('script'));
    for (const k of keys) expect(await backend.run(script, [k])).toBe(2);
    const loaded = await Promise.all(
      cluster.servers.map((s) => s.command('SCRIPT', 'EXISTS', script.sha1)),
    );
    expect(loaded).toEqual([[1], [1], [1]]);
    await Promise.all(cluster.servers.map((s) => s.command('SCRIPT', 'FLUSH')));
    for (const k of keys) expect(await backend.run(script, [k])).toBe(4);
    // The same fallback inside a pipeline.
    await Promise.all(cluster.servers.map((s) => s.command('SCRIPT', 'FLUSH')));
    const pipe = backend.pipeline();
    for (const k of keys) pipe.add('mset', [[k, 'x']], { ttlMs: 60_000 });
    expect(await pipe.exec()).toEqual(keys.map(() => ({ ok: true, value: undefined })));
  });
});

describe('pub/sub', () => {
  it('delivers sharded channels on every node, and patterns next to them', async () => {
    const other = await createRedisBackend({ cluster: { nodes: cluster.nodes } });
    try {
      const channels = keysOnEveryNode(fresh('chan'));
      const got: Array<[string, string]> = [];
      const pattern: Array<[string, string, string]> = [];
      const subs = await Promise.all(
        channels.map((c) => backend.subscribe(c, (m, ch) => got.push([m, ch]))),
      );
      const prefix = (channels[0] as string).split(':')[0] as string;
      const psub = await backend.psubscribe(`${prefix}:*`, (m, ch, p) => pattern.push([m, ch, p]));
      for (const c of channels) expect(await other.publish(c, `to ${c}`)).toBe(2);
      await waitUntil(
        'every message',
        () => got.length === channels.length && pattern.length === channels.length,
      );
      expect(got.sort()).toEqual(channels.map((c) => [`to ${c}`, c]).sort());
      expect(pattern.map(([, ch]) => ch).sort()).toEqual([...channels].sort());
      for (const s of subs) await s.unsubscribe();
      await psub.unsubscribe();
      await psub.unsubscribe();
      expect(await other.publish(channels[0] as string, 'nobody')).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe('expiry events', () => {
  it('arrive from every primary', async () => {
    const expired: string[] = [];
    const sub = await backend.onExpired((k) => expired.push(k));
    try {
      const keys = keysOnEveryNode(fresh('exp'), 2);
      for (const k of keys) await backend.set(k, 'v', { ttlMs: 30 });
      await waitUntil('all expiry events', () => keys.every((k) => expired.includes(k)));
      const events = await Promise.all(
        cluster.servers.map(async (s) => {
          const reply = await s.command('CONFIG', 'GET', 'notify-keyspace-events');
          return Array.isArray(reply) ? String(reply[1]) : '';
        }),
      );
      for (const flags of events) expect(flags).toMatch(/E/);
    } finally {
      await sub.unsubscribe();
    }
  });
});

describe('the client', () => {
  it('knows its primaries and its kind', () => {
    const root = backend as RedisBackend;
    expect(root.kind).toBe('redis-cluster');
    expect(root.primaries).toHaveLength(3);
  });
});
