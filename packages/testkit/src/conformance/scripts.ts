import { defineScript, type LocalReply, type ScriptReply } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode, expectValidation, T } from './context.js';

/*
 * Small scripts with both bodies. They are what the suite runs: the Lua
 * body on Redis, the local body in memory — and both must give the same
 * replies.
 */

const replyShapes = defineScript({
  name: 'testkit.conformance.reply-shapes',
  keys: 0,
  lua: `--[[ testkit.conformance.reply-shapes
  ARGV[1]  which Lua value to return
  ARGV[2]  echoed back for 'echo'
  returns  that value, as Redis converts it ]]
local w = ARGV[1]
if w == 'float' then return 3.99 end
if w == 'negative-float' then return -2.5 end
if w == 'true' then return true end
if w == 'false' then return false end
if w == 'nil' then return nil end
if w == 'array' then return {1, 'two', 3.7, true, false, 'after false'} end
if w == 'stops-at-nil' then return {'a', 'b', nil, 'c'} end
if w == 'nested' then return {{1, 2}, {'x', {'y'}}, {}} end
return ARGV[2]`,
  local(_r, _keys, [which, echo]): LocalReply {
    switch (which) {
      case 'float':
        return 3.99;
      case 'negative-float':
        return -2.5;
      case 'true':
        return true;
      case 'false':
        return false;
      case 'nil':
        return null;
      case 'array':
        return [1, 'two', 3.7, true, false, 'after false'];
      case 'stops-at-nil':
        return ['a', 'b', null, 'c'];
      case 'nested':
        return [[1, 2], ['x', ['y']], []];
      default:
        return echo ?? null;
    }
  },
});

const bump = defineScript<{ value: number; hasTtl: boolean }>({
  name: 'testkit.conformance.bump',
  keys: 1,
  lua: `--[[ testkit.conformance.bump
  KEYS[1]  a counter
  ARGV[1]  increment
  ARGV[2]  ttl in ms, set when the counter has none
  returns  {new value, 1 when the counter has a TTL} ]]
local v = redis.call('incrby', KEYS[1], ARGV[1])
if redis.call('pttl', KEYS[1]) == -1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return {v, redis.call('pttl', KEYS[1]) > 0}`,
  local(r, [key], [by, ttl]) {
    const k = key as string;
    const v = r.incrBy(k, Number(by));
    if (r.pttl(k) === -1) r.pexpire(k, Number(ttl));
    return [v, r.pttl(k) > 0];
  },
  decode(reply: ScriptReply) {
    const [value, hasTtl] = reply as [number, number | null];
    return { value, hasTtl: hasTtl === 1 };
  },
});

const move = defineScript<string | null>({
  name: 'testkit.conformance.move',
  keys: 2,
  lua: `--[[ testkit.conformance.move
  KEYS[1]  source string
  KEYS[2]  destination
  returns  the moved value, or nil when the source is missing ]]
local v = redis.call('get', KEYS[1])
if not v then return false end
redis.call('set', KEYS[2], v)
redis.call('del', KEYS[1])
return v`,
  local(r, [from, to]) {
    const v = r.get(from as string);
    if (v === null) return false;
    r.set(to as string, v);
    r.del(from as string);
    return v;
  },
  decode: (reply) => (typeof reply === 'string' ? reply : null),
});

const fail = defineScript({
  name: 'testkit.conformance.fail',
  keys: 1,
  lua: `--[[ testkit.conformance.fail
  KEYS[1]  a key
  ARGV[1]  'wrongtype' (INCR on it), 'not-integer' (INCRBY on it) or anything else (raise)
  returns  never; it fails ]]
if ARGV[1] == 'wrongtype' or ARGV[1] == 'not-integer' then return redis.call('incrby', KEYS[1], 1) end
error('boom')`,
  local(r, [key], [how]) {
    if (how === 'wrongtype' || how === 'not-integer') return r.incrBy(key as string, 1);
    throw new Error('boom');
  },
});

