import { type Backend, defineScript } from '@redbrick/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, collect, failure, waitFor } from './context.js';
import { marker } from './pubsub.js';

const readKey = defineScript<string | null>({
  name: 'testkit.conformance.read-key',
  keys: 1,
  lua: `--[[ testkit.conformance.read-key
  KEYS[1]  a string key
  returns  its value, or nil ]]
return redis.call('get', KEYS[1])`,
  local: (r, [key]) => r.get(key as string),
  decode: (reply) => (typeof reply === 'string' ? reply : null),
});

/** Characters that mean something to keys, globs or escaping, plus unicode. */
const UNITS = ['a', 'b', 'z', ':', '*', '?', '[', ']', '\\', '^', '-', '%', ' ', 'ü', '日', '😀'];
const unit = fc.constantFrom(...UNITS);
const prefixArb = fc.string({ unit, minLength: 1, maxLength: 6 });
const keyArb = fc.string({ unit, minLength: 1, maxLength: 5 });

/** Sibling prefixes that naive prefixing would let overlap. */
const SIBLINGS = ['a', 'a:b', 'a*', 'a?', '[a]', 'a\\', 'a:', ':a', 'ab', 'a%3Ab'];

async function keysOf(b: Backend): Promise<string[]> {
  return (await collect(b.scan({ count: 50 }))).sort();
}

