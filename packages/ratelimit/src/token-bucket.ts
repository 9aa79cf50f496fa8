import { defineScript, type LocalReply, type Script, type SyncCommands } from '@redbrick/core';
import {
  decodeOutcome,
  type Evaluation,
  fields2,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
  type ScriptOutcome,
  serverNow,
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

const LUA = `--[[ ratelimit.token-bucket
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  bucket (string '<tokens>:<last refill ms>'; absent = full; TTL = when it is
           full again)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in tokens (integer >= 1)
  ARGV[3]  capacity (tokens)
  ARGV[4]  tokens added per refill
  ARGV[5]  refill interval in ms
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > capacity), remaining, resetAt ms, retryAfter ms (-1 never)} ]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bl = redis.call('PTTL', KEYS[1])
local blocked = 0
if bl > 0 then blocked = bl elseif bl == -1 then blocked = -1 end
local op = ARGV[1]
local c = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local amt = tonumber(ARGV[4])
local iv = tonumber(ARGV[5])
local k = KEYS[2]
local t = cap
local r = now
local v = redis.call('GET', k)
if v then
  local a, b = string.match(v, '^(%-?%d+):(%-?%d+)$')
  if a then
    t = tonumber(a)
    r = tonumber(b)
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
  end
end
local s = 0
local retry = 0
if c > cap then
  s = 3
  retry = -1
elseif t < c then
  s = 1
  retry = r + math.ceil((c - t) / amt) * iv - now
end
local reset = now
if op == 'p' or (op == 'c' and (blocked ~= 0 or s ~= 0)) then
  if t < cap then reset = r + math.ceil((cap - t) / amt) * iv end
  return {now, blocked, s, math.max(0, t), reset, retry}
end
local x = c
if op == 'f' then x = -c end
t = math.min(cap, t - x)
if t >= cap then
  r = now
  redis.call('DEL', k)
else
  reset = r + math.ceil((cap - t) / amt) * iv
  local ts = '0'
  if t ~= 0 then ts = string.format('%.0f', t) end
  redis.call('SET', k, ts .. ':' .. string.format('%.0f', r), 'PX', string.format('%.0f', reset - now))
end
if op == 'c' then return {now, blocked, 0, math.max(0, t), reset, 0} end
local s1 = 0
local r1 = 0
if 1 > cap then
  s1 = 3
  r1 = -1
elseif t < 1 then
  s1 = 1
  r1 = r + math.ceil((1 - t) / amt) * iv - now
end
if op == 'r' then
  if s == 0 then r1 = 0 end
  return {now, blocked, s, math.max(0, t), reset, r1}
end
return {now, blocked, s1, math.max(0, t), reset, r1}`;

/** The TypeScript body: the Lua body line by line. */
function tokenBucketBody(rc: SyncCommands, keys: string[], args: string[]): LocalReply {
  const now = serverNow(rc);
  const bl = rc.pttl(keys[0] ?? '');
  const blocked = bl > 0 ? bl : bl === -1 ? -1 : 0;
  const op = args[0];
  const c = Number(args[1]);
  const cap = Number(args[2]);
  const amt = Number(args[3]);
  const iv = Number(args[4]);
  const k = keys[1] ?? '';
  let t = cap;
  let r = now;
  const stored = fields2(rc.get(k));
  if (stored !== undefined) {
    t = stored[0];
    r = stored[1];
    if (now > r) {
      const n = Math.floor((now - r) / iv);
      if (n > 0) {
        t += n * amt;
        r += n * iv;
      }
    }
    if (t >= cap) {
      t = cap;
      r = now;
    }
  }
  let s = 0;
  let retry = 0;
  if (c > cap) {
    s = 3;
    retry = -1;
  } else if (t < c) {
    s = 1;
    retry = r + Math.ceil((c - t) / amt) * iv - now;
  }
  let reset = now;
  if (op === 'p' || (op === 'c' && (blocked !== 0 || s !== 0))) {
    if (t < cap) reset = r + Math.ceil((cap - t) / amt) * iv;
    return [now, blocked, s, Math.max(0, t), reset, retry];
  }
  t = Math.min(cap, t - (op === 'f' ? -c : c));
  if (t >= cap) {
    r = now;
    rc.del(k);
  } else {
    reset = r + Math.ceil((cap - t) / amt) * iv;
    rc.set(k, `${int(t)}:${int(r)}`, { ttlMs: reset - now });
  }
  if (op === 'c') return [now, blocked, 0, Math.max(0, t), reset, 0];
  let s1 = 0;
  let r1 = 0;
  if (1 > cap) {
    s1 = 3;
    r1 = -1;
  } else if (t < 1) {
    s1 = 1;
    r1 = r + Math.ceil((1 - t) / amt) * iv - now;
  }
  if (op === 'r') return [now, blocked, s, Math.max(0, t), reset, s === 0 ? 0 : r1];
  return [now, blocked, s1, Math.max(0, t), reset, r1];
}

/** The token-bucket decision script: straight-line, one rule (the composite script runs the fragments above). */
export const tokenBucketScript: Script<ScriptOutcome> = defineScript<ScriptOutcome>({
  name: 'ratelimit.token-bucket',
  keys: 2,
  lua: LUA,
  local: tokenBucketBody,
  decode: decodeOutcome,
});
