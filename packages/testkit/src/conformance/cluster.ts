import { defineScript, hashSlot } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode } from './context.js';

const copy = defineScript<number>({
  name: 'testkit.conformance.copy',
  keys: 2,
  lua: `--[[ testkit.conformance.copy
  KEYS[1]  source string
  KEYS[2]  destination
  returns  1 copied, 0 the source is missing ]]
local v = redis.call('get', KEYS[1])
if not v then return 0 end
redis.call('set', KEYS[2], v)
return 1`,
  local(r, [from, to]) {
    const v = r.get(from as string);
    if (v === null) return 0;
    r.set(to as string, v);
    return 1;
  },
});

/** Two hash tags whose keys land in different slots. */
function tagsInTwoSlots(): [string, string] {
  const first = 'a';
  for (const candidate of ['b', 'c', 'd', 'e', 'f']) {
    if (hashSlot(`{${candidate}}`) !== hashSlot(`{${first}}`)) return [first, candidate];
  }
  throw new Error('[redbrick/testkit] no two tags in different slots');
}

const CROSS = /slot/i;

export function clusterTests(ctx: ConformanceContext): void {
  if (!ctx.capabilities.cluster) return;

  describe('cluster: hash slots', () => {
    const [a, b] = tagsInTwoSlots();
    const x = `{${a}}x`;
    const y = `{${b}}y`;
    const sameSlot = `{${a}}y`;

    it('multi-key commands across slots fail with CROSSSLOT and say so', async () => {
      const v = ctx.fresh();
      await v.set(x, '1');
      await v.set(y, '2');
      await expectCode(() => v.mget(x, y), 'CROSSSLOT', CROSS);
      await expectCode(() => v.del(x, y), 'CROSSSLOT', CROSS);
      await expectCode(() => v.exists(x, y), 'CROSSSLOT', CROSS);
      await expectCode(() => v.mset({ [x]: '3', [y]: '4' }), 'CROSSSLOT', CROSS);
      await expectCode(() => v.mset({ [x]: '3', [y]: '4' }, { ttlMs: 60_000 }), 'CROSSSLOT', CROSS);
      expect(await v.get(x)).toBe('1');
      expect(await v.get(y)).toBe('2');
    });

    it('scripts whose keys span slots fail with CROSSSLOT', async () => {
      const v = ctx.fresh();
      await v.set(x, 'payload');
      await expectCode(() => v.run(copy, [x, y]), 'CROSSSLOT', CROSS);
      expect(await v.exists(y)).toBe(0);
    });

    it('keys sharing a {hash tag} work together', async () => {
      const v = ctx.fresh();
      await v.mset({ [x]: '1', [sameSlot]: '2' }, { ttlMs: 60_000 });
      expect(await v.mget(x, sameSlot)).toEqual(['1', '2']);
      expect(await v.exists(x, sameSlot)).toBe(2);
      expect(await v.run(copy, [x, sameSlot])).toBe(1);
      expect(await v.get(sameSlot)).toBe('1');
      expect(await v.del(x, sameSlot)).toBe(2);
    });

    it('single-key commands and pipelines work on keys in any slot', async () => {
      const v = ctx.fresh();
      const results = await v.pipeline().add('set', x, '1').add('set', y, '2').add('get', y).exec();
      expect(results.map((r) => r.ok)).toEqual([true, true, true]);
      expect(results[2]).toEqual({ ok: true, value: '2' });
    });
  });
}
