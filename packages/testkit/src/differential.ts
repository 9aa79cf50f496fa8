import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Backend, DataCommands, Script } from '@redbrick/core';
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';

/** One call of the script under test. Keys are relative to a fresh per-case scope. */
export interface ScriptCall {
  keys: string[];
  args: Array<string | number>;
}

/** A command run on both backends before the calls, to build a starting state. */
export type SetupCommand = {
  [K in keyof DataCommands]: [K, ...Parameters<DataCommands[K]>];
}[keyof DataCommands];

/** One generated case: optional setup, then a sequence of script calls. */
export interface DifferentialCase {
  setup?: SetupCommand[];
  calls: ScriptCall[];
}

/** A call's outcome: its decoded result, or the error code it failed with. */
export type CallOutcome = { ok: true; value: unknown } | { ok: false; code: string };

export interface ScriptDifferentialOptions<R> {
  /** Generates cases. Keys should come from a small pool so calls interact. */
  cases: fc.Arbitrary<DifferentialCase>;
  /** The reference side. @default a fresh memory backend */
  left?: () => Promise<Backend>;
  /** The side under test. @default a second memory backend */
  right?: () => Promise<Backend>;
  /** Generated cases. @default 200 */
  numRuns?: number;
  /**
   * Maps a result before comparison: drop or round what depends on the
   * server clock (e.g. `resetAt`), which differs between two servers.
   */
  normalize?: (result: R, call: ScriptCall) => unknown;
  /** Also compare every touched key's type, value and TTL presence after the calls. @default true */
  compareState?: boolean;
  /**
   * Maps a key's dumped state before comparison (e.g. zset scores taken from
   * the server clock). Receives the key (relative to the case scope) and {@link dumpKey}'s result.
   */
  normalizeState?: (key: string, state: unknown) => unknown;
  /** Test name. @default `<script name> agrees on both backends` */
  name?: string;
  /** Per-test timeout in ms. @default 120000 */
  timeoutMs?: number;
  /** fast-check seed, for reproducing a failure. */
  seed?: number;
}

/** What a key holds, in a form that compares equal across backends. */
export async function dumpKey(backend: Backend, key: string): Promise<unknown> {
  const type = await backend.type(key);
  const pttl = await backend.pttl(key);
  const ttl = pttl === -2 ? 'missing' : pttl === -1 ? 'persistent' : 'expiring';
  switch (type) {
    case 'none':
      return { type };
    case 'string':
      return { type, ttl, value: await backend.get(key) };
    case 'hash':
      return { type, ttl, value: sortObject(await backend.hgetall(key)) };
    case 'list':
      return { type, ttl, value: await backend.lrange(key, 0, -1) };
    case 'set':
      return { type, ttl, value: (await backend.smembers(key)).sort() };
    case 'zset':
      return {
        type,
        ttl,
        value: await backend.zrangeByScore(key, '-inf', '+inf', { withScores: true }),
      };
    case 'stream':
      return { type, ttl, length: await backend.xlen(key) };
  }
}

function sortObject(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

async function runCase<R>(
  backend: Backend,
  script: Script<R>,
  testCase: DifferentialCase,
  normalize: (result: R, call: ScriptCall) => unknown,
  compareState: boolean,
  normalizeState: (key: string, state: unknown) => unknown,
): Promise<{ outcomes: CallOutcome[]; state: unknown[] }> {
  const scope = backend.scoped(`diff-${randomBytes(6).toString('hex')}`);
  const touched = new Set<string>();
  const outcomes: CallOutcome[] = [];
  for (const [command, ...args] of testCase.setup ?? []) {
    touched.add(String(args[0]));
    // A setup command may fail (e.g. WRONGTYPE); it must fail the same way on both sides.
    try {
      await (scope[command] as (...a: unknown[]) => Promise<unknown>).apply(scope, args);
    } catch (error) {
      outcomes.push({ ok: false, code: `setup ${command}: ${errorCode(error)}` });
    }
  }
  for (const call of testCase.calls) {
    for (const k of call.keys) touched.add(k);
    try {
      outcomes.push({
        ok: true,
        value: normalize(await scope.run(script, call.keys, call.args), call),
      });
    } catch (error) {
      outcomes.push({ ok: false, code: errorCode(error) });
    }
  }
  const keys = [...touched].sort();
  const state = compareState
    ? await Promise.all(keys.map(async (k) => [k, normalizeState(k, await dumpKey(scope, k))]))
    : [];
  if (keys.length > 0) await scope.del(...keys).catch(() => undefined);
  return { outcomes, state };
}

async function defaultMemory(): Promise<Backend> {
  const { createBackend } = await import('@redbrick/core');
  return createBackend({ type: 'memory' });
}

/**
 * Registers a property test (fast-check, 200 cases by default) that runs a
 * script's two bodies side by side — `local` on the memory backend, `lua`
 * on Redis when `right` is a Redis backend — and fails on the first case
 * where results or resulting state differ. A script whose bodies disagree
 * is a bug, whichever one is "right".
 */
export function scriptDifferential<R>(
  script: Script<R>,
  options: ScriptDifferentialOptions<R>,
): void {
  const normalize = options.normalize ?? ((result: R) => result);
  const compareState = options.compareState ?? true;
  const normalizeState = options.normalizeState ?? ((_key: string, state: unknown) => state);
  let left: Backend | undefined;
  let right: Backend | undefined;

  beforeAll(async () => {
    left = await (options.left ?? defaultMemory)();
    right = await (options.right ?? defaultMemory)();
  });
  afterAll(async () => {
    await left?.close();
    await right?.close();
  });

  it(
    options.name ?? `${script.name} agrees on both backends`,
    async () => {
      const l = left;
      const r = right;
      if (!l || !r) throw new Error('[redbrick/testkit] differential backends were not created');
      await fc.assert(
        fc.asyncProperty(options.cases, async (testCase) => {
          const [a, b] = await Promise.all([
            runCase(l, script, testCase, normalize, compareState, normalizeState),
            runCase(r, script, testCase, normalize, compareState, normalizeState),
          ]);
          if (!isDeepStrictEqual(a, b)) {
            throw new Error(
              `[redbrick/testkit] ${script.name}: the bodies disagree\n  ${l.kind}: ${JSON.stringify(a)}\n  ${r.kind}: ${JSON.stringify(b)}`,
            );
          }
        }),
        {
          numRuns: options.numRuns ?? 200,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
        },
      );
    },
    options.timeoutMs ?? 120_000,
  );
}
