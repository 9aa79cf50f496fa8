import type { Backend } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode } from './context.js';

async function fill(b: Backend): Promise<void> {
  await b.zadd('z', [
    { member: 'a', score: 1 },
    { member: 'b', score: 2 },
    { member: 'c', score: 2 },
    { member: 'd', score: 3 },
    { member: 'e', score: 4.5 },
  ]);
}

export function sortedSetTests(ctx: ConformanceContext): void {
  describe('sorted sets', () => {
    it('zadd counts added members, not updated ones; zscore, zcard and zrem', async () => {
      const b = ctx.fresh();
      expect(await b.zadd('z', { member: 'a', score: 1 })).toBe(1);
      expect(
        await b.zadd('z', [
          { member: 'a', score: 5 },
          { member: 'b', score: 0.25 },
        ]),
      ).toBe(1);
      expect(await b.zscore('z', 'a')).toBe(5);
      expect(await b.zscore('z', 'b')).toBe(0.25);
      expect(await b.zscore('z', 'none')).toBeNull();
      expect(await b.zscore('nokey', 'a')).toBeNull();
      expect(await b.zcard('z')).toBe(2);
      expect(await b.zcard('nokey')).toBe(0);
      expect(await b.zrem('z', 'a', 'zz')).toBe(1);
      expect(await b.zrem('z', 'b')).toBe(1);
      expect(await b.exists('z')).toBe(0);
    });

    it('orders by score, then by member bytes for equal scores', async () => {
      const b = ctx.fresh();
      await b.zadd('z', [
        { member: 'b', score: 1 },
        { member: 'c', score: 1 },
        { member: 'a', score: 1 },
        { member: 'B', score: 1 },
        { member: 'first', score: -1 },
        { member: 'last', score: 10 },
      ]);
      expect(await b.zrangeByScore('z', '-inf', '+inf')).toEqual([
        'first',
        'B',
        'a',
        'b',
        'c',
        'last',
      ]);
    });

    it('zrangeByScore: inclusive and ( exclusive bounds, -inf / +inf, offset and count', async () => {
      const b = ctx.fresh();
      await fill(b);
      expect(await b.zrangeByScore('z', 2, 3)).toEqual(['b', 'c', 'd']);
      expect(await b.zrangeByScore('z', '(2', 3)).toEqual(['d']);
      expect(await b.zrangeByScore('z', 2, '(3')).toEqual(['b', 'c']);
      expect(await b.zrangeByScore('z', '(1', '(4.5')).toEqual(['b', 'c', 'd']);
      expect(await b.zrangeByScore('z', '-inf', 2)).toEqual(['a', 'b', 'c']);
      expect(await b.zrangeByScore('z', 3, '+inf')).toEqual(['d', 'e']);
      expect(
        await b.zrangeByScore('z', Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY),
      ).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(await b.zrangeByScore('z', 3, 1)).toEqual([]);
      expect(await b.zrangeByScore('z', '(2', 2)).toEqual([]);
      expect(await b.zrangeByScore('z', '-inf', '+inf', { offset: 1, count: 2 })).toEqual([
        'b',
        'c',
      ]);
      expect(await b.zrangeByScore('z', '-inf', '+inf', { offset: 3 })).toEqual(['d', 'e']);
      expect(await b.zrangeByScore('z', '-inf', '+inf', { offset: 10, count: 2 })).toEqual([]);
      expect(await b.zrangeByScore('z', '-inf', '+inf', { offset: 0, count: 0 })).toEqual([]);
      expect(await b.zrangeByScore('nokey', '-inf', '+inf')).toEqual([]);
    });

    it('zrangeByScore withScores returns { member, score } pairs, infinities included', async () => {
      const b = ctx.fresh();
      await fill(b);
      await b.zadd('z', [
        { member: 'top', score: Number.POSITIVE_INFINITY },
        { member: 'bottom', score: Number.NEGATIVE_INFINITY },
      ]);
      expect(await b.zrangeByScore('z', '(3', '+inf', { withScores: true })).toEqual([
        { member: 'e', score: 4.5 },
        { member: 'top', score: Number.POSITIVE_INFINITY },
      ]);
      expect(await b.zrangeByScore('z', '-inf', 1, { withScores: true, count: 1 })).toEqual([
        { member: 'bottom', score: Number.NEGATIVE_INFINITY },
      ]);
      expect(await b.zscore('z', 'top')).toBe(Number.POSITIVE_INFINITY);
    });

    it('zadd nx / xx / gt / lt follow Redis', async () => {
      const b = ctx.fresh();
      await b.zadd('z', { member: 'a', score: 5 });
      expect(await b.zadd('z', { member: 'a', score: 1 }, { nx: true })).toBe(0);
      expect(await b.zscore('z', 'a')).toBe(5);
      expect(await b.zadd('z', { member: 'new', score: 1 }, { xx: true })).toBe(0);
      expect(await b.zscore('z', 'new')).toBeNull();
      expect(await b.zadd('z', { member: 'a', score: 2 }, { xx: true })).toBe(0);
      expect(await b.zscore('z', 'a')).toBe(2);
      expect(await b.zadd('z', { member: 'a', score: 1 }, { gt: true })).toBe(0);
      expect(await b.zscore('z', 'a')).toBe(2);
      expect(await b.zadd('z', { member: 'a', score: 3 }, { gt: true })).toBe(0);
      expect(await b.zscore('z', 'a')).toBe(3);
      // gt / lt never stop a new member from being added
      expect(await b.zadd('z', { member: 'g', score: 7 }, { gt: true })).toBe(1);
      expect(await b.zadd('z', { member: 'g', score: 9 }, { lt: true })).toBe(0);
      expect(await b.zscore('z', 'g')).toBe(7);
      expect(await b.zadd('z', { member: 'g', score: 2 }, { lt: true })).toBe(0);
      expect(await b.zscore('z', 'g')).toBe(2);
      expect(await b.zadd('z', { member: 'x', score: 1 }, { xx: true, gt: true })).toBe(0);
      expect(await b.zscore('z', 'x')).toBeNull();
      expect(await b.zadd('nokey', { member: 'a', score: 1 }, { xx: true })).toBe(0);
      expect(await b.exists('nokey')).toBe(0);
    });

    it('zremRangeByScore removes a range; the set vanishes when emptied', async () => {
      const b = ctx.fresh();
      await fill(b);
      expect(await b.zremRangeByScore('z', '(1', 2)).toBe(2);
      expect(await b.zrangeByScore('z', '-inf', '+inf')).toEqual(['a', 'd', 'e']);
      expect(await b.zremRangeByScore('z', 10, 20)).toBe(0);
      expect(await b.zremRangeByScore('z', '-inf', '+inf')).toBe(3);
      expect(await b.exists('z')).toBe(0);
      expect(await b.zremRangeByScore('z', '-inf', '+inf')).toBe(0);
    });

    it('works as a sliding window log (the rate-limiter pattern)', async () => {
      const b = ctx.fresh();
      for (let t = 1; t <= 20; t++) await b.zadd('log', { member: `req-${t}`, score: t * 100 });
      expect(await b.zremRangeByScore('log', '-inf', '(1000')).toBe(9);
      expect(await b.zcard('log')).toBe(11);
      expect(await b.zrangeByScore('log', '-inf', '+inf', { count: 1, withScores: true })).toEqual([
        { member: 'req-10', score: 1000 },
      ]);
    });

    it('WRONGTYPE for sorted-set commands on another type', async () => {
      const b = ctx.fresh();
      await b.sadd('s', 'a');
      await expectCode(() => b.zadd('s', { member: 'a', score: 1 }), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.zrem('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.zscore('s', 'a'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.zcard('s'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.zrangeByScore('s', 0, 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.zremRangeByScore('s', 0, 1), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.smembers('s')).toEqual(['a']);
    });
  });
}
