import type { SyncCommands } from '@redbrick/core';
import {
  algorithmScript,
  type Evaluation,
  fields2,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
} from './engine.js';

/*
 * Fixed window: a window of `windowMs` opens at the first request and counts
 * units; once it has passed, the next request opens a new one. Exact: never
 * more than `limit` units per window. Bursts: up to 2 × limit across the
 * boundary of two windows.
 *
 * State (string `<s>:<n>`): s = window start (Unix ms), n = units used.
 * TTL: the end of the window. One GET and one SET per decision.
 */

export const fixedWindowLua: LuaAlgorithm = {
  code: 'fw',
  lua: `
A.fw = {n = 1}
function A.fw.load(k, now, P)
  local W = tonumber(P[2])
  local s, n = fields2(redis.call('GET', k[1]))
  if s == nil or now >= s + W then return {s = now, n = 0} end
  return {s = s, n = n}
end
function A.fw.eval(k, st, now, P, cost)
  local L, W = tonumber(P[1]), tonumber(P[2])
  local rem = math.max(0, L - st.n)
  local reset = now
  if st.n > 0 then reset = st.s + W end
  if cost > L then return {3, rem, reset, -1} end
  if st.n + cost <= L then return {0, rem, reset, 0} end
  return {1, rem, reset, st.s + W - now}
end
function A.fw.apply(k, st, now, P, cost)
  local W = tonumber(P[2])
  st.n = math.max(0, st.n + cost)
  if st.n == 0 then
    redis.call('DEL', k[1])
    return
  end
  redis.call('SET', k[1], int(st.s) .. ':' .. int(st.n), 'PX', int(st.s + W - now))
end
`,
};

export const fixedWindowLocal: LocalAlgorithm = {
  code: 'fw',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const L = Number(P[0]);
    const W = Number(P[1]);
    const stored = fields2(r.get(key));
    const st =
      stored === undefined || now >= stored[0] + W
        ? { s: now, n: 0 }
        : { s: stored[0], n: stored[1] };
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, L - st.n);
        const reset = st.n > 0 ? st.s + W : now;
        if (cost > L) return [3, rem, reset, -1];
        if (st.n + cost <= L) return [0, rem, reset, 0];
        return [1, rem, reset, st.s + W - now];
      },
      apply(cost) {
        st.n = Math.max(0, st.n + cost);
        if (st.n === 0) {
          r.del(key);
          return;
        }
        r.set(key, `${int(st.s)}:${int(st.n)}`, { ttlMs: st.s + W - now });
      },
    };
  },
};

/** The fixed-window decision script. */
export const fixedWindowScript = algorithmScript(
  'ratelimit.fixed-window',
  `--[[ ratelimit.fixed-window
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  window (string '<start ms>:<units used>'; TTL = end of the window)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  limit (units per window)
  ARGV[4]  window in ms
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > limit), remaining, resetAt ms, retryAfter ms (-1 never)} ]]`,
  fixedWindowLua,
  fixedWindowLocal,
);
