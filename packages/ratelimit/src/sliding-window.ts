import { defineScript, type LocalReply, type Script, type SyncCommands } from '@redbrick/core';
import {
  decodeOutcome,
  type Evaluation,
  fields3,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
  type ScriptOutcome,
  serverNow,
} from './engine.js';

/*
 * Sliding window counter (approximate, cheap): windows of `windowMs` aligned
 * to the epoch; a request is allowed when
 *
 *   current + cost + previous × (windowMs − elapsed) / windowMs ≤ limit
 *
 * i.e. the previous window's count is weighted by how much of it the sliding
 * window still covers, assuming its requests were spread evenly. Computed in
 * integers (both sides multiplied by windowMs), so it is exact arithmetic on
 * an approximate model.
 *
 * Error bound: each aligned window admits at most `limit` units (exact), so
 * any interval of `windowMs` admits at most `limit + previous × elapsed /
 * windowMs < 2 × limit` units — the worst case being a previous window whose
 * requests all came at its very end. When traffic is even, the estimate is
 * exact; when the previous window's requests came early, it is stricter than
 * a true sliding window.
 *
 * State (string `<w>:<c>:<p>`): w = current window start, c = units in it,
 * p = units in the previous window. One GET and one SET per decision.
 */

export const slidingWindowLua: LuaAlgorithm = {
  code: 'sw',
  lua: `
A.sw = {n = 1}
function A.sw.load(k, now, P)
  local W = tonumber(P[2])
  local cur = now - now % W
  local w, c, p = fields3(redis.call('GET', k[1]))
  if w == nil then
    c = 0
    p = 0
  elseif w == cur then
    -- the stored window is the current one
  elseif w == cur - W then
    p = c
    c = 0
  else
    c = 0
    p = 0
  end
  return {cur = cur, c = c, p = p}
end
function A.sw.eval(k, st, now, P, cost)
  local L, W = tonumber(P[1]), tonumber(P[2])
  local e = now - st.cur
  local used = st.c * W + st.p * (W - e)
  local rem = math.max(0, math.floor((L * W - used) / W))
  local reset = now
  if st.c > 0 then reset = st.cur + 2 * W elseif st.p > 0 then reset = st.cur + W end
  if cost > L then return {3, rem, reset, -1} end
  if used + cost * W <= L * W then return {0, rem, reset, 0} end
  local retry
  if st.c + cost <= L then
    retry = W - math.floor((L - st.c - cost) * W / st.p) - e
  else
    retry = W - e + math.max(0, W - math.floor((L - cost) * W / st.c))
  end
  return {1, rem, reset, retry}
end
function A.sw.apply(k, st, now, P, cost)
  local W = tonumber(P[2])
  local c = st.c + cost
  if c < 0 then
    st.p = math.max(0, st.p + c)
    c = 0
  end
  st.c = c
  if st.c == 0 and st.p == 0 then
    redis.call('DEL', k[1])
    return
  end
  local ends = st.cur + W
  if st.c > 0 then ends = st.cur + 2 * W end
  redis.call('SET', k[1], int(st.cur) .. ':' .. int(st.c) .. ':' .. int(st.p), 'PX', int(ends - now))
end
`,
};

export const slidingWindowLocal: LocalAlgorithm = {
  code: 'sw',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const L = Number(P[0]);
    const W = Number(P[1]);
    const cur = now - (now % W);
    const stored = fields3(r.get(key));
    let c = 0;
    let p = 0;
    if (stored === undefined) {
      // no state
    } else if (stored[0] === cur) {
      c = stored[1];
      p = stored[2];
    } else if (stored[0] === cur - W) {
      p = stored[1];
    }
    const st = { c, p };
    return {
      eval(cost): Evaluation {
        const e = now - cur;
        const used = st.c * W + st.p * (W - e);
        const rem = Math.max(0, Math.floor((L * W - used) / W));
        const reset = st.c > 0 ? cur + 2 * W : st.p > 0 ? cur + W : now;
        if (cost > L) return [3, rem, reset, -1];
        if (used + cost * W <= L * W) return [0, rem, reset, 0];
        const retry =
          st.c + cost <= L
            ? W - Math.floor(((L - st.c - cost) * W) / st.p) - e
            : W - e + Math.max(0, W - Math.floor(((L - cost) * W) / st.c));
        return [1, rem, reset, retry];
      },
      apply(cost) {
        let next = st.c + cost;
        if (next < 0) {
          st.p = Math.max(0, st.p + next);
          next = 0;
        }
        st.c = next;
        if (st.c === 0 && st.p === 0) {
          r.del(key);
          return;
        }
        r.set(key, `${int(cur)}:${int(st.c)}:${int(st.p)}`, {
          ttlMs: (st.c > 0 ? cur + 2 * W : cur + W) - now,
        });
      },
    };
  },
};

