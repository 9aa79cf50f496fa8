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
  batchDrainScript,
  batchEnqueueScript,
  batchMarkScript,
  batchTrimScript,
  batchUnmarkScript,
  hashWriteScript,
  registryDeleteScript,
  registryGetOrCreateScript,
  sessionCreateScript,
  sessionGetScript,
  sessionUpdateScript,
  sharedStateDeleteScript,
  sharedStateWriteScript,
  threadAppendScript,
  threadDeleteScript,
  triggerCancelAllScript,
  triggerCancelScript,
  triggerClaimScript,
  triggerScheduleScript,
  usersWriteScript,
} from '../src/index.js';

/*
 * Every script of the package: its Lua body on Redis (one server, and a 3-master Cluster)
 * against its local body on the memory backend, 200 generated cases each. Keys come from
 * small pools inside one hash tag so calls interact; setups put records, index entries,
 * stale members and wrong types in place.
 */

const NUM_RUNS = 200;

function cases(
  setup: fc.Arbitrary<SetupCommand>,
  call: fc.Arbitrary<ScriptCall>,
): fc.Arbitrary<DifferentialCase> {
  return fc.record({
    setup: fc.array(setup, { maxLength: 5 }).map(consistent),
    calls: fc.array(call, { minLength: 1, maxLength: 6 }),
  });
}

/** Drops setup commands that would clash with the type an earlier one gave the key. */
function consistent(setup: SetupCommand[]): SetupCommand[] {
  const types = new Map<string, string>();
  return setup.filter((command) => {
    const [name, k] = command;
    const type =
      name === 'set' ? 'string' : name === 'hset' ? 'hash' : name === 'sadd' ? 'set' : 'list';
    const had = types.get(String(k));
    if (name !== 'set' && had !== undefined && had !== type) return false;
    types.set(String(k), type);
    return true;
  });
}

// users.write
const userKey = fc.constantFrom('u:{t}:a', 'u:{t}:b');
const idxKey = fc.constantFrom('i:{t}:x', 'i:{t}:y', 'i:{t}:z');
const fieldName = fc.constantFrom('f', 'g', 'h');
const fieldValue = fc.constantFrom('1', '0', 'x', '', '123');
const usersSetup: fc.Arbitrary<SetupCommand> = fc.oneof(
  fc
    .tuple(userKey, fieldName, fieldValue)
    .map(([k, f, v]): SetupCommand => ['hset', k, { [f]: v }]),
  fc.tuple(idxKey, fc.constantFrom('a', 'b')).map(([k, m]): SetupCommand => ['sadd', k, m]),
  userKey.map((k): SetupCommand => ['set', k, 'a string']),
  idxKey.map((k): SetupCommand => ['set', k, 'a string']),
);
const usersCall: fc.Arbitrary<ScriptCall> = fc
  .record({
    user: userKey,
    id: fc.constantFrom('a', 'b'),
    mode: fc.constantFrom('upsert', 'update', 'delete'),
    ttl: fc.constantFrom(0, 60_000),
    set: fc.uniqueArray(fc.tuple(fieldName, fieldValue), { maxLength: 3, selector: ([f]) => f }),
    del: fc.uniqueArray(fieldName, { maxLength: 2 }),
    checks: fc.array(fc.tuple(fieldName, fc.constantFrom('-', '=1', '=x', '=', '=0')), {
      maxLength: 3,
    }),
    indexed: fc.array(fc.tuple(fieldName, idxKey, idxKey), { maxLength: 2 }),
  })
  .map((c) => ({
    keys: [c.user, ...c.indexed.flatMap(([, o, n]) => [o, n])],
    args: [
      c.id,
      c.mode,
      c.ttl,
      c.set.length,
      ...c.set.flat(),
      c.del.length,
      ...c.del,
      c.checks.length,
      ...c.checks.flat(),
      ...c.indexed.map(([f]) => f),
    ],
  }));

