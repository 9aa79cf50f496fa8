import type { Script } from '@redbrick/core';
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
  compositeScript,
  fixedWindowScript,
  gcraScript,
  type ScriptOutcome,
  slidingLogScript,
  slidingWindowScript,
  tokenBucketScript,
  usageRecordScript,
} from '../src/index.js';

/*
 * Every script's Lua body (on one redis-server and on the cluster) against
 * its local body (memory backend), ≥ 200 generated cases each.
 *
 * Both sides read their own clock, a few ms apart, so time-valued fields are
 * normalised: for algorithms whose times are relative to the calls of the
 * case (fixed window, sliding log, token bucket, GCRA), to whole seconds
 * from `now` — every interval in the cases is a whole number of seconds and
 * a case runs well under 500 ms; for the epoch-aligned sliding window and
 * for budgets, to absolute times. Stored state holds timestamps, so it is
 * compared through the replies of later calls (peeks included), not
 * directly — except for the clock-free usage-record script.
 */

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Windows of the epoch-aligned sliding window: long, so no boundary falls inside a run. */
const SW_WINDOWS = [366 * DAY, 122 * DAY];
const T0 = Date.now();

const tags = fc.constantFrom('{a}', '{b}');
const op = fc.constantFrom('c', 'c', 'c', 'p', 'r', 'f');

type Code = 'fw' | 'sw' | 'sl' | 'tb' | 'gc' | 'bu';

/** Whole-second rounding of a time relative to the decision. */
function relative(ms: number): number | string {
  return Number.isFinite(ms) ? Math.round(ms / SECOND) : 'never';
}

function normalizeRule(code: Code, now: number, rule: ScriptOutcome['rules'][number]): unknown[] {
  const { status, remaining, resetAt, retryAfterMs } = rule;
  if (code === 'sw' || code === 'bu') {
    const retryAt =
      retryAfterMs === 0 ? 0 : Number.isFinite(retryAfterMs) ? now + retryAfterMs : 'never';
    return [status, remaining, resetAt === now ? 'now' : resetAt, retryAt];
  }
  return [status, remaining, relative(resetAt - now), relative(retryAfterMs)];
}

function normalizeOne(code: Code) {
  return (outcome: ScriptOutcome): unknown => ({
    blocked: relative(outcome.blockedMs),
    rules: outcome.rules.map((r) => normalizeRule(code, outcome.now, r)),
  });
}

/** Setup: maybe a block, and at most one starting state per tag (both bodies must read it alike). */
function setup(
  stateKey: string,
  states: ReadonlyArray<(key: string) => SetupCommand>,
): fc.Arbitrary<SetupCommand[]> {
  const state = (tag: string) =>
    fc.option(
      fc.constantFrom(...states).map((make) => make(`${tag}:${stateKey}`)),
      {
        nil: undefined,
      },
    );
  return fc
    .tuple(
      fc.constantFrom<SetupCommand | undefined>(
        undefined,
        ['set', '{a}:b', '1', { ttlMs: 60_000 }],
        ['set', '{b}:b', '1'],
      ),
      state('{a}'),
      state('{b}'),
    )
    .map((commands) => commands.filter((c): c is SetupCommand => c !== undefined));
}