const LUA = `--[[ ratelimit.sliding-window
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  counters (string '<current window start ms>:<units in it>:<units in the previous
           window>'; TTL = when both have slid out)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  limit (units per window)
  ARGV[4]  window in ms (windows are aligned to the epoch)
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > limit), remaining, resetAt ms, retryAfter ms (-1 never)} ]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bl = redis.call('PTTL', KEYS[1])
local blocked = 0
if bl > 0 then blocked = bl elseif bl == -1 then blocked = -1 end
local op = ARGV[1]
local x = tonumber(ARGV[2])
local L = tonumber(ARGV[3])
local W = tonumber(ARGV[4])
local k = KEYS[2]
local cur = now - now % W
local e = now - cur
local c = 0
local p = 0
local v = redis.call('GET', k)
if v then
  local a1, a2, a3 = string.match(v, '^(%-?%d+):(%-?%d+):(%-?%d+)$')
  if a1 then
    local w = tonumber(a1)
    if w == cur then
      c = tonumber(a2)
      p = tonumber(a3)
    elseif w == cur - W then
      p = tonumber(a2)
    end
  end
end
local used = c * W + p * (W - e)
local s = 0
local retry = 0
if x > L then
  s = 3
  retry = -1
elseif used + x * W > L * W then
  s = 1
  if c + x <= L then
    retry = W - math.floor((L - c - x) * W / p) - e
  else
    retry = W - e + math.max(0, W - math.floor((L - x) * W / c))
  end
end
if op == 'p' or (op == 'c' and (blocked ~= 0 or s ~= 0)) then
  local reset = now
  if c > 0 then reset = cur + 2 * W elseif p > 0 then reset = cur + W end
  return {now, blocked, s, math.max(0, math.floor((L * W - used) / W)), reset, retry}
end
if op == 'f' then x = -x end
c = c + x
if c < 0 then
  p = math.max(0, p + c)
  c = 0
end
local reset = now
if c == 0 and p == 0 then
  redis.call('DEL', k)
else
  if c > 0 then reset = cur + 2 * W else reset = cur + W end
  local cs = '0'
  if c ~= 0 then cs = string.format('%.0f', c) end
  local ps = '0'
  if p ~= 0 then ps = string.format('%.0f', p) end
  redis.call('SET', k, string.format('%.0f', cur) .. ':' .. cs .. ':' .. ps, 'PX', string.format('%.0f', reset - now))
end
used = c * W + p * (W - e)
local rem = math.max(0, math.floor((L * W - used) / W))
if op == 'c' then return {now, blocked, 0, rem, reset, 0} end
local s1 = 0
local r1 = 0
if 1 > L then
  s1 = 3
  r1 = -1
elseif used + W > L * W then
  s1 = 1
  if c + 1 <= L then
    r1 = W - math.floor((L - c - 1) * W / p) - e
  else
    r1 = W - e + math.max(0, W - math.floor((L - 1) * W / c))
  end
end
if op == 'r' then
  if s == 0 then r1 = 0 end
  return {now, blocked, s, rem, reset, r1}
end
return {now, blocked, s1, rem, reset, r1}`;

/** The TypeScript body: the Lua body line by line. */
function slidingWindowBody(r: SyncCommands, keys: string[], args: string[]): LocalReply {
  const now = serverNow(r);
  const bl = r.pttl(keys[0] ?? '');
  const blocked = bl > 0 ? bl : bl === -1 ? -1 : 0;
  const op = args[0];
  let x = Number(args[1]);
  const L = Number(args[2]);
  const W = Number(args[3]);
  const k = keys[1] ?? '';
  const cur = now - (now % W);
  const e = now - cur;
  let c = 0;
  let p = 0;
  const stored = fields3(r.get(k));
  if (stored !== undefined) {
    if (stored[0] === cur) {
      c = stored[1];
      p = stored[2];
    } else if (stored[0] === cur - W) {
      p = stored[1];
    }
  }
  /** [status, retryAfterMs] of a cost against the counters. */
  const evaluate = (cost: number, used: number): [number, number] => {
    if (cost > L) return [3, -1];
    if (used + cost * W <= L * W) return [0, 0];
    return [
      1,
      c + cost <= L
        ? W - Math.floor(((L - c - cost) * W) / p) - e
        : W - e + Math.max(0, W - Math.floor(((L - cost) * W) / c)),
    ];
  };
  let used = c * W + p * (W - e);
  const [s, retry] = evaluate(x, used);
  if (op === 'p' || (op === 'c' && (blocked !== 0 || s !== 0))) {
    const reset = c > 0 ? cur + 2 * W : p > 0 ? cur + W : now;
    return [now, blocked, s, Math.max(0, Math.floor((L * W - used) / W)), reset, retry];
  }
  if (op === 'f') x = -x;
  c += x;
  if (c < 0) {
    p = Math.max(0, p + c);
    c = 0;
  }
  let reset = now;
  if (c === 0 && p === 0) r.del(k);
  else {
    reset = c > 0 ? cur + 2 * W : cur + W;
    r.set(k, `${int(cur)}:${int(c)}:${int(p)}`, { ttlMs: reset - now });
  }
  used = c * W + p * (W - e);
  const rem = Math.max(0, Math.floor((L * W - used) / W));
  if (op === 'c') return [now, blocked, 0, rem, reset, 0];
  const [s1, r1] = evaluate(1, used);
  if (op === 'r') return [now, blocked, s, rem, reset, s === 0 ? 0 : r1];
  return [now, blocked, s1, rem, reset, r1];
}

/** The sliding-window-counter decision script: straight-line, one rule (the composite script runs the fragments above). */
export const slidingWindowScript: Script<ScriptOutcome> = defineScript<ScriptOutcome>({
  name: 'ratelimit.sliding-window',
  keys: 2,
  lua: LUA,
  local: slidingWindowBody,
  decode: decodeOutcome,
});
