import KeyvRedis from '@keyv/redis';
import { createCache } from '@redbrick/cache';
import { createBackend } from '@redbrick/core';
import { createRedisBackend } from '@redbrick/redis-backend';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache as createCacheManager } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import type { BenchContext, Scenario, Sides } from '../harness.js';

/*
 * Issue 4 (@redbrick/cache). Every side reads the same 1,000 keys holding the
 * same small JSON object, on the same throwaway redis-server.
 */

const KEYS = 1000;
const TTL_MS = 600_000;
const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
const payload = (i: number) => ({ id: i, name: `user ${i}`, roles: ['a', 'b'], active: true });

function cursor(): () => string {
  let i = 0;
  return () => keys[i++ % KEYS] as string;
}

type Payload = ReturnType<typeof payload>;

/** L2 hit (no L1) next to raw ioredis GET + JSON.parse of the same JSON. Goal ≥ 0.9×. */
async function l2Hit(ctx: BenchContext): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('cache scenario without a server');
  const backend = await createRedisBackend({ type: 'redis', url });
  const cache = createCache<Payload>({ backend, name: 'bench-l2', l1: false, ttlMs: TTL_MS });
  const raw = new Redis(url, { enableAutoPipelining: false });
  await cache.setMany(keys.map((key, i) => ({ key, value: payload(i) })));
  for (const [i, k] of keys.entries()) await raw.set(`raw:${k}`, JSON.stringify(payload(i)));
  const ours = cursor();
  const theirs = cursor();
  return {
    redbrick: () => cache.get(ours()),
    baseline: async () => {
      const s = await raw.get(`raw:${theirs()}`);
      return s === null ? undefined : (JSON.parse(s) as Payload);
    },
    async check() {
      const v = await cache.get('user:7');
      if (v?.id !== 7 || cache.stats().l1Hits !== 0)
        throw new Error('L2 hit returned a wrong value');
    },
    async teardown() {
      await cache.close();
      await backend.close();
      raw.disconnect();
    },
  };
}

/** L1 hit on the memory tier next to bentocache's memory L1. Goal ≥ 1M ops/s (absolute). */
async function l1Hit(): Promise<Sides> {
  const backend = await createBackend({ type: 'memory' });
  const cache = createCache<Payload>({ backend, name: 'bench-l1', ttlMs: TTL_MS });
  const bento = new BentoCache({
    default: 'mem',
    stores: { mem: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  });
  for (const [i, key] of keys.entries()) {
    await cache.set(key, payload(i));
    await bento.set({ key, value: payload(i), ttl: TTL_MS });
  }
  const ours = cursor();
  const theirs = cursor();
  return {
    redbrick: () => cache.get(ours()),
    baseline: () => bento.get({ key: theirs() }),
    async check() {
      const v = await cache.get('user:9');
      if (v?.id !== 9) throw new Error('L1 hit returned a wrong value');
    },
    async teardown() {
      await cache.close();
      await bento.disconnectAll();
      await backend.close();
    },
  };
}

/** getOrSet hit next to a peer library on the same Redis. `l1` picks both sides' tiers. */
async function getOrSetHit(
  baseline: 'bentocache' | 'cache-manager',
  l1: boolean,
  ctx: BenchContext,
): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('cache scenario without a server');
  const backend = await createRedisBackend({ type: 'redis', url });
  const cache = createCache<Payload>({
    backend,
    name: `bench-gos-${baseline}-${l1}`,
    ttlMs: TTL_MS,
    l1: l1 ? {} : false,
  });
  const fail = async (): Promise<Payload> => {
    throw new Error('factory ran on a hit');
  };
  await cache.setMany(keys.map((key, i) => ({ key, value: payload(i) })));
  const ours = cursor();
  const theirs = cursor();
  let other: (key: string) => Promise<unknown>;
  let close: () => Promise<void>;
  if (baseline === 'bentocache') {
    const connection = new Redis(url);
    const store = bentostore();
    if (l1) store.useL1Layer(memoryDriver({ maxItems: 10_000 }));
    store.useL2Layer(redisDriver({ connection }));
    const bento = new BentoCache({ default: 'redis', stores: { redis: store } });
    for (const [i, key] of keys.entries()) await bento.set({ key, value: payload(i), ttl: TTL_MS });
    other = (key) => bento.getOrSet({ key, factory: fail, ttl: TTL_MS });
    close = async () => {
      await bento.disconnectAll();
      connection.disconnect();
    };
  } else {
    const keyv = new Keyv({ store: new KeyvRedis(url), namespace: 'bench-cm' });
    const cm = createCacheManager({ stores: [keyv] });
    for (const [i, key] of keys.entries()) await cm.set(key, payload(i), TTL_MS);
    other = (key) => cm.wrap(key, fail, TTL_MS);
    close = async () => {
      await cm.disconnect();
    };
  }
  return {
    redbrick: () => cache.getOrSet(ours(), fail),
    baseline: () => other(theirs()),
    async check() {
      const v = await cache.getOrSet('user:3', fail);
      const w = (await other('user:3')) as Payload;
      if (v.id !== 3 || w.id !== 3) throw new Error('getOrSet hit returned a wrong value');
    },
    async teardown() {
      await cache.close();
      await backend.close();
      await close();
    },
  };
}

export const cacheScenarios: Scenario[] = [
  ...[1, 64].map(
    (inFlight): Scenario => ({
      package: 'cache',
      name: `L2 hit (get, no L1) ×${inFlight}`,
      backend: 'redis',
      baseline: 'ioredis GET+JSON.parse',
      inFlight,
      target: 0.9,
      needsRedis: true,
      setup: l2Hit,
    }),
  ),
  {
    package: 'cache',
    name: 'L1 hit (get)',
    backend: 'memory',
    baseline: 'bentocache memory L1',
    inFlight: 1,
    batch: 100,
    setup: () => l1Hit(),
  },
  ...(['bentocache', 'cache-manager'] as const).map(
    (baseline): Scenario => ({
      package: 'cache',
      name: 'getOrSet hit (Redis, no L1)',
      backend: 'redis',
      baseline,
      inFlight: 1,
      needsRedis: true,
      setup: (ctx) => getOrSetHit(baseline, false, ctx),
    }),
  ),
  {
    package: 'cache',
    name: 'getOrSet hit (L1 + Redis)',
    backend: 'redis',
    baseline: 'bentocache',
    inFlight: 1,
    batch: 100,
    needsRedis: true,
    setup: (ctx) => getOrSetHit('bentocache', true, ctx),
  },
];
