import type { SyncCommands, ZMember } from '@redbrick/core';
import {
  algorithmScript,
  type Evaluation,
  int,
  type Loaded,
  type LocalAlgorithm,
  type LuaAlgorithm,
} from './engine.js';

/*
 * Sliding log (exact): every admitted unit is an entry in a sorted set,
 * scored by its server time; a request is allowed when the entries of the
 * last `windowMs` plus its cost fit in `limit`. Never more than `limit`
 * units in any interval of `windowMs`. Memory: one entry per unit in the
 * window (at most `limit` from decisions; `record`/`penalty` can add more).
 *
 * State: a zset (member = sequence number, score = Unix ms) and a sequence
 * counter that keeps members unique. Both expire when the newest entry has
 * slid out of the window.
 */

/** ZADD/ZREM in slices, so a large cost never exceeds Lua's unpack limit. */
const CHUNK = 500;

export const slidingLogLua: LuaAlgorithm = {
  code: 'sl',
  lua: `
A.sl = {n = 2}
local function sl_score(key, i)
  local v = redis.call('ZRANGE', key, i, i, 'WITHSCORES')
  return tonumber(v[2])
end
function A.sl.load(k, now, P)
  local W = tonumber(P[2])
  redis.call('ZREMRANGEBYSCORE', k[1], '-inf', int(now - W))
  return {n = redis.call('ZCARD', k[1])}
end
function A.sl.eval(k, st, now, P, cost)
  local L, W = tonumber(P[1]), tonumber(P[2])
  local rem = math.max(0, L - st.n)
  local reset = now
  if st.n > 0 then reset = sl_score(k[1], st.n - 1) + W end
  if cost > L then return {3, rem, reset, -1} end
  if st.n + cost <= L then return {0, rem, reset, 0} end
  return {1, rem, reset, sl_score(k[1], st.n + cost - L - 1) + W - now}
end
function A.sl.apply(k, st, now, P, cost)
  local W = tonumber(P[2])
  if cost > 0 then
    local last = redis.call('INCRBY', k[2], int(cost))
    local i = last - cost + 1
    local score = int(now)
    while i <= last do
      local args = {}
      local j = 0
      while i <= last and j < ${CHUNK} do
        args[#args + 1] = score
        args[#args + 1] = int(i)
        i = i + 1
        j = j + 1
      end
      redis.call('ZADD', k[1], unpack(args))
    end
    st.n = st.n + cost
  elseif cost < 0 then
    local r = math.min(st.n, -cost)
    while r > 0 do
      local m = math.min(r, ${CHUNK})
      local members = redis.call('ZRANGE', k[1], st.n - m, st.n - 1)
      redis.call('ZREM', k[1], unpack(members))
      st.n = st.n - m
      r = r - m
    end
  end
  if st.n == 0 then
    redis.call('DEL', k[1], k[2])
    return
  end
  local ttl = int(sl_score(k[1], st.n - 1) + W - now)
  redis.call('PEXPIRE', k[1], ttl)
  redis.call('PEXPIRE', k[2], ttl)
end
`,
};

function scoreAt(r: SyncCommands, key: string, index: number): number {
  const [entry] = r.zrangeByScore(key, '-inf', '+inf', {
    offset: index,
    count: 1,
    withScores: true,
  });
  return entry ? entry.score : Number.NaN;
}

export const slidingLogLocal: LocalAlgorithm = {
  code: 'sl',
  keys: 2,
  load(r: SyncCommands, [key = '', seqKey = ''], now, P): Loaded {
    const L = Number(P[0]);
    const W = Number(P[1]);
    r.zremRangeByScore(key, '-inf', now - W);
    const st = { n: r.zcard(key) };
    return {
      eval(cost): Evaluation {
        const rem = Math.max(0, L - st.n);
        const reset = st.n > 0 ? scoreAt(r, key, st.n - 1) + W : now;
        if (cost > L) return [3, rem, reset, -1];
        if (st.n + cost <= L) return [0, rem, reset, 0];
        return [1, rem, reset, scoreAt(r, key, st.n + cost - L - 1) + W - now];
      },
      apply(cost) {
        if (cost > 0) {
          const last = r.incrBy(seqKey, cost);
          let i = last - cost + 1;
          while (i <= last) {
            const members: ZMember[] = [];
            for (let j = 0; i <= last && j < CHUNK; j++, i++) {
              members.push({ member: int(i), score: now });
            }
            r.zadd(key, members);
          }
          st.n += cost;
        } else if (cost < 0) {
          let left = Math.min(st.n, -cost);
          while (left > 0) {
            const m = Math.min(left, CHUNK);
            const members = r.zrangeByScore(key, '-inf', '+inf', { offset: st.n - m, count: m });
            r.zrem(key, ...members);
            st.n -= m;
            left -= m;
          }
        }
        if (st.n === 0) {
          r.del(key, seqKey);
          return;
        }
        const ttl = scoreAt(r, key, st.n - 1) + W - now;
        r.pexpire(key, ttl);
        r.pexpire(seqKey, ttl);
      },
    };
  },
};

/** The sliding-log decision script. */
export const slidingLogScript = algorithmScript(
  'ratelimit.sliding-log',
  `--[[ ratelimit.sliding-log
  KEYS[1]  block marker (string with a TTL; present = blocked)
  KEYS[2]  log (zset: one member per admitted unit, score = server time in Unix ms)
  KEYS[3]  sequence (string counter that makes members unique)
  ARGV[1]  op: c = consume if allowed, p = peek, r = record (consume without deciding), f = refund
  ARGV[2]  cost in units (integer >= 1)
  ARGV[3]  limit (units in any window)
  ARGV[4]  window in ms
  ARGV[5]  unused
  returns  {now ms, blocked ms (0 no, -1 without expiry), status (0 allowed, 1 limited,
           3 cost > limit), remaining, resetAt ms, retryAfter ms (-1 never)} ]]`,
  slidingLogLua,
  slidingLogLocal,
);
