import { defineScript, type LocalReply, type Script, type SyncCommands } from '@redbrick/core';
import {
  decodeOutcome,
  type Evaluation,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
  num,
  type ScriptOutcome,
  serverNow,
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

const LUA = `--[[ ratelimit.gcra
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  theoretical arrival time (string, Unix µs; TTL = until then)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  emission interval T in µs (windowMs × 1000 / limit, rounded)
  ARGV[4]  burst tolerance in µs (burst × T)
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > burst), remaining, resetAt ms, retryAfter ms (-1 never)} ]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bl = redis.call('PTTL', KEYS[1])
local blocked = 0
if bl > 0 then blocked = bl elseif bl == -1 then blocked = -1 end
local op = ARGV[1]
local c = tonumber(ARGV[2])
local T = tonumber(ARGV[3])
local tau = tonumber(ARGV[4])
local k = KEYS[2]
local nu = now * 1000
local tat = nu
local v = redis.call('GET', k)
if v and string.match(v, '^%-?%d+$') then
  tat = tonumber(v)
  if tat < nu then tat = nu end
end
local s = 0
local retry = 0
if c * T > tau then
  s = 3
  retry = -1
else
  local d = tat + c * T - nu - tau
  if d > 0 then
    s = 1
    retry = math.ceil(d / 1000)
  end
end
if op == 'p' or (op == 'c' and (blocked ~= 0 or s ~= 0)) then
  return {now, blocked, s, math.max(0, math.floor((tau - (tat - nu)) / T)), math.ceil(tat / 1000), retry}
end
local x = c
if op == 'f' then x = -c end
tat = math.max(nu, tat + x * T)
if tat <= nu then
  redis.call('DEL', k)
else
  redis.call('SET', k, string.format('%.0f', tat), 'PX', string.format('%.0f', math.ceil((tat - nu) / 1000)))
end
local rem = math.max(0, math.floor((tau - (tat - nu)) / T))
local reset = math.ceil(tat / 1000)
if op == 'c' then return {now, blocked, 0, rem, reset, 0} end
local s1 = 0
local r1 = 0
if T > tau then
  s1 = 3
  r1 = -1
else
  local d = tat + T - nu - tau
  if d > 0 then
    s1 = 1
    r1 = math.ceil(d / 1000)
  end
end
if op == 'r' then
  if s == 0 then r1 = 0 end
  return {now, blocked, s, rem, reset, r1}
end
return {now, blocked, s1, rem, reset, r1}`;

/** The TypeScript body: the Lua body line by line. */
function gcraBody(r: SyncCommands, keys: string[], args: string[]): LocalReply {
  const now = serverNow(r);
  const bl = r.pttl(keys[0] ?? '');
  const blocked = bl > 0 ? bl : bl === -1 ? -1 : 0;
  const op = args[0];
  const c = Number(args[1]);
  const T = Number(args[2]);
  const tau = Number(args[3]);
  const k = keys[1] ?? '';
  const nu = now * 1000;
  let tat = nu;
  const stored = num(r.get(k));
  if (stored !== undefined) tat = Math.max(stored, nu);
  let s = 0;
  let retry = 0;
  if (c * T > tau) {
    s = 3;
    retry = -1;
  } else {
    const d = tat + c * T - nu - tau;
    if (d > 0) {
      s = 1;
      retry = Math.ceil(d / 1000);
    }
  }
  if (op === 'p' || (op === 'c' && (blocked !== 0 || s !== 0))) {
    return [
      now,
      blocked,
      s,
      Math.max(0, Math.floor((tau - (tat - nu)) / T)),
      Math.ceil(tat / 1000),
      retry,
    ];
  }
  tat = Math.max(nu, tat + (op === 'f' ? -c : c) * T);
  if (tat <= nu) r.del(k);
  else r.set(k, int(tat), { ttlMs: Math.ceil((tat - nu) / 1000) });
  const rem = Math.max(0, Math.floor((tau - (tat - nu)) / T));
  const reset = Math.ceil(tat / 1000);
  if (op === 'c') return [now, blocked, 0, rem, reset, 0];
  let s1 = 0;
  let r1 = 0;
  if (T > tau) {
    s1 = 3;
    r1 = -1;
  } else {
    const d = tat + T - nu - tau;
    if (d > 0) {
      s1 = 1;
      r1 = Math.ceil(d / 1000);
    }
  }
  if (op === 'r') return [now, blocked, s, rem, reset, s === 0 ? 0 : r1];
  return [now, blocked, s1, rem, reset, r1];
}

/** The GCRA decision script: straight-line, one rule (the composite script runs the fragments above). */
export const gcraScript: Script<ScriptOutcome> = defineScript<ScriptOutcome>({
  name: 'ratelimit.gcra',
  keys: 2,
  lua: LUA,
  local: gcraBody,
  decode: decodeOutcome,
});
