import type { Script } from '@redbrick/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compositeScript,
  fixedWindowScript,
  gcraScript,
  type ScriptOutcome,
  slidingWindowScript,
  tokenBucketScript,
} from '../src/index.js';
import { fakeClock, memoryWithClock } from './helpers.js';

/*
 * The straight-line one-rule scripts (fixed window, sliding window, token
 * bucket, GCRA) against the composite script's fragments of the same
 * algorithm, run with that one rule: same calls, same clock, same answers.
 * (The differential tests hold each script's Lua body to its TypeScript one.)
 */

type Code = 'fw' | 'sw' | 'tb' | 'gc';

const SCRIPTS: Record<Code, Script<ScriptOutcome>> = {
  fw: fixedWindowScript,
  sw: slidingWindowScript,
  tb: tokenBucketScript,
  gc: gcraScript,
};

const params: Record<Code, fc.Arbitrary<number[]>> = {
  fw: fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom(1000, 60_000))
    .map(([l, w]) => [l, w, 0]),
  sw: fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom(1000, 60_000))
    .map(([l, w]) => [l, w, 0]),
  tb: fc
    .tuple(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 3 }),
      fc.constantFrom(500, 60_000),
    )
    .map(([c, a, i]) => [c, a, i]),
  gc: fc
    .tuple(fc.constantFrom(250_000, 60_000_000), fc.integer({ min: 1, max: 8 }))
    .map(([e, b]) => [e, e * b, 0]),
};

const call = fc.record({
  op: fc.constantFrom('c', 'c', 'c', 'p', 'r', 'f'),
  cost: fc.integer({ min: 1, max: 10 }),
  advanceMs: fc.constantFrom(0, 0, 1, 100, 499, 1000, 30_000),
  block: fc.constantFrom(undefined, undefined, undefined, undefined, 700, 0),
});

/** Times relative to the decision (the fixed-window script anchors its times at the process clock). */
function relative(o: ScriptOutcome): unknown {
  return {
    blockedMs: o.blockedMs,
    rules: o.rules.map((r) => ({ ...r, resetAt: r.resetAt - o.now })),
  };
}

describe.each(['fw', 'sw', 'tb', 'gc'] as const)(
  '%s: one-rule script = composite fragment',
  (code) => {
    it('answers every call alike', async () => {
      await fc.assert(
        fc.asyncProperty(
          params[code],
          fc.array(call, { minLength: 1, maxLength: 12 }),
          async (p, calls) => {
            const clock = fakeClock(Date.UTC(2025, 0, 15, 12, 0, 0, 123));
            const backend = memoryWithClock(clock);
            try {
              for (const c of calls) {
                clock.advance(c.advanceMs);
                if (c.block === 0) {
                  await backend.del('{s}:b', '{c}:b');
                } else if (c.block !== undefined) {
                  await backend.set('{s}:b', '1', { ttlMs: c.block });
                  await backend.set('{c}:b', '1', { ttlMs: c.block });
                }
                const single = await backend.run(
                  SCRIPTS[code],
                  ['{s}:b', '{s}:k'],
                  [c.op, c.cost, ...p],
                );
                const composite = await backend.run(
                  compositeScript,
                  ['{c}:b', '{c}:k'],
                  [c.op, 1, code, c.cost, ...p],
                );
                if (code === 'fw') expect(relative(single)).toEqual(relative(composite));
                else expect(single).toEqual(composite);
              }
            } finally {
              await backend.close();
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  },
);
