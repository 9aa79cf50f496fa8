import { defineScript } from '@redbrick/core';
import { budgetLocal, budgetLua } from './budget.js';
import {
  type AlgorithmCode,
  decide,
  decodeOutcome,
  type LocalAlgorithm,
  type LocalRule,
  LUA_DRIVER,
  LUA_PRELUDE,
  PARAMS_PER_RULE,
  type ScriptOutcome,
} from './engine.js';
import { fixedWindowLocal, fixedWindowLua } from './fixed-window.js';
import { gcraLocal, gcraLua } from './gcra.js';
import { slidingLogLocal, slidingLogLua } from './sliding-log.js';
import { slidingWindowLocal, slidingWindowLua } from './sliding-window.js';
import { tokenBucketLocal, tokenBucketLua } from './token-bucket.js';

const LOCAL: Record<AlgorithmCode, LocalAlgorithm> = {
  fw: fixedWindowLocal,
  sw: slidingWindowLocal,
  sl: slidingLogLocal,
  tb: tokenBucketLocal,
  gc: gcraLocal,
  bu: budgetLocal,
};

/** ARGV fields per rule: algorithm, cost, then the parameters. */
const FIELDS = 2 + PARAMS_PER_RULE;

/**
 * Several rules decided atomically in one round trip: every rule is read
 * and evaluated first; a consume writes to every rule only when all allow.
 * Each rule's reply says whether it allowed, so the caller knows which
 * limit denied.
 */
export const compositeScript = defineScript<ScriptOutcome>({
  name: 'ratelimit.composite',
  lua: `--[[ ratelimit.composite
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2…] each rule's keys in rule order (fw, sw, tb, gc, bu: 1 key; sl: 2 keys), one hash tag
  ARGV[1]  op: c = consume if every rule allows, p = peek, r = record (consume without
           deciding), f = refund
  ARGV[2]  number of rules n
  ARGV[3…] per rule, 5 fields: algorithm (fw sw sl tb gc bu), cost, p1, p2, p3
           (the parameters of that algorithm's own script; bu: limit, period end ms, field)
  returns  {now ms, blocked ms (0 no, -1 without expiry), then per rule: status (0 allowed,
           1 limited, 3 cost > limit), remaining, resetAt ms, retryAfter ms (-1 never)} ]]${LUA_PRELUDE}${fixedWindowLua.lua}${slidingWindowLua.lua}${slidingLogLua.lua}${tokenBucketLua.lua}${gcraLua.lua}${budgetLua.lua}${LUA_DRIVER}
local rules = {}
local ki = 2
for i = 1, tonumber(ARGV[2]) do
  local b = 2 + (i - 1) * ${FIELDS}
  local a = A[ARGV[b + 1]]
  local k = {}
  for j = 1, a.n do
    k[j] = KEYS[ki]
    ki = ki + 1
  end
  rules[i] = {a = a, k = k, c = tonumber(ARGV[b + 2]), P = {ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]}}
end
return decide(ARGV[1], KEYS[1], rules)`,
  local(r, keys, args) {
    const [op = 'p', count = '0'] = args;
    const rules: LocalRule[] = [];
    let ki = 1;
    for (let i = 0; i < Number(count); i++) {
      const b = 2 + i * FIELDS;
      const algorithm = LOCAL[args[b] as AlgorithmCode];
      rules.push({
        algorithm,
        keys: keys.slice(ki, ki + algorithm.keys),
        cost: Number(args[b + 1]),
        params: args.slice(b + 2, b + 2 + PARAMS_PER_RULE),
      });
      ki += algorithm.keys;
    }
    return decide(r, op, keys[0] ?? '', rules);
  },
  decode: decodeOutcome,
});
