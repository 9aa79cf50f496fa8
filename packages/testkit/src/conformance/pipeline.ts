import type { PipelineResult } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import type { ConformanceContext } from './context.js';

function codeOf(result: PipelineResult | undefined): unknown {
  return result !== undefined && !result.ok ? (result.error as { code?: unknown }).code : undefined;
}

export function pipelineTests(ctx: ConformanceContext): void {
  describe('pipelines', () => {
    it('runs queued commands in order; a failing command does not stop the rest', async () => {
      const b = ctx.fresh();
      await b.hset('h', { f: 'v' });
      const p = b
        .pipeline()
        .add('set', 'a', '1')
        .add('incrBy', 'a', 2)
        .add('incrBy', 'h', 1)
        .add('get', 'a')
        .add('hgetall', 'h')
        .add('rpush', 'l', 'x', 'y')
        .add('lrange', 'l', 0, -1)
        .add('get', 'h')
        .add('zadd', 'z', [{ member: 'm', score: 1.5 }])
        .add('zrangeByScore', 'z', '-inf', '+inf', { withScores: true })
        .add('exists', 'a')
        .add('del', 'a');
      expect(p.length).toBe(12);
      const results = await p.exec();
      expect(results).toHaveLength(12);
      expect(results.map((r) => r.ok)).toEqual([
        true,
        true,
        false,
        true,
        true,
        true,
        true,
        false,
        true,
        true,
        true,
        true,
      ]);
      const values = results.map((r) => (r.ok ? r.value : undefined));
      expect(values[0]).toBe(true);
      expect(values[1]).toBe(3);
      expect(codeOf(results[2])).toBe('WRONGTYPE');
      expect(values[3]).toBe('3');
      expect(values[4]).toEqual({ f: 'v' });
      expect(values[5]).toBe(2);
      expect(values[6]).toEqual(['x', 'y']);
      expect(codeOf(results[7])).toBe('WRONGTYPE');
      expect(values[8]).toBe(1);
      expect(values[9]).toEqual([{ member: 'm', score: 1.5 }]);
      expect(values[10]).toBe(1);
      expect(values[11]).toBe(1);
      expect(await b.exists('a')).toBe(0);
    });

    it('command errors come back as results with their code', async () => {
      const b = ctx.fresh();
      await b.set('text', 'abc');
      const results = await b
        .pipeline()
        .add('incrBy', 'text', 1)
        .add('xreadgroup', 's', 'nogroup', 'c')
        .add('set', 'after', 'ok')
        .exec();
      expect(codeOf(results[0])).toBe('COMMAND');
      expect(codeOf(results[1])).toBe('COMMAND');
      expect(results[2]).toEqual({ ok: true, value: true });
      expect(await b.get('after')).toBe('ok');
    });

    it('an empty pipeline resolves to no results', async () => {
      const b = ctx.fresh();
      const p = b.pipeline();
      expect(p.length).toBe(0);
      expect(await p.exec()).toEqual([]);
    });

    it('runs on the keys of its view only', async () => {
      const a = ctx.fresh();
      const other = ctx.fresh();
      await other.set('k', 'theirs');
      const results = await a.pipeline().add('set', 'k', 'mine').add('get', 'k').exec();
      expect(results[1]).toEqual({ ok: true, value: 'mine' });
      expect(await other.get('k')).toBe('theirs');
    });

    it('handles many commands at once', async () => {
      const b = ctx.fresh();
      const p = b.pipeline();
      for (let i = 0; i < 500; i++) p.add('incrBy', `counter:${i % 10}`, 1);
      const results = await p.exec();
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.at(-1)).toEqual({ ok: true, value: 50 });
      expect(await b.get('counter:3')).toBe('50');
    });
  });
}
