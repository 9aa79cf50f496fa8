import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode, T } from './context.js';

const MINUTE = 60_000;

export function stringTests(ctx: ConformanceContext): void {
  describe('strings', () => {
    it('mget returns values in order, null for missing keys and for keys of another type', async () => {
      const b = ctx.fresh();
      await b.set(`${T}a`, '1');
      await b.set(`${T}c`, '3');
      await b.hset(`${T}h`, { f: 'v' });
      expect(await b.mget(`${T}a`, `${T}b`, `${T}c`, `${T}h`)).toEqual(['1', null, '3', null]);
    });

    it('mset writes an object or a list of pairs and clears TTLs', async () => {
      const b = ctx.fresh();
      await b.set(`${T}a`, 'old', { ttlMs: MINUTE });
      await b.mset({ [`${T}a`]: '1', [`${T}b`]: '2' });
      expect(await b.mget(`${T}a`, `${T}b`)).toEqual(['1', '2']);
      expect(await b.pttl(`${T}a`)).toBe(-1);
      await b.mset([
        [`${T}c`, '3'],
        [`${T}d`, '4'],
      ]);
      expect(await b.mget(`${T}c`, `${T}d`)).toEqual(['3', '4']);
    });

    it('mset with ttlMs gives every key that TTL', async () => {
      const b = ctx.fresh();
      await b.mset({ [`${T}a`]: '1', [`${T}b`]: '2' }, { ttlMs: MINUTE });
      for (const k of [`${T}a`, `${T}b`]) {
        const ttl = await b.pttl(k);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(MINUTE);
      }
      expect(await b.mget(`${T}a`, `${T}b`)).toEqual(['1', '2']);
    });

    it('incrBy counts from 0, accepts negative steps and keeps the TTL', async () => {
      const b = ctx.fresh();
      expect(await b.incrBy('n', 5)).toBe(5);
      expect(await b.incrBy('n', -7)).toBe(-2);
      expect(await b.get('n')).toBe('-2');
      await b.pexpire('n', MINUTE);
      expect(await b.incrBy('n', 1)).toBe(-1);
      expect(await b.pttl('n')).toBeGreaterThan(0);
      await b.set('s', '10');
      expect(await b.incrBy('s', 0)).toBe(10);
    });

    it('incrBy rejects values that are not integers, and overflow', async () => {
      const b = ctx.fresh();
      for (const bad of ['abc', '1.5', ' 1', '1 ', '+1', '01', '']) {
        await b.set('k', bad);
        await expectCode(() => b.incrBy('k', 1), 'COMMAND', /not an integer/);
        expect(await b.get('k')).toBe(bad);
      }
      await b.set('max', '9223372036854775807');
      await expectCode(() => b.incrBy('max', 1), 'COMMAND', /overflow/);
      expect(await b.get('max')).toBe('9223372036854775807');
      await b.set('min', '-9223372036854775808');
      await expectCode(() => b.incrBy('min', -1), 'COMMAND', /overflow/);
    });

    it('incrByFloat adds like Redis (long double, 17 decimals, trailing zeros removed)', async () => {
      const b = ctx.fresh();
      expect(await b.incrByFloat('f', 0.1)).toBeCloseTo(0.1, 12);
      expect(await b.incrByFloat('f', 0.2)).toBeCloseTo(0.3, 12);
      expect(await b.get('f')).toBe('0.3');
      await b.set('g', '10.5');
      expect(await b.incrByFloat('g', 0.1)).toBeCloseTo(10.6, 12);
      expect(await b.get('g')).toBe('10.6');
      expect(await b.incrByFloat('g', 5000)).toBeCloseTo(5010.6, 9);
      expect(await b.get('g')).toBe('5010.60000000000000009');
      await b.set('i', '3');
      expect(await b.incrByFloat('i', 2)).toBe(5);
      expect(await b.get('i')).toBe('5');
      await b.set('e', '1e3');
      expect(await b.incrByFloat('e', 1)).toBe(1001);
      expect(await b.get('e')).toBe('1001');
      expect(await b.incrByFloat('neg', -1.5)).toBe(-1.5);
      expect(await b.incrByFloat('neg', 1.5)).toBe(0);
      expect(await b.get('neg')).toBe('0');
    });

    it('incrByFloat rejects values that are not floats and keeps the TTL', async () => {
      const b = ctx.fresh();
      for (const bad of ['abc', ' 1', '1 ', '']) {
        await b.set('k', bad);
        await expectCode(() => b.incrByFloat('k', 1), 'COMMAND', /not a valid float/);
      }
      await b.set('t', '1', { ttlMs: MINUTE });
      await b.incrByFloat('t', 0.5);
      expect(await b.get('t')).toBe('1.5');
      expect(await b.pttl('t')).toBeGreaterThan(0);
    });

    it('WRONGTYPE for string commands on another type', async () => {
      const b = ctx.fresh();
      await b.rpush('list', 'a');
      await expectCode(() => b.get('list'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.incrBy('list', 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.incrByFloat('list', 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.setGet('list', 'x'), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.lrange('list', 0, -1)).toEqual(['a']);
    });
  });
}
