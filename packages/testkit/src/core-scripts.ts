import {
  type Backend,
  compareAndDeleteScript,
  compareAndSetScript,
  getAndSetScript,
  incrementWithTtlScript,
} from '@redbrick/core';
import fc from 'fast-check';
import { describe } from 'vitest';
import { type DifferentialCase, type SetupCommand, scriptDifferential } from './differential.js';

const keyPool = fc.constantFrom('k1', 'k2');
const valuePool = fc.constantFrom('x', 'y', '', '7', 'ünï');
const ttlArg = fc.constantFrom('', '60000', '120000');

/** A starting state: a string (with or without TTL), a counter, or a key of another type. */
const setup: fc.Arbitrary<SetupCommand[]> = fc.array(
  fc.oneof(
    fc.tuple(keyPool, valuePool).map(([k, v]): SetupCommand => ['set', k, v]),
    fc.tuple(keyPool, valuePool).map(([k, v]): SetupCommand => ['set', k, v, { ttlMs: 60_000 }]),
    fc
      .tuple(keyPool, fc.integer({ min: -5, max: 5 }))
      .map(([k, n]): SetupCommand => ['set', k, String(n)]),
    keyPool.map((k): SetupCommand => ['hset', k, { f: 'v' }]),
    keyPool.map((k): SetupCommand => ['del', k]),
  ),
  { maxLength: 3 },
);

function cases(
  call: fc.Arbitrary<{ keys: string[]; args: Array<string | number> }>,
): fc.Arbitrary<DifferentialCase> {
  return fc.record({ setup, calls: fc.array(call, { minLength: 1, maxLength: 5 }) });
}

export interface CoreScriptsDifferentialOptions {
  /** Reference backend. @default memory */
  left?: () => Promise<Backend>;
  /** Backend under test. @default memory */
  right?: () => Promise<Backend>;
  /** Cases per script. @default 200 */
  numRuns?: number;
}

/** Registers the differential tests of every script core ships (compare-and-set, …). */
export function coreScriptsDifferential(options: CoreScriptsDifferentialOptions = {}): void {
  const common = { ...options, numRuns: options.numRuns ?? 200 };
  describe('core scripts differential', () => {
    scriptDifferential(compareAndSetScript, {
      ...common,
      cases: cases(
        fc.record({
          keys: keyPool.map((k) => [k]),
          args: fc.tuple(fc.constantFrom('v', 'n'), valuePool, valuePool, ttlArg),
        }),
      ),
    });
    scriptDifferential(compareAndDeleteScript, {
      ...common,
      cases: cases(fc.record({ keys: keyPool.map((k) => [k]), args: fc.tuple(valuePool) })),
    });
    scriptDifferential(getAndSetScript, {
      ...common,
      cases: cases(fc.record({ keys: keyPool.map((k) => [k]), args: fc.tuple(valuePool, ttlArg) })),
    });
    scriptDifferential(incrementWithTtlScript, {
      ...common,
      cases: cases(
        fc.record({
          keys: keyPool.map((k) => [k]),
          args: fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(60_000, 90_000)),
        }),
      ),
    });
  });
}