// thread-buffer
const threadIds = fc.constantFrom('a', 'b', 'c');
const threadList = (id: string) => `tb:{n}:thread:${id}`;
const threadsSet = 'tb:{n}:threads';
const bufferSetup: fc.Arbitrary<SetupCommand> = fc.oneof(
  fc
    .tuple(threadIds, fc.constantFrom('s1', 's2'))
    .map(([id, s]): SetupCommand => ['rpush', threadList(id), s]),
  threadIds.map((id): SetupCommand => ['sadd', threadsSet, id]),
  threadIds.map((id): SetupCommand => ['set', threadList(id), 'a string']),
);

// thread-registry
const chains = fc.constantFrom('c1', 'c2', 'c3');
const uuids = fc.constantFrom('u1', 'u2', 'u3');
const byChain = 'treg:{n}:chain';
const byUuid = 'treg:{n}:uuid';
const registrySetup: fc.Arbitrary<SetupCommand> = fc.oneof(
  fc.tuple(chains, uuids).map(([c, u]): SetupCommand => ['hset', byChain, { [c]: u }]),
  fc.tuple(chains, uuids).map(([c, u]): SetupCommand => ['hset', byUuid, { [u]: c }]),
  fc.constant<SetupCommand>(['set', byUuid, 'a string']),
);

// triggers
const trgDue = 'trg:{n}:due';
const trgClaimed = 'trg:{n}:claimed';
const trgFor = (id: string) => `trg:{n}:id:${id}`;
const trgIds = fc.constantFrom('a', 'b');
const trgMembers = fc.constantFrom('["x","a"]', '["y","a"]', '["x","b"]');
/** Due times for setups: long past, or far in the future (2100), never "now". */
const when = fc.constantFrom(1, 2, 4_102_444_800_000);
const triggerSetup: fc.Arbitrary<SetupCommand> = fc.oneof(
  fc
    .tuple(trgMembers, when)
    .map(([m, w]): SetupCommand => ['zadd', trgDue, { member: m, score: w }]),
  fc
    .tuple(trgMembers, when)
    .map(([m, w]): SetupCommand => ['zadd', trgClaimed, { member: m, score: w }]),
  fc.tuple(trgIds, trgMembers).map(([id, m]): SetupCommand => ['sadd', trgFor(id), m]),
  fc.constant<SetupCommand>(['set', trgClaimed, 'a string']),
);
const triggerKeysFor = (id: string) => [trgDue, trgClaimed, trgFor(id)];

