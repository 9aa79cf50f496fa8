import type { SyncCommands } from '@redbrick/core';
import {
  algorithmScript,
  type Evaluation,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
  num,
} from './engine.js';

/*
 * GCRA (generic cell rate algorithm): one request per emission interval
 * T = windowMs / limit, with a burst of up to `burst` requests. The state is
 * one number, the theoretical arrival time (TAT) of the next request; a
 * request of cost c is allowed when max(TAT, now) + c·T − now ≤ burst·T.
 * Exact, smooth (no window edges), O(1) memory. Times are kept in
 * microseconds so T need not be a whole number of milliseconds.
 *
 * State (string): TAT in Unix µs. TTL: until TAT (then it equals "no key").
 */

export const gcraLua: LuaAlgorithm = {
  code: 'gc',
  lua: `
A.gc = {n = 1}
function A.gc.load(k, now, P)
  local nu = now * 1000
  local tat = num(redis.call('GET', k[1]))
  if tat == nil or tat < nu then tat = nu end
  return {tat = tat}
end
function A.gc.eval(k, st, now, P, cost)
  local T, tau = tonumber(P[1]), tonumber(P[2])
  local nu = now * 1000
  local rem = math.max(0, math.floor((tau - (st.tat - nu)) / T))
  local reset = math.ceil(st.tat / 1000)
  if cost * T > tau then return {3, rem, reset, -1} end
  local d = st.tat + cost * T - nu - tau
  if d <= 0 then return {0, rem, reset, 0} end
  return {1, rem, reset, math.ceil(d / 1000)}
end
function A.gc.apply(k, st, now, P, cost)
  local T = tonumber(P[1])
  local nu = now * 1000
  st.tat = math.max(nu, st.tat + cost * T)
  if st.tat <= nu then
    redis.call('DEL', k[1])
    return
  end
  redis.call('SET', k[1], int(st.tat), 'PX', int(math.ceil((st.tat - nu) / 1000)))
end
`,
};

export const gcraLocal: LocalAlgorithm = {
  code: 'gc',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const T = Number(P[0]);
    const tau = Number(P[1]);
    const nu = now * 1000;
    const stored = num(r.get(key));
    const st = { tat: stored === undefined || stored < nu ? nu : stored };
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, Math.floor((tau - (st.tat - nu)) / T));
        const reset = Math.ceil(st.tat / 1000);
        if (cost * T > tau) return [3, rem, reset, -1];
        const d = st.tat + cost * T - nu - tau;
        if (d <= 0) return [0, rem, reset, 0];
        return [1, rem, reset, Math.ceil(d / 1000)];
      },
      apply(cost) {
        st.tat = Math.max(nu, st.tat + cost * T);
        if (st.tat <= nu) {
          r.del(key);
          return;
        }
        r.set(key, int(st.tat), { ttlMs: Math.ceil((st.tat - nu) / 1000) });
      },
    };
  },
};

/** The GCRA decision script. */
export const gcraScript = algorithmScript(
  'ratelimit.gcra',
  `--[[ ratelimit.gcra
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  theoretical arrival time (string, Unix µs; TTL = until then)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  emission interval T in µs (windowMs × 1000 / limit, rounded)
  ARGV[4]  burst tolerance in µs (burst × T)
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > burst), remaining, resetAt ms, retryAfter ms (-1 never)} ]]`,
  gcraLua,
  gcraLocal,
);