function cases(
  keysOf: (tag: string) => string[],
  params: fc.Arbitrary<Array<string | number>>,
  maxCost: number,
  setupCommands: fc.Arbitrary<SetupCommand[]>,
): fc.Arbitrary<DifferentialCase> {
  return fc.record({
    setup: setupCommands,
    calls: params.chain((p) =>
      fc.array(
        fc.record({
          keys: tags.map((t) => [`${t}:b`, ...keysOf(t)]),
          args: fc
            .tuple(op, fc.integer({ min: 1, max: maxCost }))
            .map(([o, cost]) => [o, cost, ...p]),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    ),
  });
}

const wrongType = (key: string): SetupCommand => ['rpush', key, 'x'];
const emptyish = (key: string): SetupCommand => ['del', key];

interface ScriptSpec {
  script: Script<ScriptOutcome>;
  code: Code;
  cases: fc.Arbitrary<DifferentialCase>;
}

const limit = fc.integer({ min: 1, max: 8 });

const specs: ScriptSpec[] = [
  {
    script: fixedWindowScript,
    code: 'fw',
    cases: cases(
      (t) => [`${t}:s`],
      fc.tuple(limit, fc.constantFrom(60 * SECOND, HOUR)).map(([l, w]) => [l, w, 0]),
      10,
      setup('s', [
        wrongType,
        emptyish,
        (k) => ['set', k, '1000:3'],
        (k) => ['hset', k, { s: '1' }],
        (k) => ['set', k, 'later:3'],
        (k) => ['set', k, '7'],
      ]),
    ),
  },
  {
    script: slidingWindowScript,
    code: 'sw',
    cases: cases(
      (t) => [`${t}:s`],
      fc.tuple(limit, fc.constantFrom(...SW_WINDOWS)).map(([l, w]) => [l, w, 0]),
      10,
      setup('s', [
        wrongType,
        emptyish,
        ...SW_WINDOWS.flatMap((w) => {
          const cur = T0 - (T0 % w);
          return [
            (k: string): SetupCommand => ['set', k, `${cur}:2:7`],
            (k: string): SetupCommand => ['set', k, `${cur - w}:7:1`],
            (k: string): SetupCommand => ['set', k, `${cur - 2 * w}:9:9`],
          ];
        }),
        (k) => ['set', k, '0:x:1'],
        (k) => ['set', k, '5:5'],
      ]),
    ),
  },
  {
    script: slidingLogScript,
    code: 'sl',
    cases: cases(
      (t) => [`${t}:s`, `${t}:q`],
      fc.tuple(limit, fc.constantFrom(60 * SECOND, HOUR)).map(([l, w]) => [l, w, 0]),
      10,
      setup('s', [
        wrongType,
        emptyish,
        (k) => [
          'zadd',
          k,
          [
            { member: '1', score: 1000 },
            { member: '2', score: 2000 },
          ],
        ],
        (k) => ['set', k, 'x'],
      ]),
    ),
  },
  {
    script: tokenBucketScript,
    code: 'tb',
    cases: cases(
      (t) => [`${t}:s`],
      fc
        .tuple(limit, fc.integer({ min: 1, max: 4 }), fc.constantFrom(60 * SECOND, HOUR))
        .map(([cap, amount, interval]) => [cap, amount, interval]),
      10,
      setup('s', [
        wrongType,
        emptyish,
        (k) => ['set', k, '2:1000'],
        (k) => ['set', k, '-5:1000'],
        (k) => ['set', k, '1.5:1000'],
        (k) => ['hset', k, { t: '1' }],
      ]),
    ),
  },
  {
    script: gcraScript,
    code: 'gc',
    cases: cases(
      (t) => [`${t}:s`],
      fc
        .tuple(fc.constantFrom(60_000_000, 3_600_000_000), limit)
        .map(([emission, burst]) => [emission, emission * burst, 0]),
      10,
      setup('s', [
        wrongType,
        emptyish,
        (k) => ['set', k, '1000000'],
        (k) => ['set', k, 'junk'],
        (k) => ['hset', k, { f: '1' }],
      ]),
    ),
  },
];

/* ---------------------------------------------------------------- composite */

interface GeneratedRule {
  code: Code;
  cost: number;
  params: Array<string | number>;
}

const BUDGET_RESET = T0 + 30 * DAY;

const ruleArb: fc.Arbitrary<GeneratedRule> = fc.oneof(
  fc
    .tuple(fc.constantFrom<Code>('fw', 'sl'), limit, fc.constantFrom(60 * SECOND, HOUR))
    .map(([code, l, w]) => ({ code, cost: 0, params: [l, w, 0] })),
  fc
    .tuple(limit, fc.constantFrom(...SW_WINDOWS))
    .map(([l, w]) => ({ code: 'sw' as const, cost: 0, params: [l, w, 0] })),
  fc
    .tuple(limit, fc.integer({ min: 1, max: 3 }), fc.constantFrom(60 * SECOND, HOUR))
    .map(([l, a, iv]) => ({ code: 'tb' as const, cost: 0, params: [l, a, iv] })),
  fc
    .tuple(fc.constantFrom(60_000_000, 3_600_000_000), limit)
    .map(([e, b]) => ({ code: 'gc' as const, cost: 0, params: [e, e * b, 0] })),
  fc
    .tuple(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 0, max: 60 }),
      fc.constantFrom('tokens', 'cost'),
    )
    .map(([l, estimate, field]) => ({
      code: 'bu' as const,
      cost: estimate,
      params: [l, BUDGET_RESET, field],
    })),
);

function compositeCall(tag: string, rules: GeneratedRule[], o: string, cost: number): ScriptCall {
  const keys = [`${tag}:b`];
  const args: Array<string | number> = [o, rules.length];
  rules.forEach((rule, i) => {
    if (rule.code === 'bu') keys.push(`${tag}:u`);
    else keys.push(`${tag}:r${i}:${rule.code}`);
    if (rule.code === 'sl') keys.push(`${tag}:r${i}:sq`);
    args.push(rule.code, rule.code === 'bu' ? rule.cost : cost, ...rule.params);
  });
  return { keys, args };
}

const compositeCases: fc.Arbitrary<DifferentialCase> = fc.record({
  setup: fc
    .tuple(
      fc.boolean(),
      fc.constantFrom<Record<string, string> | undefined>(
        undefined,
        { tokens: '30', cost: '45' },
        { tokens: 'x' },
      ),
    )
    .map(([block, usage]) => {
      const commands: SetupCommand[] = [];
      if (block) commands.push(['set', '{a}:b', '1', { ttlMs: 60_000 }]);
      if (usage) commands.push(['hset', '{a}:u', usage]);
      return commands;
    }),
  calls: fc.array(ruleArb, { minLength: 1, maxLength: 4 }).chain((rules) =>
    fc.array(
      fc
        .tuple(tags, op, fc.integer({ min: 1, max: 9 }))
        .map(([t, o, cost]) => compositeCall(t, rules, o, cost)),
      { minLength: 1, maxLength: 8 },
    ),
  ),
});

function normalizeComposite(outcome: ScriptOutcome, call: ScriptCall): unknown {
  const codes: Code[] = [];
  const n = Number(call.args[1]);
  for (let i = 0; i < n; i++) codes.push(call.args[2 + i * 5] as Code);
  return {
    blocked: relative(outcome.blockedMs),
    rules: outcome.rules.map((r, i) => normalizeRule(codes[i] ?? 'fw', outcome.now, r)),
  };
}

/* ------------------------------------------------------------------- usage */

const usageCases: fc.Arbitrary<DifferentialCase> = fc.record({
  setup: fc.subarray<SetupCommand>([
    ['set', '{a}:d', 'x'],
    ['hset', '{b}:m', { tokens: '5', 'cost:a:b': 'nope' }],
    ['hset', '{a}:h', { requests: '2' }],
  ]),
  calls: fc.array(
    fc.record({
      keys: tags.map((t) => [`${t}:h`, `${t}:d`, `${t}:m`]),
      args: fc.tuple(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom('', 'gpt-4o', 'a:b', 'ünï'),
        fc.constantFrom(0, 60_000, HOUR),
        fc.constantFrom(0, 60_000, DAY),
        fc.constantFrom(60_000, 30 * DAY),
      ),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

/* -------------------------------------------------------------------- tests */

const memory = testTargets({ ...process.env, REDBRICK_TARGETS: 'memory' })[0];
const remotes = testTargets().filter((t) => t.name !== 'memory');
// with REDBRICK_TARGETS=memory there is no Lua to compare: the local body against itself
const others = remotes.length > 0 ? remotes : [memory as NonNullable<typeof memory>];

describe.each(others)('memory vs $name', (target) => {
  const left = () => (memory as NonNullable<typeof memory>).make();
  const right = () => target.make();
  for (const spec of specs) {
    scriptDifferential(spec.script, {
      cases: spec.cases,
      left,
      right,
      numRuns: 200,
      compareState: false,
      normalize: normalizeOne(spec.code),
    });
  }
  scriptDifferential(compositeScript, {
    cases: compositeCases,
    left,
    right,
    numRuns: 250,
    compareState: false,
    normalize: normalizeComposite,
  });
  scriptDifferential(usageRecordScript, { cases: usageCases, left, right, numRuns: 200 });
});
