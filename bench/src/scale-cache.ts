/** The cache's lines of the scale curves: hits on present keys, with and without the L1 tier. */
import { createCache } from '@redbrick/cache';
import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import { keyCycle, type Subject } from './scale.js';

const VALUE = { id: 42, name: 'Ada Lovelace', tags: ['math', 'engines'], score: 99.5 };
const FILL_BATCH = 1000;

function required(url: string | undefined): string {
  if (!url) throw new Error('scale curve needs a redis-server');
  return url;
}

function cacheSubject(where: 'memory' | 'redis', l1: boolean): Subject {
  return {
    label: `cache hit (${where}${l1 ? ', L1' : ', no L1'})`,
    baseline: false,
    needsRedis: where === 'redis',
    async prepare(keys, redisUrl) {
      const backend: Backend =
        where === 'memory'
          ? createMemoryBackend()
          : await createRedisBackend({ type: 'redis', url: required(redisUrl) });
      const cache = createCache<typeof VALUE>({
        backend,
        name: `scale-${keys}-${l1 ? 'l1' : 'l2'}`,
        ttlMs: 3_600_000,
        l1: l1 ? { maxEntries: 100_000 } : false,
        invalidation: false,
      });
      for (let i = 0; i < keys; i += FILL_BATCH) {
        const n = Math.min(FILL_BATCH, keys - i);
        await cache.setMany(
          Array.from({ length: n }, (_, j) => ({ key: `k:${i + j}`, value: VALUE })),
        );
      }
      const next = keyCycle('k', keys);
      return {
        op: () => cache.get(next()),
        close: async () => {
          await cache.close();
          await backend.close();
        },
      };
    },
  };
}

const rawGet: Subject = {
  label: 'ioredis GET + JSON.parse',
  baseline: true,
  needsRedis: true,
  async prepare(keys, redisUrl) {
    const raw = new Redis(required(redisUrl), { enableAutoPipelining: false });
    const payload = JSON.stringify(VALUE);
    for (let i = 0; i < keys; i += FILL_BATCH) {
      const pipeline = raw.pipeline();
      for (let j = i; j < Math.min(keys, i + FILL_BATCH); j++)
        pipeline.set(`scale-raw:${j}`, payload, 'PX', 3_600_000);
      await pipeline.exec();
    }
    const next = keyCycle('scale-raw', keys);
    return {
      op: async () => {
        const s = await raw.get(next());
        return s === null ? undefined : JSON.parse(s);
      },
      close: async () => {
        raw.disconnect();
      },
    };
  },
};

export function cacheSubjects(): Subject[] {
  return [
    cacheSubject('memory', false),
    cacheSubject('redis', true),
    cacheSubject('redis', false),
    rawGet,
  ];
}
