import { describe, expect, it } from 'vitest';
import {
  Checks,
  checkCache,
  checkCounter,
  checkRateLimits,
  checkThread,
  type Events,
} from './support/invariants.js';

// The scenarios pass only if these checks find nothing; here each check is shown a journal with
// the violation it exists for, and must name it — so a passing scenario means something.

const failuresOf = (run: (checks: Checks) => void): string[] => {
  const checks = new Checks();
  run(checks);
  expect(checks.count).toBeGreaterThan(0);
  return checks.failures;
};

const rl = (round: number, ...outcomes: string[]): Events =>
  outcomes.map((o) => ['rl', String(round), o]);
const inc = (value: number, fence: number, ok = true): Events => [
  ['inc-try', String(value), String(fence)],
  ...(ok ? [['inc-ok', String(value), String(fence)]] : []),
];

describe('the invariant checks catch what they are for', () => {
  it('rate limits: accept an exact round, catch over-admission and an inexact clean round', () => {
    const exact = [rl(1, 'allowed', 'allowed', 'denied'), rl(1, 'denied')];
    expect(failuresOf((c) => checkRateLimits(c, exact, 2, new Set()))).toEqual([]);
    const over = [rl(1, 'allowed', 'allowed'), rl(1, 'allowed')];
    expect(failuresOf((c) => checkRateLimits(c, over, 2, new Set([1])))).toEqual([
      expect.stringContaining('round 1: at most 2 admitted'),
    ]);
    const short = [rl(1, 'allowed', 'denied'), rl(1, 'denied')];
    expect(failuresOf((c) => checkRateLimits(c, short, 2, new Set()))).toEqual([
      expect.stringContaining('round 1: exactly 2 admitted'),
    ]);
    // Under an outage fewer may be admitted (fail-closed): only the bound applies.
    expect(failuresOf((c) => checkRateLimits(c, short, 2, new Set([1])))).toEqual([]);
  });

  it('lock-protected counter: accept a serial history, catch a lost update, a fence out of order, a regression, a foreign write', () => {
    const serial = [
      [...inc(1, 1), ...inc(3, 3)],
      [...inc(2, 2), ...inc(4, 4, false)],
    ];
    expect(failuresOf((c) => checkCounter(c, serial, 4, false))).toEqual([]);
    expect(failuresOf((c) => checkCounter(c, serial, 3, false))).toEqual([]);
    expect(failuresOf((c) => checkCounter(c, serial, 3, true))).toEqual([
      expect.stringContaining('without faults the counter equals the confirmed increments'),
    ]);
    const lostUpdate = [[...inc(1, 1), ...inc(2, 2)], [...inc(2, 3)]];
    expect(failuresOf((c) => checkCounter(c, lostUpdate, 2, false))).toEqual([
      expect.stringContaining('no counter value was written by two lock holders'),
    ]);
    const staleFence = [[...inc(1, 2)], [...inc(2, 1)]];
    expect(failuresOf((c) => checkCounter(c, staleFence, 2, false))).toEqual([
      expect.stringContaining('fencing tokens increase with the counter'),
    ]);
    expect(failuresOf((c) => checkCounter(c, serial, 2, false))).toEqual([
      expect.stringContaining('the counter is at least every confirmed write'),
    ]);
    expect(failuresOf((c) => checkCounter(c, serial, 5, false))).toEqual([
      expect.stringContaining("every step of the counter was a lock holder's write"),
    ]);
  });

  it('thread buffer: accept unique indexes, catch an index handed out twice and a misplaced slot', () => {
    const ok: Events[] = [[['tb', '0', 'a']], [['tb', '1', 'b']]];
    expect(failuresOf((c) => checkThread(c, ok, ['a', 'b'], true, 2))).toEqual([]);
    const twice: Events[] = [[['tb', '0', 'a']], [['tb', '0', 'b']]];
    expect(failuresOf((c) => checkThread(c, twice, ['a', 'b'], false, 2))).toEqual([
      expect.stringContaining('no thread-buffer index was handed out twice'),
      expect.stringContaining('every slot is stored at the index its append returned'),
    ]);
    expect(failuresOf((c) => checkThread(c, ok, ['a'], true, 2))).toEqual([
      expect.stringContaining('every slot is stored at the index its append returned'),
      expect.stringContaining('without faults the thread is dense'),
    ]);
  });

  it('cache: accept fresh reads and stale ones inside the delivery window, catch a value older than a delivered invalidation', () => {
    const invalidations = [
      { item: 'a', version: 1, at: 1_000 },
      { item: 'a', version: 2, at: 5_000 },
    ];
    const read = (value: number, at: number): Events => [['cr', 'a', String(value), String(at)]];
    const fine = [read(1, 2_000), read(1, 5_500), read(2, 9_000)];
    let stale = 0;
    expect(
      failuresOf((c) => {
        stale = checkCache(c, fine, invalidations, 2_000).staleInWindow;
      }),
    ).toEqual([]);
    expect(stale).toBe(1);
    expect(failuresOf((c) => checkCache(c, [read(1, 7_001)], invalidations, 2_000))).toEqual([
      expect.stringContaining('no cache read served a value older than an invalidation'),
    ]);
  });
});
