import { isRedbrickError } from '@redbrick/core';
import { sleep, until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cached, createCache } from '../src/index.js';

/*
 * The behaviour suite: one set of tests, run on memory, one redis-server and
 * a 3-master Cluster. Each test opens a fresh world (random key prefix).
 */

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of iter) out.push(k);
  return out.sort();
}

describe.each(worldTargets({ prefix: 'cache' }))('$name', (t) => {
  it('get / set / has / delete with a TTL, metadata beside the value', async () => {
    await using world = await t.open();
    await using cache = createCache<{ n: number }>({ backend: world.backend, ttlMs: 60_000 });
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('a', { n: 1 }, { meta: { source: 'db', etag: 'x1' } });
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await cache.has('a')).toBe(true);
    const entry = await cache.getEntry('a');
    expect(entry?.meta).toEqual({ source: 'db', etag: 'x1' });
    expect(entry?.stale).toBe(false);
    const ttl = await world.backend.pttl('cache:default:e:a');
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.delete('a')).toBe(false);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.has('a')).toBe(false);
  });

  it('an entry expires after its TTL (physical TTL = ttl + grace)', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({ backend: world.backend, ttlMs: 150, graceMs: 5000 });
    await cache.set('k', 'v');
    const pttl = await world.backend.pttl('cache:default:e:k');
    expect(pttl).toBeGreaterThan(4000);
    await sleep(300);
    expect(await cache.get('k')).toBeUndefined();
    expect((await cache.getEntry('k'))?.stale).toBe(true);
  });

  it('values round-trip Date, BigInt, Map, Set and nested objects on both tiers', async () => {
    await using world = await t.open();
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      map: new Map<string, unknown>([['a', new Set([1, 2])]]),
      set: new Set(['x']),
      nested: { deep: [{ when: new Date(0) }, null, 'text'] },
    };
    await using writer = createCache({ backend: world.backend });
    await using reader = createCache({ backend: await world.client(), l1: false });
    await writer.set('v', value);
    expect(await writer.get('v')).toEqual(value); // L1
    expect(await reader.get('v')).toEqual(value); // L2
  });

  it('corrupted stored bytes produce a ValidationError naming the key', async () => {
    await using world = await t.open();
    await using cache = createCache({ backend: world.backend });
    await world.backend.set('cache:default:e:user%3A1', 'garbage{');
    await world.backend.set('cache:default:e:user%3A2', 'c1 99999999999999\n{not json');
    for (const k of ['user:1', 'user:2']) {
      const error = await cache.get(k).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
      expect((error as Error).message).toContain(`"${k}"`);
      expect((error as Error).message).toMatch(/^\[redbrick\/cache\]/);
    }
  });

  it('a zod schema rejects wrong-typed stored data and bad writes', async () => {
    await using world = await t.open();
    const schema = z.object({ id: z.string(), age: z.number() });
    await using typed = createCache({ backend: world.backend, schema });
    await using untyped = createCache<unknown>({ backend: await world.client(), l1: false });
    await untyped.set('u', { id: 'a', age: 'old' });
    await expect(typed.get('u')).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(typed.get('u')).rejects.toThrow(/"u"/);
    await expect(typed.set('w', { id: 1 } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await untyped.get('w')).toBeUndefined();
    await typed.set('ok', { id: 'b', age: 3 });
    expect(await typed.get('ok')).toEqual({ id: 'b', age: 3 });
  });

  it('getMany / setMany / deleteMany across hash slots, with per-item TTLs', async () => {
    await using world = await t.open();
    await using cache = createCache<number>({ backend: world.backend });
    await using other = createCache<number>({ backend: await world.client(), l1: false });
    const keys = Array.from({ length: 20 }, (_, i) => `item:${i}`);
    await cache.setMany(keys.map((key, i) => ({ key, value: i, ttlMs: i === 0 ? 100 : 60_000 })));
    expect(await other.getMany([...keys, 'missing'])).toEqual([
      ...keys.map((_, i) => i),
      undefined,
    ]);
    expect(await cache.getMany(keys)).toEqual(keys.map((_, i) => i));
    await sleep(250);
    expect((await other.getMany(keys.slice(0, 2)))[0]).toBeUndefined();
    expect(await cache.deleteMany(keys.slice(1, 5))).toBe(4);
    expect(await other.getMany(keys.slice(0, 6))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      5,
    ]);
  });

  it('keys(pattern) scans only this cache, and clear() removes only its entries', async () => {
    await using world = await t.open();
    await using cache = createCache<number>({ backend: world.backend, name: 'users' });
    await using neighbour = createCache<number>({ backend: world.backend, name: 'orders' });
    await world.backend.set('unrelated:key', 'keep');
    await cache.setMany([
      { key: 'user:1', value: 1 },
      { key: 'user:2', value: 2 },
      { key: 'team:1', value: 3 },
    ]);
    await neighbour.set('user:9', 9);
    expect(await collect(cache.keys('user:*'))).toEqual(['user:1', 'user:2']);
    expect(await collect(cache.keys())).toEqual(['team:1', 'user:1', 'user:2']);
    await cache.clear();
    expect(await collect(cache.keys())).toEqual([]);
    expect(await cache.get('user:1')).toBeUndefined();
    expect(await neighbour.get('user:9')).toBe(9);
    expect(await world.backend.get('unrelated:key')).toBe('keep');
  });

  it('namespaces are isolated from each other and cleared one at a time', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({ backend: world.backend });
    const a = cache.namespace('workspace-123');
    const b = cache.namespace('workspace-456');
    await a.set('doc', 'A');
    await b.set('doc', 'B');
    await cache.set('doc', 'root');
    expect([await a.get('doc'), await b.get('doc'), await cache.get('doc')]).toEqual([
      'A',
      'B',
      'root',
    ]);
    expect(await collect(a.keys())).toEqual(['doc']);
    {
      // A namespace is a view: disposing it leaves its cache open.
      await using view = cache.namespace('workspace-456');
      expect(await view.get('doc')).toBe('B');
    }
    expect(cache.isConnected).toBe(true);
    await cache.clearNamespace('workspace-123');
    expect(await a.get('doc')).toBeUndefined();
    expect(await b.get('doc')).toBe('B');
    expect(await cache.get('doc')).toBe('root');
  });

  it('getOrSet computes on a miss and then hits L1, then L2 on another instance', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({ backend: world.backend });
    await using other = createCache<string>({ backend: await world.client() });
    let calls = 0;
    const factory = async () => {
      calls++;
      return 'computed';
    };
    expect(await cache.getOrSet('k', factory)).toBe('computed');
    expect(await cache.getOrSet('k', factory)).toBe('computed');
    expect(await other.getOrSet('k', factory)).toBe('computed');
    expect(calls).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, l1Hits: 1, sets: 1, hitRate: 0.5 });
    expect(other.stats()).toMatchObject({ hits: 1, l2Hits: 1, misses: 0 });
  });

  it('1,000 concurrent getOrSet of one cold key run the factory once', async () => {
    await using world = await t.open();
    await using cache = createCache<number>({ backend: world.backend });
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        cache.getOrSet('cold', async () => {
          calls++;
          await sleep(50);
          return 42;
        }),
      ),
    );
    expect(calls).toBe(1);
    expect(new Set(results)).toEqual(new Set([42]));
  });

  it('grace: a stale value is served while one refresh runs in the background', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({
      backend: world.backend,
      ttlMs: 100,
      graceMs: 30_000,
    });
    const stale: string[] = [];
    cache.on('stale', (e) => stale.push(e.reason));
    await cache.set('k', 'old');
    await sleep(200);
    let calls = 0;
    const refresh = async () => {
      calls++;
      await sleep(100);
      return 'new';
    };
    const served = await Promise.all([cache.getOrSet('k', refresh), cache.getOrSet('k', refresh)]);
    expect(served).toEqual(['old', 'old']);
    expect(stale).toContain('refresh');
    await until('the refresh lands', async () => (await cache.get('k')) === 'new', 10_000);
    expect(calls).toBe(1);
  });

  it('fail-safe: a throwing factory serves the last good value within grace, else surfaces', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({
      backend: world.backend,
      ttlMs: 100,
      graceMs: 30_000,
    });
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e.error));
    await cache.set('k', 'good');
    await sleep(200);
    await using fresh = createCache<string>({ backend: await world.client(), ttlMs: 100 });
    const boom = async (): Promise<string> => {
      throw Object.assign(new Error('db down'), { code: 'DB' });
    };
    // The background refresh fails: the stale value keeps being served.
    expect(await cache.getOrSet('k', boom)).toBe('good');
    await until('the refresh failed', () => errors.length > 0, 10_000);
    expect(await cache.getOrSet('k', boom)).toBe('good');
    await expect(fresh.getOrSet('nothing', boom)).rejects.toMatchObject({ code: 'DB' });
  });

  it('soft timeout waits that long for a fresh value, then serves stale; hard timeout fails with TIMEOUT', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({
      backend: world.backend,
      ttlMs: 100,
      graceMs: 30_000,
      softTimeoutMs: 150,
      hardTimeoutMs: 1000,
    });
    const reasons: string[] = [];
    cache.on('stale', (e) => reasons.push(e.reason));
    const slow = (ms: number, value: string) => async () => {
      await sleep(ms);
      return value;
    };
    await expect(cache.getOrSet('none', slow(3000, 'x'))).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    await cache.set('k', 'old');
    await sleep(200);
    // A quick refresh beats the soft timeout: the fresh value is returned.
    expect(await cache.getOrSet('k', slow(5, 'quick'))).toBe('quick');
    await cache.set('k', 'old', { ttlMs: 100 });
    await sleep(200);
    // A slow refresh: the stale value after the soft timeout, the fresh one lands later.
    const started = Date.now();
    expect(await cache.getOrSet('k', slow(600, 'slow'))).toBe('old');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(100);
    expect(reasons).toEqual(['soft-timeout']);
    await using reader = createCache<string>({ backend: await world.client(), l1: false });
    await until('the slow refresh lands', async () => (await reader.get('k')) === 'slow', 10_000);
  });

  it('tags: invalidateTags removes every tagged entry, on every instance', async () => {
    await using world = await t.open();
    await using a = createCache<number>({ backend: world.backend });
    await using b = createCache<number>({ backend: await world.client() });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('p:1', 1, { tags: ['product', 'shop:1'] });
    await a.set('p:2', 2, { tags: ['product'], ttlMs: 50 });
    await a.set('p:3', 3, { tags: ['shop:1'], ttlMs: 120_000 });
    await a.set('other', 4);
    expect(await b.getMany(['p:1', 'p:3', 'other'])).toEqual([1, 3, 4]); // now in B's L1
    const tagTtl = await world.backend.pttl('cache:default:t:shop%3A1');
    expect(tagTtl).toBeGreaterThan(100_000);
    await b.invalidateTags(['shop:1']);
    expect(await b.getMany(['p:1', 'p:3', 'other'])).toEqual([undefined, undefined, 4]);
    await until('A evicts the tagged keys', async () => (await a.get('p:3')) === undefined, 5000);
    expect(await a.get('p:1')).toBeUndefined();
    expect(await a.get('other')).toBe(4);
  });

  it('a set on one instance evicts the key from the other instance L1', async () => {
    await using world = await t.open();
    await using a = createCache<string>({ backend: world.backend });
    await using b = createCache<string>({ backend: await world.client() });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'v1');
    expect(await b.get('k')).toBe('v1');
    await a.set('k', 'v2');
    await until('B sees v2', async () => (await b.get('k')) === 'v2', 5000);
    await a.delete('k');
    await until('B sees the delete', async () => (await b.get('k')) === undefined, 5000);
    expect(b.stats().l1Hits).toBeGreaterThanOrEqual(0);
  });

  it('cached() memoises an async function by key', async () => {
    await using world = await t.open();
    await using cache = createCache<{ id: string; n: number }>({ backend: world.backend });
    let calls = 0;
    const load = cached(
      async (id: string, n: number) => {
        calls++;
        return { id, n };
      },
      { cache, key: (id) => `user:${id}`, ttlMs: 60_000 },
    );
    expect(await load('a', 1)).toEqual({ id: 'a', n: 1 });
    expect(await load('a', 2)).toEqual({ id: 'a', n: 1 });
    expect(await load('b', 3)).toEqual({ id: 'b', n: 3 });
    expect(calls).toBe(2);
  });

  it('events and stats for hit, miss, stale and error; listeners unsubscribe', async () => {
    await using world = await t.open();
    await using cache = createCache<number>({ backend: world.backend });
    const seen: string[] = [];
    const off = cache.on('hit', (e) => seen.push(`hit:${e.tier}:${e.key}`));
    cache.on('miss', (e) => seen.push(`miss:${e.key}`));
    await cache.get('a');
    await cache.set('a', 1);
    await cache.get('a');
    off();
    await cache.get('a');
    expect(seen).toEqual(['miss:a', 'hit:l1:a']);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, sets: 1, l1Hits: 2, l2Hits: 0 });
    await cache.delete('a');
    expect(cache.stats().deletes).toBe(1);
  });

  it('lifecycle: ping, isConnected, await using, closed caches refuse work', async () => {
    await using world = await t.open();
    const cache = createCache<number>({ backend: world.backend });
    expect(await cache.ping()).toBeGreaterThanOrEqual(0);
    expect(cache.isConnected).toBe(true);
    {
      await using scoped = createCache<number>({ backend: world.backend, name: 'scoped' });
      await scoped.set('x', 1);
    }
    await cache.close();
    await cache.close();
    expect(cache.isConnected).toBe(false);
    await expect(cache.get('x')).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(world.backend.isConnected).toBe(true);
  });

  it('the L1 tier is bounded by entries and by bytes', async () => {
    await using world = await t.open();
    await using cache = createCache<string>({
      backend: world.backend,
      l1: { maxEntries: 3, maxBytes: 10_000 },
    });
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, `v${i}`);
    for (let i = 0; i < 5; i++) await cache.get(`k${i}`);
    const s = cache.stats();
    expect(s.l1Hits + s.l2Hits).toBe(5);
    expect(s.l2Hits).toBeGreaterThanOrEqual(2);
    await cache.set('big', 'x'.repeat(20_000));
    expect(await cache.get('big')).toHaveLength(20_000);
    expect(cache.stats().l2Hits).toBe(s.l2Hits + 1);
  });
});
