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
 * Token bucket: a bucket of `limit` tokens (the burst) that gains
 * `refillAmount` tokens every `refillIntervalMs`, counted from the last
 * refill (or from the first request out of a full bucket). A request takes
 * `cost` tokens when it has them. Exact: from a full bucket, at most
 * `limit + refills × refillAmount` units in any period.
 *
 * State (string `<t>:<r>`): t = tokens (negative after record/penalty
 * overdraws), r = time of the last refill (Unix ms). A full bucket is no
 * key at all: the TTL is the moment the bucket would be full again. One GET
 * and one SET (or DEL) per decision.
 */

export const tokenBucketLua: LuaAlgorithm = {
  code: 'tb',
  lua: `
A.tb = {n = 1}
function A.tb.load(k, now, P)
  local cap, amt, iv = tonumber(P[1]), tonumber(P[2]), tonumber(P[3])
  local t, r = fields2(redis.call('GET', k[1]))
  if t == nil then return {t = cap, r = now} end
  if now > r then
    local n = math.floor((now - r) / iv)
    if n > 0 then
      t = t + n * amt
      r = r + n * iv
    end
  end
  if t >= cap then
    t = cap
    r = now
  end
  return {t = t, r = r}
end
function A.tb.eval(k, st, now, P, cost)
  local cap, amt, iv = tonumber(P[1]), tonumber(P[2]), tonumber(P[3])
  local rem = math.max(0, st.t)
  local reset = now
  if st.t < cap then reset = st.r + math.ceil((cap - st.t) / amt) * iv end
  if cost > cap then return {3, rem, reset, -1} end
  if st.t >= cost then return {0, rem, reset, 0} end
  return {1, rem, reset, st.r + math.ceil((cost - st.t) / amt) * iv - now}
end
function A.tb.apply(k, st, now, P, cost)
  local cap, amt, iv = tonumber(P[1]), tonumber(P[2]), tonumber(P[3])
  st.t = math.min(cap, st.t - cost)
  if st.t >= cap then
    st.r = now
    redis.call('DEL', k[1])
    return
  end
  local ttl = st.r + math.ceil((cap - st.t) / amt) * iv - now
  redis.call('SET', k[1], int(st.t) .. ':' .. int(st.r), 'PX', int(ttl))
end
`,
};

export const tokenBucketLocal: LocalAlgorithm = {
  code: 'tb',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const cap = Number(P[0]);
    const amt = Number(P[1]);
    const iv = Number(P[2]);
    const stored = fields2(r.get(key));
    const st = { t: cap, r: now };
    if (stored !== undefined) {
      st.t = stored[0];
      st.r = stored[1];
      if (now > st.r) {
        const n = Math.floor((now - st.r) / iv);
        if (n > 0) {
          st.t += n * amt;
          st.r += n * iv;
        }
      }
      if (st.t >= cap) {
        st.t = cap;
        st.r = now;
      }
    }
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, st.t);
        const reset = st.t < cap ? st.r + Math.ceil((cap - st.t) / amt) * iv : now;
        if (cost > cap) return [3, rem, reset, -1];
        if (st.t >= cost) return [0, rem, reset, 0];
        return [1, rem, reset, st.r + Math.ceil((cost - st.t) / amt) * iv - now];
      },
      apply(cost) {
        st.t = Math.min(cap, st.t - cost);
        if (st.t >= cap) {
          st.r = now;
          r.del(key);
          return;
        }
        const ttl = st.r + Math.ceil((cap - st.t) / amt) * iv - now;
        r.set(key, `${int(st.t)}:${int(st.r)}`, { ttlMs: ttl });
      },
    };
  },
};

/** The token-bucket decision script. */
export const tokenBucketScript = algorithmScript(
  'ratelimit.token-bucket',
  `--[[ ratelimit.token-bucket
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  bucket (string '<tokens>:<last refill ms>'; absent = full; TTL = when it is
           full again)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in tokens (integer >= 1)
  ARGV[3]  capacity (tokens)
  ARGV[4]  tokens added per refill
  ARGV[5]  refill interval in ms
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > capacity), remaining, resetAt ms, retryAfter ms (-1 never)} ]]`,
  tokenBucketLua,
  tokenBucketLocal,
);
