import {
  defineScript,
  isRedbrickError,
  type LocalReply,
  type Script,
  type ScriptReply,
  type SyncCommands,
} from '@redbrick/core';
import {
  type Evaluation,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
  num,
  type ScriptOutcome,
} from './engine.js';

/*
 * Fixed window: a window of `windowMs` opens at the first request and counts
 * units; once it has passed, the next request opens a new one. Exact: never
 * more than `limit` units per window. Bursts: up to 2 × limit across the
 * boundary of two windows.
 *
 * State (string): the units used, a positive integer; its TTL is the end of
 * the window, so the window lives in the server's expiry and the algorithm
 * reads no clock. Anything else at the key (no TTL, not a positive integer)
 * is no window. A decision is `INCRBY` (+ `PEXPIRE` when it opens a window,
 * else `PTTL` for the reset time), plus `PTTL` of the block marker; a denial
 * gives its units back with `DECRBY` in the same script run.
 */

/** The fixed-window rule of the composite script (same state as the fixed-window script). */
export const fixedWindowLua: LuaAlgorithm = {
  code: 'fw',
  lua: `
A.fw = {n = 1}
function A.fw.load(k, now, P)
  local n = num(redis.call('GET', k[1]))
  if n == nil then return {n = 0, t = 0} end
  local t = redis.call('PTTL', k[1])
  if n <= 0 or t <= 0 then return {n = 0, t = 0} end
  return {n = n, t = t}
end
function A.fw.eval(k, st, now, P, cost)
  local L = tonumber(P[1])
  local rem = math.max(0, L - st.n)
  local reset = now + st.t
  if cost > L then return {3, rem, reset, -1} end
  if st.n + cost <= L then return {0, rem, reset, 0} end
  return {1, rem, reset, st.t}
end
function A.fw.apply(k, st, now, P, cost)
  if st.n == 0 then st.t = tonumber(P[2]) end
  st.n = st.n + cost
  if st.n <= 0 then
    st.n = 0
    st.t = 0
    redis.call('DEL', k[1])
    return
  end
  redis.call('SET', k[1], int(st.n), 'PX', int(st.t))
end
`,
};

export const fixedWindowLocal: LocalAlgorithm = {
  code: 'fw',
  keys: 1,
  load(r: SyncCommands, [key = ''], now, P): Loaded {
    const L = Number(P[0]);
    const W = Number(P[1]);
    const st = { n: 0, t: 0 };
    const n = num(r.get(key));
    if (n !== undefined) {
      const t = r.pttl(key);
      if (n > 0 && t > 0) {
        st.n = n;
        st.t = t;
      }
    }
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, L - st.n);
        const reset = now + st.t;
        if (cost > L) return [3, rem, reset, -1];
        if (st.n + cost <= L) return [0, rem, reset, 0];
        return [1, rem, reset, st.t];
      },
      apply(cost) {
        if (st.n === 0) st.t = W;
        st.n += cost;
        if (st.n <= 0) {
          st.n = 0;
          st.t = 0;
          r.del(key);
          return;
        }
        r.set(key, int(st.n), { ttlMs: st.t });
      },
    };
  },
};

const LUA = `--[[ ratelimit.fixed-window
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  window (string: units used, a positive integer; TTL = end of the window)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  limit (units per window)
  ARGV[4]  window in ms
  returns  {blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited, 3 cost > limit),
           remaining, ms until the window ends (0: no window), retryAfter ms (-1 never)},
           or just {remaining, ms until the window ends} when a consume is allowed
  Reads no clock: every time is relative to the call. ]]
local b = redis.call('PTTL', KEYS[1])
if b == -2 then b = 0 end
local op = ARGV[1]
local c = tonumber(ARGV[2])
local L = tonumber(ARGV[3])
local W = tonumber(ARGV[4])
local k = KEYS[2]
if op == 'c' and b == 0 and c <= L then
  local n = redis.pcall('INCRBY', k, ARGV[2])
  local t = W
  if type(n) == 'table' then
    if string.sub(n.err, 1, 9) == 'WRONGTYPE' then return n end
    redis.call('SET', k, ARGV[2], 'PX', ARGV[4])
    n = c
  elseif n == c then
    redis.call('PEXPIRE', k, ARGV[4])
  elseif n < c then
    redis.call('SET', k, ARGV[2], 'PX', ARGV[4])
    n = c
  else
    t = redis.call('PTTL', k)
    if t <= 0 then
      redis.call('SET', k, ARGV[2], 'PX', ARGV[4])
      n = c
      t = W
    elseif n > L then
      redis.call('DECRBY', k, ARGV[2])
      return {0, 1, math.max(0, L - n + c), t, t}
    end
  end
  return {L - n, t}
end
local n = 0
local t = 0
local v = redis.call('GET', k)
if v and string.match(v, '^%-?%d+$') then
  n = tonumber(v)
  t = redis.call('PTTL', k)
  if n <= 0 or t <= 0 then
    n = 0
    t = 0
  end
end
local s = 0
if c > L then s = 3 elseif n + c > L then s = 1 end
if op == 'p' or (op == 'c' and (b ~= 0 or s ~= 0)) then
  local retry = 0
  if s == 3 then retry = -1 elseif s == 1 then retry = t end
  return {b, s, math.max(0, L - n), t, retry}
end
if op == 'f' then c = -c end
if n == 0 then t = W end
n = n + c
if n <= 0 then
  redis.call('DEL', k)
  return {b, 0, L, 0, 0}
end
redis.call('SET', k, string.format('%d', n), 'PX', t)
if op == 'f' then
  s = 0
  if n + 1 > L then s = 1 end
elseif op == 'c' then
  s = 0
end
local retry = 0
if s ~= 0 then retry = t end
return {b, s, math.max(0, L - n), t, retry}`;

