import type { Backend } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, collect } from './context.js';

async function setMany(b: Backend, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((k) => b.set(k, 'v')));
  }
}

export function scanTests(ctx: ConformanceContext): void {
  describe('scan', () => {
    it('returns every key of the view once or more, without the prefix', async () => {
      const b = ctx.fresh();
      const keys = Array.from({ length: 250 }, (_, i) => `key:${i}`);
      await setMany(b, keys);
      const seen = await collect(b.scan({ count: 20 }));
      expect(new Set(seen)).toEqual(new Set(keys));
      expect(await collect(ctx.fresh().scan())).toEqual([]);
    });

    it('keys present for the whole scan are all returned while others come and go', async () => {
      const b = ctx.fresh();
      const stable = Array.from({ length: 300 }, (_, i) => `stable:${i}`);
      const doomed = Array.from({ length: 300 }, (_, i) => `doomed:${i}`);
      await setMany(b, stable);
      await setMany(b, doomed);
      const seen = new Set<string>();
      let step = 0;
      for await (const key of b.scan({ count: 10 })) {
        seen.add(key);
        step++;
        if (step % 3 === 0) {
          // churn while the scan runs: add new keys, delete keys not yet seen
          await b.set(`added:${step}`, 'v');
          await b.del(doomed[step % doomed.length] as string);
          await b.del(`added:${step - 3}`);
        }
      }
      for (const key of stable) expect(seen.has(key), key).toBe(true);
      for (const key of seen) expect(key).toMatch(/^(stable|doomed|added):\d+$/);
    });

    it('match filters with Redis glob patterns, applied inside the view', async () => {
      const b = ctx.fresh();
      await setMany(b, ['user:1', 'user:2', 'user:10', 'users', 'order:1', 'a*b', 'axb']);
      expect((await collect(b.scan({ match: 'user:*' }))).sort()).toEqual([
        'user:1',
        'user:10',
        'user:2',
      ]);
      expect((await collect(b.scan({ match: 'user:?' }))).sort()).toEqual(['user:1', 'user:2']);
      expect((await collect(b.scan({ match: '[ou]*:1' }))).sort()).toEqual(['order:1', 'user:1']);
      expect(await collect(b.scan({ match: 'a\\*b' }))).toEqual(['a*b']);
      expect(await collect(b.scan({ match: 'nothing*' }))).toEqual([]);
    });

    it('type filters by data type, together with match', async () => {
      const b = ctx.fresh();
      await b.set('s1', 'v');
      await b.set('s2', 'v');
      await b.hset('h1', { f: 'v' });
      await b.rpush('l1', 'a');
      await b.sadd('set1', 'a');
      await b.zadd('z1', { member: 'a', score: 1 });
      await b.xadd('x1', { f: 'v' });
      expect((await collect(b.scan({ type: 'string' }))).sort()).toEqual(['s1', 's2']);
      expect(await collect(b.scan({ type: 'hash' }))).toEqual(['h1']);
      expect(await collect(b.scan({ type: 'list' }))).toEqual(['l1']);
      expect(await collect(b.scan({ type: 'set' }))).toEqual(['set1']);
      expect(await collect(b.scan({ type: 'zset' }))).toEqual(['z1']);
      expect(await collect(b.scan({ type: 'stream' }))).toEqual(['x1']);
      expect(await collect(b.scan({ type: 'string', match: '*2' }))).toEqual(['s2']);
    });

    it('does not return expired keys', async () => {
      const b = ctx.fresh();
      await b.set('live', 'v');
      await b.set('gone', 'v', { ttlMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await collect(b.scan())).toEqual(['live']);
    });
  });
}