function differentials(right: (() => Promise<Backend>) | undefined): void {
  const common = { numRuns: NUM_RUNS, ...(right ? { right } : {}) };

  scriptDifferential(usersWriteScript, { ...common, cases: cases(usersSetup, usersCall) });

  const sessionSetup = fc.oneof(
    fc.constantFrom('s:{a}', 's:{b}').map((k): SetupCommand => ['set', k, '{"id":1}']),
    fc
      .tuple(fc.constantFrom('s:{a}', 's:{b}'), fc.constantFrom('0', '1', '99999999999999'))
      .map(([k, d]): SetupCommand => ['hset', k, { s: '{"id":1}', d }]),
    fc
      .constantFrom('s:{a}', 's:{b}')
      .map((k): SetupCommand => ['hset', k, { s: '{"id":2}', d: '99999999999999' }]),
    fc.constantFrom('s:{a}', 's:{b}').map((k): SetupCommand => ['pexpire', k, 60_000]),
    fc.constant<SetupCommand>(['hset', 's:{a}', { f: 'v' }]),
  );
  const sessionKeysPool = fc.constantFrom<string[]>(['s:{a}'], ['s:{b}']);
  // The deadline written by create is server time + cap: compare whether it is set, not its value.
  const sessionState = (_key: string, state: unknown): unknown => {
    const s = state as { type?: string; value?: Record<string, string> };
    if (s.type !== 'hash' || s.value?.d === undefined || s.value.d === '0') return state;
    return { ...s, value: { ...s.value, d: Number(s.value.d) > 0 ? 'deadline' : s.value.d } };
  };

  scriptDifferential(sessionCreateScript, {
    ...common,
    normalizeState: sessionState,
    cases: cases(
      sessionSetup,
      fc.record({
        keys: sessionKeysPool,
        args: fc.tuple(
          fc.constantFrom('{"id":3}', 'x'),
          fc.constantFrom(1000, 60_000),
          fc.constantFrom(0, 30_000),
        ),
      }),
    ),
  });

  scriptDifferential(sessionGetScript, {
    ...common,
    normalizeState: sessionState,
    cases: cases(
      sessionSetup,
      fc.record({ keys: sessionKeysPool, args: fc.tuple(fc.constantFrom(0, 60_000)) }),
    ),
  });

  scriptDifferential(sessionUpdateScript, {
    ...common,
    normalizeState: sessionState,
    cases: cases(
      sessionSetup,
      fc.record({
        keys: sessionKeysPool,
        args: fc.tuple(fc.constantFrom('{"id":1}', '{"id":2}'), fc.constantFrom('{"id":9}')),
      }),
    ),
  });

  scriptDifferential(threadAppendScript, {
    ...common,
    cases: cases(
      bufferSetup,
      fc
        .record({
          id: threadIds,
          slot: fc.constantFrom('x', '{"a":1}', ''),
          maxSlots: fc.constantFrom(0, 1, 2),
          maxThreads: fc.constantFrom(0, 1, 2),
          ttl: fc.constantFrom(0, 60_000),
        })
        .map((c) => ({
          keys: [threadList(c.id), threadsSet],
          args: [c.id, c.slot, c.maxSlots, c.maxThreads, c.ttl],
        })),
    ),
  });

  scriptDifferential(threadDeleteScript, {
    ...common,
    cases: cases(
      bufferSetup,
      threadIds.map((id) => ({ keys: [threadList(id), threadsSet], args: [id] })),
    ),
  });

  scriptDifferential(registryGetOrCreateScript, {
    ...common,
    cases: cases(
      registrySetup,
      fc.record({ keys: fc.constant([byChain, byUuid]), args: fc.tuple(chains, uuids) }),
    ),
  });

  scriptDifferential(registryDeleteScript, {
    ...common,
    cases: cases(
      registrySetup,
      fc.record({ keys: fc.constant([byChain, byUuid]), args: fc.tuple(chains) }),
    ),
  });

  scriptDifferential(triggerScheduleScript, {
    ...common,
    cases: cases(
      triggerSetup,
      fc
        .tuple(trgIds, trgMembers, fc.constantFrom(0, 1000))
        .map(([id, m, inMs]) => ({ keys: triggerKeysFor(id), args: [m, inMs] })),
    ),
    // due times are `server now + inMs`: the two servers' clocks differ
    compareState: false,
  });

  scriptDifferential(triggerCancelScript, {
    ...common,
    cases: cases(
      triggerSetup,
      fc.tuple(trgIds, trgMembers).map(([id, m]) => ({ keys: triggerKeysFor(id), args: [m] })),
    ),
  });

  scriptDifferential(triggerCancelAllScript, {
    ...common,
    cases: cases(
      triggerSetup,
      trgIds.map((id) => ({ keys: triggerKeysFor(id), args: [] })),
    ),
  });

  scriptDifferential(triggerClaimScript, {
    ...common,
    cases: cases(
      triggerSetup,
      fc.record({
        keys: fc.constant([trgDue, trgClaimed]),
        args: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(1000, 60_000)),
      }),
    ),
    // claimed members are scored `server now + lease`
    compareState: false,
  });

  scriptDifferential(hashWriteScript, {
    ...common,
    cases: cases(
      fc.oneof(
        fc
          .tuple(fieldName, fieldValue)
          .map(([f, v]): SetupCommand => ['hset', 'h:{t}', { [f]: v }]),
        fc.constant<SetupCommand>(['set', 'h:{t}', 'a string']),
      ),
      fc
        .record({
          mode: fc.constantFrom('replace', 'merge'),
          ttl: fc.constantFrom(0, 60_000),
          pairs: fc.uniqueArray(fc.tuple(fieldName, fieldValue), {
            maxLength: 3,
            selector: ([f]) => f,
          }),
        })
        .map((c) => ({ keys: ['h:{t}'], args: [c.mode, c.ttl, ...c.pairs.flat()] })),
    ),
  });

  const ssNames = 'ss:{t}:u:names';
  const ssState = (n: string) => `ss:{t}:u:s:${n}`;
  const ssName = fc.constantFrom('a', 'b');
  const ssSetup: fc.Arbitrary<SetupCommand> = fc.oneof(
    fc
      .tuple(ssName, fieldName, fieldValue)
      .map(([n, f, v]): SetupCommand => ['hset', ssState(n), { [f]: v }]),
    ssName.map((n): SetupCommand => ['sadd', ssNames, n]),
    ssName.map((n): SetupCommand => ['set', ssState(n), 'a string']),
  );

  scriptDifferential(sharedStateWriteScript, {
    ...common,
    cases: cases(
      ssSetup,
      fc
        .record({
          name: ssName,
          mode: fc.constantFrom('replace', 'merge'),
          ttl: fc.constantFrom(0, 60_000),
          pairs: fc.uniqueArray(fc.tuple(fieldName, fieldValue), {
            maxLength: 3,
            selector: ([f]) => f,
          }),
        })
        .map((c) => ({
          keys: [ssState(c.name), ssNames],
          args: [c.name, c.mode, c.ttl, ...c.pairs.flat()],
        })),
    ),
  });

  scriptDifferential(sharedStateDeleteScript, {
    ...common,
    cases: cases(
      ssSetup,
      fc
        .uniqueArray(ssName, { maxLength: 2 })
        .map((names) => ({ keys: [ssNames, ...names.map(ssState)], args: names })),
    ),
  });

  const batchSetup = fc.oneof(
    fc.constantFrom('1', '2', '3').map((v): SetupCommand => ['rpush', 'b:{t}:q', v]),
    fc.constant<SetupCommand>(['set', 'b:{t}:q', 'a string']),
    fc.constantFrom('e:a', 'other').map((m): SetupCommand => ['sadd', 'b:{t}:lists', m]),
  );
  const batchKeys = fc.constant<string[]>(['b:{t}:q', 'b:{t}:lists']);

  scriptDifferential(batchEnqueueScript, {
    ...common,
    cases: cases(
      batchSetup,
      fc.record({ keys: batchKeys, args: fc.tuple(fc.constantFrom('x', '7'), fc.constant('e:a')) }),
    ),
  });

  scriptDifferential(batchDrainScript, {
    ...common,
    cases: cases(
      batchSetup,
      fc.record({
        keys: batchKeys,
        args: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constant('e:a')),
      }),
    ),
  });

  scriptDifferential(batchTrimScript, {
    ...common,
    cases: cases(
      batchSetup,
      fc.record({
        keys: batchKeys,
        args: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constant('e:a')),
      }),
    ),
  });

  const pendingSetup = fc.oneof(
    fc
      .tuple(fc.constantFrom('acme', 'beta'), fc.integer({ min: 1, max: 3 }))
      .map(([t, g]): SetupCommand => ['zadd', 'p:{s}', { member: t, score: g }]),
    fc.integer({ min: 0, max: 3 }).map((g): SetupCommand => ['set', 'p:{s}:gen', String(g)]),
    fc.constant<SetupCommand>(['set', 'p:{s}:gen', 'not a number']),
  );

  scriptDifferential(batchMarkScript, {
    ...common,
    cases: cases(
      pendingSetup,
      fc.record({
        keys: fc.constant<string[]>(['p:{s}', 'p:{s}:gen']),
        args: fc.tuple(fc.constantFrom('acme', 'beta')),
      }),
    ),
  });

  scriptDifferential(batchUnmarkScript, {
    ...common,
    cases: cases(
      pendingSetup,
      fc.record({
        keys: fc.constant<string[]>(['p:{s}']),
        args: fc.tuple(fc.constantFrom('acme', 'beta'), fc.integer({ min: 0, max: 4 })),
      }),
    ),
  });
}

const remote = testTargets().filter((t) => t.name !== 'memory');
if (remote.length === 0) {
  describe('tenant-repos scripts: memory vs memory', () => differentials(undefined));
}
for (const target of remote) {
  describe(`tenant-repos scripts: memory vs ${target.name}`, () =>
    differentials(() => target.make()));
}
