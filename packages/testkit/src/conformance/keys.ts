import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode, T, waitFor } from './context.js';

const MINUTE = 60_000;

export function keyTests(ctx: ConformanceContext): void {
  describe('keys', () => {
    it('get / set round-trip strings, including empty and unicode values', async () => {
      const b = ctx.fresh();
      expect(await b.get('missing')).toBeNull();
      expect(await b.set('k', 'v')).toBe(true);
      expect(await b.get('k')).toBe('v');
      expect(await b.set('empty', '')).toBe(true);
      expect(await b.get('empty')).toBe('');
      const text = 'ünïcödé 😀 日本語 \u0000 tab\tline\n';
      await b.set('unicode', text);
      expect(await b.get('unicode')).toBe(text);
      const big = 'x'.repeat(100_000);
      await b.set('big', big);
      expect(await b.get('big')).toBe(big);
    });

    it('set with nx / xx writes only when the key is absent / present', async () => {
      const b = ctx.fresh();
      expect(await b.set('k', '1', { xx: true })).toBe(false);
      expect(await b.exists('k')).toBe(0);
      expect(await b.set('k', '1', { nx: true })).toBe(true);
      expect(await b.set('k', '2', { nx: true })).toBe(false);
      expect(await b.get('k')).toBe('1');
      expect(await b.set('k', '3', { xx: true })).toBe(true);
      expect(await b.get('k')).toBe('3');
    });

    it('setGet returns the previous value and writes (or not, with nx / xx)', async () => {
      const b = ctx.fresh();
      expect(await b.setGet('k', 'a')).toBeNull();
      expect(await b.setGet('k', 'b')).toBe('a');
      expect(await b.get('k')).toBe('b');
      expect(await b.setGet('k', 'c', { nx: true })).toBe('b');
      expect(await b.get('k')).toBe('b');
      expect(await b.setGet('other', 'x', { xx: true })).toBeNull();
      expect(await b.exists('other')).toBe(0);
      await b.hset('h', { f: 'v' });
      await expectCode(() => b.setGet('h', 'x'), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.type('h')).toBe('hash');
    });

    it('set clears the TTL unless keepTtl; a new ttlMs replaces it', async () => {
      const b = ctx.fresh();
      await b.set('k', '1', { ttlMs: MINUTE });
      const ttl = await b.pttl('k');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(MINUTE);
      await b.set('k', '2');
      expect(await b.pttl('k')).toBe(-1);
      await b.set('k', '3', { ttlMs: MINUTE });
      await b.set('k', '4', { keepTtl: true });
      expect(await b.get('k')).toBe('4');
      expect(await b.pttl('k')).toBeGreaterThan(0);
      await b.set('k', '5', { ttlMs: 10 * MINUTE });
      expect(await b.pttl('k')).toBeGreaterThan(MINUTE);
      await b.set('k', '6', { nx: true }); // not written: the TTL stays
      expect(await b.pttl('k')).toBeGreaterThan(MINUTE);
    });

    it('set replaces a value of any type; keepTtl keeps the TTL across the type change', async () => {
      const b = ctx.fresh();
      await b.hset('h', { f: 'v' });
      await b.pexpire('h', MINUTE);
      expect(await b.set('h', 'now a string', { keepTtl: true })).toBe(true);
      expect(await b.type('h')).toBe('string');
      expect(await b.pttl('h')).toBeGreaterThan(0);
      await b.rpush('l', 'a');
      await b.set('l', 'x');
      expect(await b.get('l')).toBe('x');
      expect(await b.pttl('l')).toBe(-1);
    });

    it('pttl is -2 for a missing key and -1 for a key without TTL', async () => {
      const b = ctx.fresh();
      expect(await b.pttl('missing')).toBe(-2);
      await b.set('k', 'v');
      expect(await b.pttl('k')).toBe(-1);
      await b.sadd('s', 'm');
      expect(await b.pttl('s')).toBe(-1);
    });

    it('pexpire sets a TTL on any type; 0 or negative deletes the key', async () => {
      const b = ctx.fresh();
      expect(await b.pexpire('missing', MINUTE)).toBe(false);
      await b.set('k', 'v');
      expect(await b.pexpire('k', MINUTE)).toBe(true);
      const ttl = await b.pttl('k');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(MINUTE);
      await b.zadd('z', { member: 'm', score: 1 });
      expect(await b.pexpire('z', MINUTE)).toBe(true);
      expect(await b.pttl('z')).toBeGreaterThan(0);
      expect(await b.pexpire('k', 0)).toBe(true);
      expect(await b.exists('k')).toBe(0);
      expect(await b.pttl('k')).toBe(-2);
      await b.set('n', 'v');
      expect(await b.pexpire('n', -100)).toBe(true);
      expect(await b.get('n')).toBeNull();
      expect(await b.pexpire('n', MINUTE)).toBe(false);
    });

    it('persist removes a TTL and says whether there was one', async () => {
      const b = ctx.fresh();
      expect(await b.persist('missing')).toBe(false);
      await b.set('k', 'v');
      expect(await b.persist('k')).toBe(false);
      await b.pexpire('k', MINUTE);
      expect(await b.persist('k')).toBe(true);
      expect(await b.pttl('k')).toBe(-1);
      expect(await b.get('k')).toBe('v');
    });

    it('keys of every type expire after their TTL', async () => {
      const b = ctx.fresh();
      await b.set('s', 'v', { ttlMs: 30 });
      await b.hset('h', { f: 'v' });
      await b.pexpire('h', 30);
      await b.rpush('l', 'a');
      await b.pexpire('l', 30);
      await waitFor(
        async () => (await b.exists('s')) + (await b.exists('h')) + (await b.exists('l')) === 0,
        'the keys to expire',
      );
      expect(await b.get('s')).toBeNull();
      expect(await b.pttl('h')).toBe(-2);
      expect(await b.type('l')).toBe('none');
      expect(await b.hgetall('h')).toEqual({});
    });

    it('del counts the keys that existed; exists counts a repeated key twice', async () => {
      const b = ctx.fresh();
      await b.set(`${T}a`, '1');
      await b.set(`${T}b`, '2');
      expect(await b.exists(`${T}a`, `${T}b`, `${T}c`)).toBe(2);
      expect(await b.exists(`${T}a`, `${T}a`)).toBe(2);
      expect(await b.del(`${T}a`, `${T}a`, `${T}c`)).toBe(1);
      expect(await b.del(`${T}a`, `${T}b`)).toBe(1);
      expect(await b.exists(`${T}a`, `${T}b`)).toBe(0);
      expect(await b.del('never')).toBe(0);
    });

    it('type names every data type, and none for a missing key', async () => {
      const b = ctx.fresh();
      await b.set('string', 'v');
      await b.hset('hash', { f: 'v' });
      await b.rpush('list', 'a');
      await b.sadd('set', 'm');
      await b.zadd('zset', { member: 'm', score: 1 });
      await b.xadd('stream', { f: 'v' });
      expect(await b.type('string')).toBe('string');
      expect(await b.type('hash')).toBe('hash');
      expect(await b.type('list')).toBe('list');
      expect(await b.type('set')).toBe('set');
      expect(await b.type('zset')).toBe('zset');
      expect(await b.type('stream')).toBe('stream');
      expect(await b.type('missing')).toBe('none');
    });
  });
}
