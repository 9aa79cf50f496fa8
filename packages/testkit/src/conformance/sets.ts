import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode } from './context.js';

export function setTests(ctx: ConformanceContext): void {
  describe('sets', () => {
    it('sadd counts new members; smembers, sismember and scard read them', async () => {
      const b = ctx.fresh();
      expect(await b.sadd('s', 'a', 'b', 'a')).toBe(2);
      expect(await b.sadd('s', 'b', 'c')).toBe(1);
      expect((await b.smembers('s')).sort()).toEqual(['a', 'b', 'c']);
      expect(await b.sismember('s', 'a')).toBe(true);
      expect(await b.sismember('s', 'z')).toBe(false);
      expect(await b.scard('s')).toBe(3);
      expect(await b.smembers('none')).toEqual([]);
      expect(await b.scard('none')).toBe(0);
      expect(await b.sismember('none', 'a')).toBe(false);
    });

    it('srem counts removed members; the set vanishes with its last member', async () => {
      const b = ctx.fresh();
      await b.sadd('s', 'a', 'b');
      expect(await b.srem('s', 'a', 'z')).toBe(1);
      expect(await b.srem('s', 'b')).toBe(1);
      expect(await b.exists('s')).toBe(0);
      expect(await b.srem('s', 'b')).toBe(0);
    });

    it('WRONGTYPE for set commands on another type', async () => {
      const b = ctx.fresh();
      await b.set('s', 'v');
      await expectCode(() => b.sadd('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.srem('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.smembers('s'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.sismember('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.scard('s'), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.get('s')).toBe('v');
    });
  });
}
