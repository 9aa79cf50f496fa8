import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode } from './context.js';

export function hashTests(ctx: ConformanceContext): void {
  describe('hashes', () => {
    it('hset counts new fields; hget, hmget, hgetall, hexists and hlen read them', async () => {
      const b = ctx.fresh();
      expect(await b.hset('h', { a: '1', b: '2' })).toBe(2);
      expect(await b.hset('h', { b: 'two', c: '' })).toBe(1);
      expect(await b.hget('h', 'b')).toBe('two');
      expect(await b.hget('h', 'c')).toBe('');
      expect(await b.hget('h', 'zz')).toBeNull();
      expect(await b.hmget('h', 'a', 'zz', 'c')).toEqual(['1', null, '']);
      expect(await b.hgetall('h')).toEqual({ a: '1', b: 'two', c: '' });
      expect(await b.hexists('h', 'a')).toBe(true);
      expect(await b.hexists('h', 'zz')).toBe(false);
      expect(await b.hlen('h')).toBe(3);
      await b.hset('h', { 'with:colon': 'x', 'ünï 😀': 'y' });
      expect(await b.hget('h', 'ünï 😀')).toBe('y');
    });

    it('a missing hash reads as empty', async () => {
      const b = ctx.fresh();
      expect(await b.hgetall('none')).toEqual({});
      expect(await b.hlen('none')).toBe(0);
      expect(await b.hget('none', 'f')).toBeNull();
      expect(await b.hmget('none', 'f', 'g')).toEqual([null, null]);
      expect(await b.hexists('none', 'f')).toBe(false);
      expect(await b.hdel('none', 'f')).toBe(0);
    });

    it('hdel counts removed fields; the hash vanishes with its last field', async () => {
      const b = ctx.fresh();
      await b.hset('h', { a: '1', b: '2', c: '3' });
      expect(await b.hdel('h', 'a', 'zz', 'a')).toBe(1);
      expect(await b.hlen('h')).toBe(2);
      expect(await b.hdel('h', 'b', 'c')).toBe(2);
      expect(await b.exists('h')).toBe(0);
      expect(await b.type('h')).toBe('none');
    });

    it('hincrBy and hincrByFloat create fields and reject non-numbers', async () => {
      const b = ctx.fresh();
      expect(await b.hincrBy('h', 'n', 5)).toBe(5);
      expect(await b.hincrBy('h', 'n', -2)).toBe(3);
      expect(await b.hget('h', 'n')).toBe('3');
      expect(await b.hincrByFloat('h', 'f', 10.5)).toBe(10.5);
      expect(await b.hincrByFloat('h', 'f', 0.1)).toBeCloseTo(10.6, 12);
      expect(await b.hget('h', 'f')).toBe('10.6');
      await b.hset('h', { s: 'abc', d: '1.5' });
      await expectCode(() => b.hincrBy('h', 's', 1), 'COMMAND', /not an integer/);
      await expectCode(() => b.hincrBy('h', 'd', 1), 'COMMAND', /not an integer/);
      await expectCode(() => b.hincrByFloat('h', 's', 1), 'COMMAND', /not a float/);
      await b.hset('h', { max: '9223372036854775807' });
      await expectCode(() => b.hincrBy('h', 'max', 1), 'COMMAND', /overflow/);
    });

    it('WRONGTYPE for hash commands on another type', async () => {
      const b = ctx.fresh();
      await b.set('s', 'v');
      await expectCode(() => b.hget('s', 'f'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hset('s', { f: 'v' }), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hgetall('s'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hmget('s', 'f'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hdel('s', 'f'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hincrBy('s', 'f', 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hincrByFloat('s', 'f', 1), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hexists('s', 'f'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.hlen('s'), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.get('s')).toBe('v');
    });
  });
}
