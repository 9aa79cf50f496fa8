import type { SyncCommands } from '@redbrick/core';
import type { Evaluation, Loaded, LocalAlgorithm, LuaAlgorithm } from './engine.js';
import { num } from './engine.js';

/*
 * Budget rule (usage quota): reads how much of a metric a usage-meter bucket
 * has counted this period and allows while `used + max(estimate, 1) ≤ limit`.
 * It never writes: usage is counted by `UsageMeter.record()`, so a budget
 * check and the usage it guards are two steps (see the README).
 *
 * Params: limit (metric units), resetAt (end of the period, Unix ms), field.
 */

export const budgetLua: LuaAlgorithm = {
  code: 'bu',
  lua: `
A.bu = {n = 1}
function A.bu.load(k, now, P)
  return {u = num(redis.call('HGET', k[1], P[3]), 0)}
end
function A.bu.eval(k, st, now, P, cost)
  local L, reset = tonumber(P[1]), tonumber(P[2])
  local rem = math.max(0, L - st.u)
  if cost > L then return {3, rem, reset, -1} end
  if st.u + math.max(cost, 1) <= L then return {0, rem, reset, 0} end
  return {1, rem, reset, math.max(1, reset - now)}
end
function A.bu.apply(k, st, now, P, cost)
end
`,
};

export const budgetLocal: LocalAlgorithm = {
  code: 'bu',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const L = Number(P[0]);
    const reset = Number(P[1]);
    const used = num(r.hget(key, P[2] ?? ''), 0);
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, L - used);
        if (cost > L) return [3, rem, reset, -1];
        if (used + Math.max(cost, 1) <= L) return [0, rem, reset, 0];
        return [1, rem, reset, Math.max(1, reset - now)];
      },
      apply() {},
    };
  },
};