/** The TypeScript body: the Lua body line by line, on the memory backend's synchronous commands. */
function fixedWindowBody(r: SyncCommands, keys: string[], args: string[]): LocalReply {
  const k = keys[1] ?? '';
  let b = r.pttl(keys[0] ?? '');
  if (b === -2) b = 0;
  const op = args[0];
  const cost = args[1] ?? '1';
  let c = Number(cost);
  const L = Number(args[2]);
  const window = args[3] ?? '0';
  const W = Number(window);
  if (op === 'c' && b === 0 && c <= L) {
    let n: number;
    let t = W;
    try {
      n = r.incrBy(k, c);
    } catch (error) {
      // INCRBY refuses a value that is not an integer (not our state): open a window
      if (!isRedbrickError(error, 'COMMAND')) throw error;
      n = Number.NaN;
    }
    if (Number.isNaN(n) || n < c) {
      r.set(k, cost, { ttlMs: W });
      n = c;
    } else if (n === c) {
      r.pexpire(k, W);
    } else {
      t = r.pttl(k);
      if (t <= 0) {
        r.set(k, cost, { ttlMs: W });
        n = c;
        t = W;
      } else if (n > L) {
        r.incrBy(k, -c);
        return [0, 1, Math.max(0, L - n + c), t, t];
      }
    }
    return [L - n, t];
  }
  let n = 0;
  let t = 0;
  const stored = num(r.get(k));
  if (stored !== undefined) {
    n = stored;
    t = r.pttl(k);
    if (n <= 0 || t <= 0) {
      n = 0;
      t = 0;
    }
  }
  let s = c > L ? 3 : n + c > L ? 1 : 0;
  if (op === 'p' || (op === 'c' && (b !== 0 || s !== 0))) {
    return [b, s, Math.max(0, L - n), t, s === 3 ? -1 : s === 1 ? t : 0];
  }
  if (op === 'f') c = -c;
  if (n === 0) t = W;
  n += c;
  if (n <= 0) {
    r.del(k);
    return [b, 0, L, 0, 0];
  }
  r.set(k, int(n), { ttlMs: t });
  if (op === 'f') s = n + 1 > L ? 1 : 0;
  else if (op === 'c') s = 0;
  return [b, s, Math.max(0, L - n), t, s !== 0 ? t : 0];
}

/**
 * The raw reply as numbers (what the limiter's hot path reads):
 * `[blocked, status, remaining, windowLeftMs, retryAfterMs]`, or
 * `[remaining, windowLeftMs]` for an allowed consume.
 */
export type FixedWindowReply = readonly number[];

function asReply(reply: ScriptReply): FixedWindowReply {
  return reply as unknown as FixedWindowReply;
}

/** Decodes a reply into an outcome whose times are anchored at `now` (Unix ms). */
export function fixedWindowOutcome(reply: FixedWindowReply, now: number): ScriptOutcome {
  const short = reply.length === 2;
  const b = short ? 0 : (reply[0] ?? 0);
  const status = short ? 0 : (reply[1] ?? 0);
  const remaining = (short ? reply[0] : reply[2]) ?? 0;
  const t = (short ? reply[1] : reply[3]) ?? 0;
  const retry = short ? 0 : (reply[4] ?? 0);
  return {
    now,
    blockedMs: b < 0 ? Number.POSITIVE_INFINITY : b,
    rules: [
      {
        status,
        remaining,
        resetAt: now + t,
        retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
      },
    ],
  };
}

/**
 * The fixed-window decision script. It reads no clock (the window is its
 * key's TTL on the server), so the decoded times are anchored at this
 * process' clock when the reply arrives.
 */
export const fixedWindowScript: Script<ScriptOutcome> = defineScript<ScriptOutcome>({
  name: 'ratelimit.fixed-window',
  keys: 2,
  lua: LUA,
  local: fixedWindowBody,
  decode: (reply) => fixedWindowOutcome(asReply(reply), Date.now()),
});

/** The same script (same body and SHA) with the raw reply, for the limiter's hot path. */
export const fixedWindowReplyScript: Script<FixedWindowReply> = defineScript<FixedWindowReply>({
  name: 'ratelimit.fixed-window.reply',
  keys: 2,
  lua: LUA,
  local: fixedWindowBody,
  decode: asReply,
});