export function scopedTests(ctx: ConformanceContext): void {
  describe('scoped views', () => {
    it('fuzzed: a view cannot read, scan, run scripts on or delete a sibling view’s keys', async () => {
      await fc.assert(
        fc.asyncProperty(
          prefixArb,
          prefixArb,
          fc.uniqueArray(keyArb, { minLength: 1, maxLength: 4 }),
          async (p1, p2, keys) => {
            fc.pre(p1 !== p2);
            const base = ctx.fresh();
            const v1 = base.scoped(p1);
            const v2 = base.scoped(p2);
            const shared = keys[0] as string;
            for (const k of keys) await v1.set(k, `one:${k}`);
            await v2.set(shared, 'two');
            await v2.set('only-two', 'x');
            for (const k of keys) expect(await v1.get(k)).toBe(`one:${k}`);
            expect(await v2.get(shared)).toBe('two');
            expect(await v1.get('only-two')).toBeNull();
            expect(await v1.exists('only-two')).toBe(0);
            expect(await v1.run(readKey, [shared])).toBe(`one:${shared}`);
            expect(await v2.run(readKey, [shared])).toBe('two');
            expect(await keysOf(v1)).toEqual([...keys].sort());
            expect(await keysOf(v2)).toEqual([shared, 'only-two'].sort());
            expect(await v1.del('only-two')).toBe(0);
            expect(await v1.del(shared)).toBe(1);
            expect(await v2.get(shared)).toBe('two');
            expect(await v2.get('only-two')).toBe('x');
            expect(await keysOf(base.scoped(`${p1}-not`))).toEqual([]);
          },
        ),
        { numRuns: ctx.capabilities.fuzzRuns },
      );
    }, 120_000);

    it('sibling prefixes a, a:b, a*, a?, [a], a\\ … never see each other’s keys', async () => {
      const base = ctx.fresh();
      const views = SIBLINGS.map((p) => base.scoped(p));
      await Promise.all(views.map((v, i) => v.set('k', String(i))));
      await Promise.all(views.map((v, i) => v.set(`own-${i}`, 'x')));
      for (const [i, v] of views.entries()) {
        expect(await v.get('k')).toBe(String(i));
        expect(await keysOf(v)).toEqual(['k', `own-${i}`]);
        expect(await collect(v.scan({ match: 'own-*' }))).toEqual([`own-${i}`]);
      }
      expect(await views[0]?.del('k')).toBe(1);
      expect(await views[1]?.get('k')).toBe('1');
    });

    it('a nested view lives inside its parent: the parent sees "<child>:<key>"', async () => {
      const base = ctx.fresh();
      const parent = base.scoped('tenant');
      const child = parent.scoped('users');
      await child.set('u1', 'alice');
      expect(await parent.get('users:u1')).toBe('alice');
      expect(await keysOf(parent)).toEqual(['users:u1']);
      expect(await keysOf(child)).toEqual(['u1']);
      expect(child.prefix.startsWith(parent.prefix)).toBe(true);
    });

    it('fuzzed: a view cannot publish to or subscribe across a sibling view', async () => {
      const grace = ctx.capabilities.cluster ? 250 : 20;
      await fc.assert(
        fc.asyncProperty(prefixArb, prefixArb, async (p1, p2) => {
          fc.pre(p1 !== p2);
          const base = ctx.fresh();
          const v1 = base.scoped(p1);
          const v2 = base.scoped(p2);
          const heard1: string[] = [];
          const heard2: string[] = [];
          const subs = [
            await v1.subscribe('ch', (m, c) => heard1.push(`${c}=${m}`)),
            await v1.psubscribe('*', (m, c) => heard1.push(`*${c}=${m}`)),
            await v2.subscribe('ch', (m, c) => heard2.push(`${c}=${m}`)),
          ];
          const m1 = await marker(v1, grace);
          const m2 = await marker(v2, grace);
          await v2.publish('ch', 'from-2');
          await base.publish('ch', 'from-base');
          await v1.publish('ch', 'from-1');
          await m1.settle();
          await m2.settle();
          expect(heard1.filter((h) => !h.includes('__marker__')).sort()).toEqual([
            '*ch=from-1',
            'ch=from-1',
          ]);
          expect(heard2).toEqual(['ch=from-2']);
          for (const s of subs) await s.unsubscribe();
          await m1.stop();
          await m2.stop();
        }),
        { numRuns: Math.max(3, Math.ceil(ctx.capabilities.fuzzRuns / 5)) },
      );
    }, 120_000);

    if (ctx.capabilities.expiryEvents) {
      it('expiry events reach only the view that owns the key', async () => {
        const base = ctx.fresh();
        const mine = base.scoped('a');
        const sibling = base.scoped('a*');
        const heardMine: string[] = [];
        const heardSibling: string[] = [];
        const s1 = await mine.onExpired((k) => heardMine.push(k));
        const s2 = await sibling.onExpired((k) => heardSibling.push(k));
        await mine.set('k', 'v', { ttlMs: 30 });
        await waitFor(() => heardMine.includes('k'), 'the expiry event');
        expect(heardSibling).toEqual([]);
        await s1.unsubscribe();
        await s2.unsubscribe();
      });
    }

    it('prefixes with { or } (hash tags) and empty prefixes are rejected', async () => {
      const root = ctx.root();
      for (const bad of ['a{b', 'a}b', '{tag}', '']) {
        const error = await failure(() => root.scoped(bad));
        expect(error.code).toBe('VALIDATION');
        expect(error.field).toBe('prefix');
        expect(error.message).toMatch(/prefix/);
      }
      const nested = await failure(() => ctx.fresh().scoped('x}'));
      expect(nested.code).toBe('VALIDATION');
    });

    it('keeps the kind, extends the prefix and shares the connection', async () => {
      const root = ctx.root();
      const v = ctx.fresh();
      expect(v.kind).toBe(root.kind);
      expect(v.prefix.startsWith(root.prefix)).toBe(true);
      expect(v.prefix.endsWith(':')).toBe(true);
      expect(v.prefix.length).toBeGreaterThan(root.prefix.length);
      expect(v.isConnected).toBe(root.isConnected);
      expect(v.defaultTtlMs).toBe(root.defaultTtlMs);
    });

    it('closing a view leaves the backend open', async () => {
      const v = ctx.fresh();
      await v.close();
      await v[Symbol.asyncDispose]();
      expect(ctx.root().isConnected).toBe(true);
      await v.set('still', 'works');
      expect(await v.get('still')).toBe('works');
    });
  });
}
