import { join } from 'node:path';
import { createBackend, defineScript } from '@redbrick/core';
import { dumpKey, readmeCodeBlock, scriptDifferential } from '@redbrick/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../src/index.js';

/*
 * The harness must fail when two runs disagree. Memory against memory with a
 * body that is not deterministic is the disagreement we can build without Redis;
 * memory-vs-Redis runs live in @redbrick/redis-backend.
 */
const flaky = defineScript<number>({
  name: 'testkit.nondeterministic',
  keys: 1,
  lua: "return redis.call('incrby', KEYS[1], 1)",
  local: (r, [k]) => r.incrBy(k as string, Math.random() < 0.5 ? 1 : 2),
});

describe('scriptDifferential', () => {
  it('finds a disagreement and names the script', async () => {
    const a = await createBackend({ type: 'memory' });
    const b = await createBackend({ type: 'memory' });
    const results: unknown[] = [];
    for (let i = 0; i < 50; i++) {
      results.push(await a.run(flaky, ['k'], []), await b.run(flaky, ['k'], []));
    }
    expect(new Set(results).size).toBeGreaterThan(1);
    await a.close();
    await b.close();
  });

  // Registered like any user would: this one must pass (a deterministic script).
  scriptDifferential(
    defineScript<number>({
      name: 'testkit.deterministic',
      keys: 1,
      lua: "return redis.call('incrby', KEYS[1], ARGV[1])",
      local: (r, [k], [by]) => r.incrBy(k as string, Number(by)),
    }),
    {
      cases: fc.record({
        calls: fc.array(
          fc.record({ keys: fc.constant(['n']), args: fc.tuple(fc.integer({ min: -9, max: 9 })) }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
      }),
      numRuns: 50,
    },
  );

  // State that depends on the backend clock only agrees once normalised.
  scriptDifferential(
    defineScript<number>({
      name: 'testkit.stamp',
      keys: 1,
      lua: "local t = redis.call('TIME') redis.call('set', KEYS[1], t[1] .. t[2]) return 1",
      local: (r, [k]) => {
        r.set(k as string, String(r.time() * 1000 + Math.random()));
        return 1;
      },
    }),
    {
      name: 'normalizeState maps clock-dependent stored values',
      cases: fc.record({ calls: fc.constant([{ keys: ['t'], args: [] }]) }),
      normalizeState: (_key, state) => ({ ...(state as object), value: 'stamped' }),
      numRuns: 20,
    },
  );

  it('rejects the nondeterministic body through fast-check', async () => {
    const left = createMemoryBackend();
    const right = createMemoryBackend();
    let failure: unknown;
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 5 }), async (n) => {
          const scopeA = left.scoped(`a${n}-${Math.random()}`);
          const scopeB = right.scoped(`b${n}-${Math.random()}`);
          for (let i = 0; i < n; i++) {
            await scopeA.run(flaky, ['k'], []);
            await scopeB.run(flaky, ['k'], []);
          }
          expect(await dumpKey(scopeA, 'k')).toEqual(await dumpKey(scopeB, 'k'));
        }),
        { numRuns: 100 },
      );
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).toMatch(/Property failed/);
    await left.close();
    await right.close();
  });
});

describe('readmeCodeBlock', () => {
  it('extracts the quick start of a package README', () => {
    const code = readmeCodeBlock(join(import.meta.dirname, '../../core/README.md'));
    expect(code).toMatch(/createBackend/);
  });
});
