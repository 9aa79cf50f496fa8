import type { Backend } from '@redbrick/core';
import {
  type DifferentialCase,
  type ScriptCall,
  type SetupCommand,
  scriptDifferential,
  testTargets,
} from '@redbrick/testkit';
import fc from 'fast-check';
import { describe } from 'vitest';
import {
  fencedWriteScript,
  latchCountDownScript,
  latchKeys,
  mutexAcquireFairScript,
  mutexAcquireScript,
  mutexExtendScript,
  mutexKeys,
  mutexLeaveQueueScript,
  mutexReleaseFairScript,
  mutexReleaseScript,
  readAcquireScript,
  readReleaseScript,
  readWriteLockKeys,
  semaphoreAcquireScript,
  semaphoreExtendScript,
  semaphoreKeys,
  semaphoreReleaseScript,
  writeAcquireScript,
  writeReleaseScript,
  writeWithdrawScript,
} from '../src/index.js';

/*
 * Every script of the package, its Lua body on Redis (one server, and a
 * 3-master Cluster) against its local body on the memory backend: 200
 * generated cases each. Keys come from two resource names so calls
 * interact; setups put leases, lapsed leases, counters and wrong types in
 * place. What depends on the server clock is normalised: "ms until the
 * blocker runs out" becomes its sign, and scripts that write clock-derived
 * zset scores are compared by their results only (the harness compares
 * state exactly, scores included).
 */

const NUM_RUNS = 200;
const names = fc.constantFrom('a', 'b');
const tokens = fc.constantFrom('t1', 't2', 't3');
const ttls = fc.constantFrom(60_000, 120_000);
/** Lease expiries for setups: long lapsed, or far in the future (2100), never "now". */
const expiries = fc.constantFrom(1, 4_102_444_800_000);

/** `{acquired, value}` with the clock-dependent wait reduced to its sign. */
function acquireShape(result: { acquired: boolean; value: number }): unknown {
  if (result.acquired) return result;
  return { acquired: false, value: result.value > 0 ? 'positive' : result.value };
}

/**
 * Drops setup commands that would clash with the type an earlier one gave
 * the key (the harness runs setups as they are: a WRONGTYPE there is not
 * what is under test). SET replaces any type, as in Redis.
 */
function consistent(setup: SetupCommand[]): SetupCommand[] {
  const types = new Map<string, string>();
  return setup.filter((command) => {
    const [name, k] = command;
    const key = String(k);
    const type = name === 'set' ? 'string' : name === 'hset' ? 'hash' : 'zset';
    const had = types.get(key);
    if (name !== 'set' && had !== undefined && had !== type) return false;
    types.set(key, type);
    return true;
  });
}

function cases(
  setup: fc.Arbitrary<SetupCommand>,
  call: fc.Arbitrary<ScriptCall>,
): fc.Arbitrary<DifferentialCase> {
  return fc.record({
    setup: fc.array(setup, { maxLength: 4 }).map(consistent),
    calls: fc.array(call, { minLength: 1, maxLength: 6 }),
  });
}

const wrongType = (k: string): SetupCommand => ['hset', k, { f: 'v' }];

const mutexSetup = fc.oneof(
  fc
    .tuple(names, tokens)
    .map(([n, t]): SetupCommand => ['set', mutexKeys(n).lock, t, { ttlMs: 60_000 }]),
  fc
    .tuple(names, fc.integer({ min: 0, max: 9 }))
    .map(([n, v]): SetupCommand => ['set', mutexKeys(n).fence, String(v)]),
  fc
    .tuple(names, tokens, fc.integer({ min: 1, max: 5 }))
    .map(([n, t, s]): SetupCommand => ['zadd', mutexKeys(n).queue, { member: t, score: s }]),
  fc
    .tuple(names, tokens, expiries)
    .map(([n, t, s]): SetupCommand => ['zadd', mutexKeys(n).queueExpiry, { member: t, score: s }]),
  names.map((n) => wrongType(mutexKeys(n).lock)),
  names.map((n): SetupCommand => ['set', mutexKeys(n).fence, 'not-a-number']),
);

const semaphoreSetup = fc.oneof(
  fc
    .tuple(names, tokens, expiries)
    .map(([n, t, s]): SetupCommand => ['zadd', semaphoreKeys(n).leases, { member: t, score: s }]),
  fc
    .tuple(names, fc.integer({ min: 0, max: 9 }))
    .map(([n, v]): SetupCommand => ['set', semaphoreKeys(n).fence, String(v)]),
  names.map((n) => wrongType(semaphoreKeys(n).leases)),
);

const rwSetup = fc.oneof(
  fc
    .tuple(names, tokens)
    .map(([n, t]): SetupCommand => ['set', readWriteLockKeys(n).writer, t, { ttlMs: 60_000 }]),
  fc
    .tuple(names, tokens, expiries)
    .map(
      ([n, t, s]): SetupCommand => ['zadd', readWriteLockKeys(n).readers, { member: t, score: s }],
    ),
  fc
    .tuple(names, tokens)
    .map(
      ([n, t]): SetupCommand => ['set', readWriteLockKeys(n).writerIntent, t, { ttlMs: 60_000 }],
    ),
  fc
    .tuple(names, fc.integer({ min: 0, max: 9 }))
    .map(([n, v]): SetupCommand => ['set', readWriteLockKeys(n).fence, String(v)]),
  names.map((n) => wrongType(readWriteLockKeys(n).readers)),
);

const rwAll = (n: string) => {
  const k = readWriteLockKeys(n);
  return [k.writer, k.readers, k.writerIntent, k.fence];
};

