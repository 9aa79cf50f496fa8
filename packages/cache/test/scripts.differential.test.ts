import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  type DifferentialCase,
  type ScriptCall,
  type ScriptDifferentialOptions,
  type SetupCommand,
  scriptDifferential,
  testTargets,
} from '@redbrick/testkit';
import { describe } from 'vitest';
import { tagAddScript, unlockScript } from '../src/scripts.js';

/*
 * The package's two scripts, Lua on Redis (one server and a 3-master
 * Cluster) against the local body on the memory backend, 200 cases each.
 * The cases are enumerated here (every setup × every call sequence up to
 * length 3) and fast-check draws from them. fast-check is not a dependency
 * of this package; it is loaded from testkit, which depends on it.
 */
interface ConstantFrom {
  constantFrom<T>(...values: T[]): ScriptDifferentialOptions<number>['cases'];
}
const testkitEntry = createRequire(import.meta.url).resolve('@redbrick/testkit');
const fcPath = createRequire(testkitEntry).resolve('fast-check');
const fcModule = (await import(pathToFileURL(fcPath).href)) as { default: ConstantFrom };
const fc = fcModule.default;

function sequences(calls: ScriptCall[], maxLength: number): ScriptCall[][] {
  let level: ScriptCall[][] = calls.map((c) => [c]);
  const out = [...level];
  for (let n = 2; n <= maxLength; n++) {
    level = level.flatMap((seq) => calls.map((c) => [...seq, c]));
    out.push(...level);
  }
  return out;
}

function cases(setups: SetupCommand[][], calls: ScriptCall[]): DifferentialCase[] {
  return setups.flatMap((setup) => sequences(calls, 3).map((seq) => ({ setup, calls: seq })));
}

const unlockCases = cases(
  [
    [],
    [['set', 'lock', 't1']],
    [['set', 'lock', 't2', { ttlMs: 60_000 }]],
    [['set', 'other', 't1']],
  ],
  [
    { keys: ['lock'], args: ['t1'] },
    { keys: ['lock'], args: ['t2'] },
    { keys: ['other'], args: ['t1'] },
  ],
);

const tagCases = cases(
  [
    [],
    [['sadd', 'tag', 'cache:e:a']],
    [
      ['sadd', 'tag', 'cache:e:b'],
      ['pexpire', 'tag', 90_000],
    ],
    [
      ['sadd', 'tag', 'cache:e:a'],
      ['pexpire', 'tag', 200_000],
    ],
  ],
  [
    { keys: ['tag'], args: [60_000, 'cache:e:a'] },
    { keys: ['tag'], args: [120_000, 'cache:e:b'] },
    { keys: ['tag2'], args: [60_000, 'cache:e:c'] },
  ],
);

const redisTargets = testTargets().filter((t) => t.name !== 'memory');

describe.each(redisTargets)('$name', (target) => {
  scriptDifferential(unlockScript, {
    right: () => target.make(),
    cases: fc.constantFrom(...unlockCases),
  });
  scriptDifferential(tagAddScript, {
    right: () => target.make(),
    cases: fc.constantFrom(...tagCases),
  });
});

// Narrowed to memory (REDBRICK_TARGETS=memory): the local bodies still run every case, on two
// memory backends, and must agree with themselves (deterministic, no hidden state).
if (redisTargets.length === 0) {
  describe('memory only', () => {
    scriptDifferential(unlockScript, { cases: fc.constantFrom(...unlockCases) });
    scriptDifferential(tagAddScript, { cases: fc.constantFrom(...tagCases) });
  });
}