const serverTime = defineScript<number>({
  name: 'testkit.conformance.time',
  keys: 0,
  lua: `--[[ testkit.conformance.time
  returns  {seconds, microseconds} of the server clock, as strings ]]
local t = redis.call('time')
return {t[1], t[2]}`,
  local(r) {
    const ms = r.time();
    return [String(Math.floor(ms / 1000)), String(Math.floor((ms % 1000) * 1000))];
  },
  decode(reply) {
    const [seconds, micros] = reply as [string, string];
    return Number(seconds) * 1000 + Number(micros) / 1000;
  },
});

export function scriptTests(ctx: ConformanceContext): void {
  describe('scripts', () => {
    it('normalises replies like Redis: floats truncated, true → 1, false → nil, arrays stop at nil', async () => {
      const b = ctx.fresh();
      const run = (which: string, echo = '') => b.run(replyShapes, [], [which, echo]);
      expect(await run('float')).toBe(3);
      expect(await run('negative-float')).toBe(-2);
      expect(await run('true')).toBe(1);
      expect(await run('false')).toBeNull();
      expect(await run('nil')).toBeNull();
      expect(await run('array')).toEqual([1, 'two', 3, 1, null, 'after false']);
      expect(await run('stops-at-nil')).toEqual(['a', 'b']);
      expect(await run('nested')).toEqual([[1, 2], ['x', ['y']], []]);
      expect(await run('echo', 'ünï 😀')).toBe('ünï 😀');
    });

    it('runs on the view keys and decodes the reply; ARGV are strings', async () => {
      const b = ctx.fresh();
      expect(await b.run(bump, ['counter'], [5, 60_000])).toEqual({ value: 5, hasTtl: true });
      expect(await b.run(bump, ['counter'], ['-2', '60000'])).toEqual({ value: 3, hasTtl: true });
      expect(await b.get('counter')).toBe('3');
      const ttl = await b.pttl('counter');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('is atomic: concurrent runs never lose an update', async () => {
      const b = ctx.fresh();
      await Promise.all(Array.from({ length: 50 }, () => b.run(bump, ['n'], [1, 60_000])));
      expect(await b.get('n')).toBe('50');
    });

    it('touches several keys of one hash slot in one step', async () => {
      const b = ctx.fresh();
      await b.set(`${T}from`, 'payload');
      expect(await b.run(move, [`${T}from`, `${T}to`])).toBe('payload');
      expect(await b.mget(`${T}from`, `${T}to`)).toEqual([null, 'payload']);
      expect(await b.run(move, [`${T}from`, `${T}to`])).toBeNull();
    });

    it('checks the key count and the arguments before running', async () => {
      const b = ctx.fresh();
      await expectValidation(() => b.run(bump, [], [1, 1000]), 'keys', /key/);
      await expectValidation(() => b.run(bump, [`${T}a`, `${T}b`], [1, 1000]), 'keys', /key/);
      await expectValidation(() => b.run(move, [`${T}a`], []), 'keys', /key/);
      await expectValidation(() => b.run(bump, ['k'], [Number.NaN, 1000]), 'args[0]', /argument 0/);
      await expectValidation(
        () => b.run(bump, ['k'], [1, Number.POSITIVE_INFINITY]),
        'args[1]',
        /argument 1/,
      );
      expect(await b.exists('k')).toBe(0);
    });

    it('an error inside the body fails the run: SCRIPT, or WRONGTYPE for a wrong type', async () => {
      const b = ctx.fresh();
      await b.hset('h', { f: 'v' });
      await b.set('s', 'text');
      await expectCode(() => b.run(fail, ['h'], ['wrongtype']), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.run(fail, ['s'], ['not-integer']), 'SCRIPT', /not an integer/);
      await expectCode(() => b.run(fail, ['s'], ['raise']), 'SCRIPT', /boom/);
      expect(await b.get('s')).toBe('text');
    });

    it('reads the time from the server clock', async () => {
      const b = ctx.fresh();
      const serverNow = await b.run(serverTime, []);
      expect(Math.abs(serverNow - Date.now())).toBeLessThan(5 * 60_000);
      const backendNow = await b.time();
      expect(Math.abs(backendNow - serverNow)).toBeLessThan(60_000);
    });
  });
}
