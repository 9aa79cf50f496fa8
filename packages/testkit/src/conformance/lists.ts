import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode } from './context.js';

export function listTests(ctx: ConformanceContext): void {
  describe('lists', () => {
    it('rpush / lpush return the length; lpush puts each value at the head in turn', async () => {
      const b = ctx.fresh();
      expect(await b.rpush('l', 'a', 'b')).toBe(2);
      expect(await b.lpush('l', 'x', 'y')).toBe(4);
      expect(await b.lrange('l', 0, -1)).toEqual(['y', 'x', 'a', 'b']);
      expect(await b.llen('l')).toBe(4);
      expect(await b.llen('none')).toBe(0);
    });

    it('lrange takes inclusive, negative and out-of-range indexes like Redis', async () => {
      const b = ctx.fresh();
      await b.rpush('l', 'a', 'b', 'c', 'd', 'e');
      expect(await b.lrange('l', 0, 0)).toEqual(['a']);
      expect(await b.lrange('l', 1, 2)).toEqual(['b', 'c']);
      expect(await b.lrange('l', -2, -1)).toEqual(['d', 'e']);
      expect(await b.lrange('l', -100, 100)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(await b.lrange('l', 3, 1)).toEqual([]);
      expect(await b.lrange('l', 5, 10)).toEqual([]);
      expect(await b.lrange('l', -1, -2)).toEqual([]);
      expect(await b.lrange('l', 2, -3)).toEqual(['c']);
      expect(await b.lrange('none', 0, -1)).toEqual([]);
    });

    it('lindex reads from either end and answers null out of range', async () => {
      const b = ctx.fresh();
      await b.rpush('l', 'a', 'b', 'c');
      expect(await b.lindex('l', 0)).toBe('a');
      expect(await b.lindex('l', -1)).toBe('c');
      expect(await b.lindex('l', -3)).toBe('a');
      expect(await b.lindex('l', 3)).toBeNull();
      expect(await b.lindex('l', -4)).toBeNull();
      expect(await b.lindex('none', 0)).toBeNull();
    });

    it('ltrim keeps an inclusive range; an empty result deletes the list', async () => {
      const b = ctx.fresh();
      await b.rpush('l', 'a', 'b', 'c', 'd', 'e');
      await b.ltrim('l', 1, -2);
      expect(await b.lrange('l', 0, -1)).toEqual(['b', 'c', 'd']);
      await b.ltrim('l', -2, 100);
      expect(await b.lrange('l', 0, -1)).toEqual(['c', 'd']);
      await b.ltrim('l', 5, 10);
      expect(await b.exists('l')).toBe(0);
      await b.rpush('m', 'a', 'b');
      await b.ltrim('m', 1, 0);
      expect(await b.exists('m')).toBe(0);
      await b.ltrim('none', 0, 1);
      expect(await b.exists('none')).toBe(0);
    });

    it('lpop / rpop take from each end; the list vanishes when emptied', async () => {
      const b = ctx.fresh();
      await b.rpush('l', 'a', 'b', 'c');
      expect(await b.lpop('l')).toBe('a');
      expect(await b.rpop('l')).toBe('c');
      expect(await b.rpop('l')).toBe('b');
      expect(await b.exists('l')).toBe(0);
      expect(await b.lpop('l')).toBeNull();
      expect(await b.rpop('none')).toBeNull();
    });

    it('a long list works as a queue from both ends', async () => {
      const b = ctx.fresh();
      const values = Array.from({ length: 500 }, (_, i) => `v${i}`);
      await b.rpush('q', ...values);
      expect(await b.lrange('q', 250, 252)).toEqual(['v250', 'v251', 'v252']);
      for (let i = 0; i < 100; i++) await b.lpush('q', `h${i}`);
      expect(await b.llen('q')).toBe(600);
      expect(await b.rpop('q')).toBe('v499');
      expect(await b.lindex('q', 0)).toBe('h99');
    });

    it('WRONGTYPE for list commands on another type', async () => {
      const b = ctx.fresh();
      await b.set('s', 'v');
      await expectCode(() => b.rpush('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.lpush('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.lrange('s', 0, -1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.lindex('s', 0), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.llen('s'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.ltrim('s', 0, 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.lpop('s'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.rpop('s'), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.get('s')).toBe('v');
    });
  });
}
