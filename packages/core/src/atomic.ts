import type { Backend } from './backend.js';
import { defineScript } from './script.js';
import { assertInteger, assertKey, assertString, assertTtl } from './validate.js';

/*
 * The seed's atomic helpers, as scripts with a Lua and a local body.
 * TTL convention: with ttlMs the new value gets that TTL; without it the
 * key keeps the TTL it had (KEEPTTL), so a compare-and-set never silently
 * makes a key immortal or mortal.
 */

export const compareAndSetScript = defineScript<boolean>({
  name: 'core.compare-and-set',
  keys: 1,
  lua: `--[[ core.compare-and-set
  KEYS[1]  the key
  ARGV[1]  'v' when ARGV[2] is the expected value, 'n' when the key must be absent
  ARGV[2]  expected value
  ARGV[3]  new value
  ARGV[4]  ttl in ms, or '' to keep the current TTL
  returns  1 written, 0 the current value did not match ]]
local cur = redis.call('get', KEYS[1])
if ARGV[1] == 'n' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
if ARGV[4] == '' then
  redis.call('set', KEYS[1], ARGV[3], 'KEEPTTL')
else
  redis.call('set', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1`,
  local(r, [k], [mode, expected, next, ttl]) {
    const key = k as string;
    const cur = r.get(key);
    if (mode === 'n' ? cur !== null : cur !== expected) return 0;
    if (ttl === '') r.set(key, next as string, { keepTtl: true });
    else r.set(key, next as string, { ttlMs: Number(ttl) });
    return 1;
  },
  decode: (reply) => reply === 1,
});

export const compareAndDeleteScript = defineScript<boolean>({
  name: 'core.compare-and-delete',
  keys: 1,
  lua: `--[[ core.compare-and-delete
  KEYS[1]  the key
  ARGV[1]  expected value
  returns  1 deleted, 0 the value did not match (or the key is absent) ]]
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`,
  local: (r, [k], [expected]) => (r.get(k as string) === expected ? r.del(k as string) : 0),
  decode: (reply) => reply === 1,
});

export const getAndSetScript = defineScript<string | null>({
  name: 'core.get-and-set',
  keys: 1,
  lua: `--[[ core.get-and-set
  KEYS[1]  the key
  ARGV[1]  new value
  ARGV[2]  ttl in ms, or '' to keep the current TTL
  returns  the previous value, or nil ]]
local old = redis.call('get', KEYS[1])
if ARGV[2] == '' then
  redis.call('set', KEYS[1], ARGV[1], 'KEEPTTL')
else
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return old`,
  local(r, [k], [value, ttl]) {
    const key = k as string;
    const old = r.get(key);
    if (ttl === '') r.set(key, value as string, { keepTtl: true });
    else r.set(key, value as string, { ttlMs: Number(ttl) });
    return old;
  },
  decode: (reply) => (typeof reply === 'string' ? reply : null),
});

export const incrementWithTtlScript = defineScript<number>({
  name: 'core.increment-with-ttl',
  keys: 1,
  lua: `--[[ core.increment-with-ttl
  KEYS[1]  the counter key
  ARGV[1]  increment (integer)
  ARGV[2]  ttl in ms, applied when the counter has no TTL (new, or made without one)
  returns  the new value ]]
local v = redis.call('incrby', KEYS[1], ARGV[1])
if redis.call('pttl', KEYS[1]) == -1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return v`,
  local(r, [k], [by, ttl]) {
    const key = k as string;
    const v = r.incrBy(key, Number(by));
    if (r.pttl(key) === -1) r.pexpire(key, Number(ttl));
    return v;
  },
  decode: (reply) => reply as number,
});

/**
 * Writes `next` only if the key holds `expected` (`null`: only if absent).
 * Without `ttlMs` the key keeps its TTL. Returns true when written.
 */
export function compareAndSet(
  backend: Backend,
  key: string,
  expected: string | null,
  next: string,
  options: { ttlMs?: number } = {},
): Promise<boolean> {
  assertKey(key);
  if (expected !== null) assertString(expected, 'expected');
  assertString(next, 'next');
  if (options.ttlMs !== undefined) assertTtl(options.ttlMs);
  return backend.run(
    compareAndSetScript,
    [key],
    [
      expected === null ? 'n' : 'v',
      expected ?? '',
      next,
      options.ttlMs === undefined ? '' : options.ttlMs,
    ],
  );
}

/** Deletes the key only if it holds `expected`. Returns true when deleted. */
export function compareAndDelete(
  backend: Backend,
  key: string,
  expected: string,
): Promise<boolean> {
  assertKey(key);
  assertString(expected, 'expected');
  return backend.run(compareAndDeleteScript, [key], [expected]);
}

/** Sets a new value and returns the previous one (null if none). Without `ttlMs` the TTL is kept. */
export function getAndSet(
  backend: Backend,
  key: string,
  value: string,
  options: { ttlMs?: number } = {},
): Promise<string | null> {
  assertKey(key);
  assertString(value, 'value');
  if (options.ttlMs !== undefined) assertTtl(options.ttlMs);
  return backend.run(
    getAndSetScript,
    [key],
    [value, options.ttlMs === undefined ? '' : options.ttlMs],
  );
}

/** Increments an integer counter; a counter without TTL gets `ttlMs`. Returns the new value. */
export function incrementWithTtl(
  backend: Backend,
  key: string,
  by: number,
  ttlMs: number,
): Promise<number> {
  assertKey(key);
  assertInteger(by, 'by');
  assertTtl(ttlMs);
  return backend.run(incrementWithTtlScript, [key], [by, ttlMs]);
}
