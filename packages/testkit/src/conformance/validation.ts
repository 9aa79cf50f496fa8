import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectValidation } from './context.js';

export function validationTests(ctx: ConformanceContext): void {
  describe('bad arguments', () => {
    it('an empty key is rejected with VALIDATION naming the key', async () => {
      const b = ctx.fresh();
      const root = ctx.root();
      await expectValidation(() => b.get(''), 'key');
      await expectValidation(() => b.set('', 'v'), 'key');
      await expectValidation(() => b.hset('', { f: 'v' }), 'key');
      await expectValidation(() => b.zadd('', { member: 'm', score: 1 }), 'key');
      await expectValidation(() => b.xadd('', { f: 'v' }), 'key');
      await expectValidation(() => b.del(''), 'key');
      await expectValidation(() => b.mget('k', ''), 'key');
      await expectValidation(() => root.get(''), /key/);
      await expectValidation(() => root.set('', 'v'), /key/);
      await expectValidation(() => root.del(''), /key/);
      await expectValidation(() => root.mget(''), /key/);
    });

    it('non-finite and non-integer numbers are rejected, naming the argument', async () => {
      const b = ctx.fresh();
      await expectValidation(() => b.incrBy('n', Number.NaN), 'by');
      await expectValidation(() => b.incrBy('n', 1.5), 'by');
      await expectValidation(() => b.incrByFloat('n', Number.POSITIVE_INFINITY), 'by');
      await expectValidation(() => b.hincrBy('h', 'f', Number.NaN), 'by');
      await expectValidation(() => b.hincrByFloat('h', 'f', Number.NEGATIVE_INFINITY), 'by');
      await expectValidation(() => b.zadd('z', { member: 'm', score: Number.NaN }), /score/);
      await expectValidation(() => b.lrange('l', 0, Number.NaN), 'stop');
      await expectValidation(() => b.lindex('l', Number.POSITIVE_INFINITY), 'index');
      await expectValidation(() => b.pexpire('k', Number.NaN), 'ttlMs');
      await expectValidation(() => b.pexpire('k', 1.5), 'ttlMs');
      expect(await b.exists('n')).toBe(0);
      expect(await b.exists('h')).toBe(0);
      expect(await b.exists('z')).toBe(0);
    });

    it('a TTL must be a positive integer of ms, and not be combined with keepTtl', async () => {
      const b = ctx.fresh();
      for (const ttlMs of [-1, 0, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expectValidation(() => b.set('k', 'v', { ttlMs }), 'ttlMs');
        await expectValidation(() => b.setGet('k', 'v', { ttlMs }), 'ttlMs');
        await expectValidation(() => b.mset({ k: 'v' }, { ttlMs }), 'ttlMs');
      }
      await expectValidation(() => b.set('k', 'v', { ttlMs: 1000, keepTtl: true }), /ttl/i);
      await expectValidation(() => b.set('k', 'v', { nx: true, xx: true }), /nx|xx/);
      await expectValidation(
        () => b.zadd('z', { member: 'm', score: 1 }, { nx: true, xx: true }),
        /nx|xx/,
      );
      await expectValidation(
        () => b.zadd('z', { member: 'm', score: 1 }, { gt: true, lt: true }),
        /gt|lt/,
      );
      expect(await b.exists('k')).toBe(0);
      expect(await b.exists('z')).toBe(0);
    });
  });
}
