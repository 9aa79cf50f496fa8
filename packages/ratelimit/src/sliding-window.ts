import type { SyncCommands } from '@redbrick/core';
import {
  algorithmScript,
  type Evaluation,
  fields3,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
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

/** The sliding-window-counter decision script. */
export const slidingWindowScript = algorithmScript(
  'ratelimit.sliding-window',
  `--[[ ratelimit.sliding-window
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  counters (string '<current window start ms>:<units in it>:<units in the previous
           window>'; TTL = when both have slid out)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  limit (units per window)
  ARGV[4]  window in ms (windows are aligned to the epoch)
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > limit), remaining, resetAt ms, retryAfter ms (-1 never)} ]]`,
  slidingWindowLua,
  slidingWindowLocal,
);