function differentials(right: (() => Promise<Backend>) | undefined): void {
  const common = { numRuns: NUM_RUNS, ...(right ? { right } : {}) };

  scriptDifferential(mutexAcquireScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({
        keys: names.map((n) => [mutexKeys(n).lock, mutexKeys(n).fence]),
        args: fc.tuple(tokens, ttls),
      }),
    ),
    normalize: acquireShape,
  });

  scriptDifferential(mutexAcquireFairScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({
        keys: names.map((n) => {
          const k = mutexKeys(n);
          return [k.lock, k.fence, k.queue, k.queueExpiry];
        }),
        args: fc.tuple(tokens, ttls, fc.constantFrom(0, 60_000)),
      }),
    ),
    normalize: acquireShape,
    // Places are scored `now + ms`: the two servers' clocks differ.
    compareState: false,
  });

  scriptDifferential(mutexReleaseScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({ keys: names.map((n) => [mutexKeys(n).lock]), args: fc.tuple(tokens) }),
    ),
  });

  scriptDifferential(mutexReleaseFairScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({
        keys: names.map((n) => {
          const k = mutexKeys(n);
          return [k.lock, k.queue, k.queueExpiry];
        }),
        args: fc.tuple(tokens),
      }),
    ),
  });

  scriptDifferential(mutexLeaveQueueScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({
        keys: names.map((n) => {
          const k = mutexKeys(n);
          return [k.lock, k.queue, k.queueExpiry];
        }),
        args: fc.tuple(tokens),
      }),
    ),
  });

  scriptDifferential(mutexExtendScript, {
    ...common,
    cases: cases(
      mutexSetup,
      fc.record({ keys: names.map((n) => [mutexKeys(n).lock]), args: fc.tuple(tokens, ttls) }),
    ),
  });

  scriptDifferential(semaphoreAcquireScript, {
    ...common,
    cases: cases(
      semaphoreSetup,
      fc.record({
        keys: names.map((n) => [semaphoreKeys(n).leases, semaphoreKeys(n).fence]),
        args: fc.tuple(tokens, fc.integer({ min: 1, max: 3 }), ttls),
      }),
    ),
    normalize: acquireShape,
    compareState: false,
  });

  scriptDifferential(semaphoreReleaseScript, {
    ...common,
    cases: cases(
      semaphoreSetup,
      fc.record({ keys: names.map((n) => [semaphoreKeys(n).leases]), args: fc.tuple(tokens) }),
    ),
  });

  scriptDifferential(semaphoreExtendScript, {
    ...common,
    cases: cases(
      semaphoreSetup,
      fc.record({
        keys: names.map((n) => [semaphoreKeys(n).leases]),
        args: fc.tuple(tokens, ttls),
      }),
    ),
    compareState: false,
  });

  scriptDifferential(readAcquireScript, {
    ...common,
    cases: cases(rwSetup, fc.record({ keys: names.map(rwAll), args: fc.tuple(tokens, ttls) })),
    normalize: acquireShape,
    compareState: false,
  });

  scriptDifferential(writeAcquireScript, {
    ...common,
    cases: cases(
      rwSetup,
      fc.record({
        keys: names.map(rwAll),
        args: fc.tuple(tokens, ttls, fc.constantFrom(0, 60_000)),
      }),
    ),
    normalize: acquireShape,
  });

  scriptDifferential(readReleaseScript, {
    ...common,
    cases: cases(
      rwSetup,
      fc.record({
        keys: names.map((n) => [readWriteLockKeys(n).writer, readWriteLockKeys(n).readers]),
        args: fc.tuple(tokens),
      }),
    ),
  });

  scriptDifferential(writeReleaseScript, {
    ...common,
    cases: cases(
      rwSetup,
      fc.record({ keys: names.map((n) => [readWriteLockKeys(n).writer]), args: fc.tuple(tokens) }),
    ),
  });

  scriptDifferential(writeWithdrawScript, {
    ...common,
    cases: cases(
      rwSetup,
      fc.record({
        keys: names.map((n) => [readWriteLockKeys(n).writer, readWriteLockKeys(n).writerIntent]),
        args: fc.tuple(tokens),
      }),
    ),
  });

  scriptDifferential(latchCountDownScript, {
    ...common,
    cases: cases(
      fc.oneof(
        fc
          .tuple(names, fc.integer({ min: -1, max: 4 }))
          .map(([n, v]): SetupCommand => ['set', latchKeys(n).count, String(v), { ttlMs: 60_000 }]),
        names.map((n): SetupCommand => ['set', latchKeys(n).count, 'x']),
        names.map((n) => wrongType(latchKeys(n).count)),
      ),
      fc.record({ keys: names.map((n) => [latchKeys(n).count]), args: fc.constant([]) }),
    ),
  });

  scriptDifferential(fencedWriteScript, {
    ...common,
    cases: cases(
      fc.oneof(
        fc
          .tuple(names, fc.integer({ min: 0, max: 9 }))
          .map(
            ([n, f]): SetupCommand => ['hset', `res:{${n}}`, { value: 'old', fence: String(f) }],
          ),
        names.map((n): SetupCommand => ['hset', `res:{${n}}`, { fence: 'x' }]),
        names.map((n): SetupCommand => ['set', `res:{${n}}`, 'a string']),
      ),
      fc.record({
        keys: names.map((n) => [`res:{${n}}`]),
        args: fc.tuple(
          fc.integer({ min: 0, max: 12 }),
          fc.constantFrom('v1', 'v2', ''),
          fc.constantFrom('', 60_000),
        ),
      }),
    ),
  });
}

const remote = testTargets().filter((t) => t.name !== 'memory');
if (remote.length === 0) {
  describe('lock scripts: memory vs memory', () => differentials(undefined));
}
for (const target of remote) {
  describe(`lock scripts: memory vs ${target.name}`, () => differentials(() => target.make()));
}
