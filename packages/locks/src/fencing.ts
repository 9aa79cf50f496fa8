import {
  assertInteger,
  assertKey,
  assertString,
  assertTtl,
  type Backend,
  defineScript,
} from '@redbrick/core';

/** The outcome of a {@link fencedWrite}. */
export interface FencedWriteResult {
  /** True when the value was written; false when a newer token had already written. */
  written: boolean;
  /** The highest fencing token the resource has accepted (this one when written). */
  fence: number;
}

/** A fenced resource's current value and the token that wrote it. */
export interface FencedValue {
  value: string;
  fence: number;
}

export const fencedWriteScript = defineScript<FencedWriteResult>({
  name: 'locks.fenced-write',
  keys: 1,
  lua: `--[[ locks.fenced-write
  KEYS[1]  the protected resource (hash: value, fence)
  ARGV[1]  the writer's fencing token (integer >= 0)
  ARGV[2]  the new value
  ARGV[3]  ttl in ms for the resource, or '' to keep its TTL
  returns  {1, fence}   written (a token equal to the stored one may write again);
           {0, highest} rejected: a newer token already wrote, nothing changed
  errors   when the stored fence is not a token (the key is not a fenced resource) ]]
local cur = redis.call('hget', KEYS[1], 'fence')
if cur then
  if not string.match(cur, '^%d+$') then
    return redis.error_reply('ERR the fence field of this key is not a fencing token')
  end
  if tonumber(cur) > tonumber(ARGV[1]) then return {0, tonumber(cur)} end
end
redis.call('hset', KEYS[1], 'value', ARGV[2], 'fence', ARGV[1])
if ARGV[3] ~= '' then redis.call('pexpire', KEYS[1], ARGV[3]) end
return {1, tonumber(ARGV[1])}`,
  local(r, [resource = ''], [fence = '', value = '', ttl = '']) {
    const cur = r.hget(resource, 'fence');
    if (cur !== null) {
      if (!/^\d+$/.test(cur)) {
        throw new Error('ERR the fence field of this key is not a fencing token');
      }
      if (Number(cur) > Number(fence)) return [0, Number(cur)];
    }
    r.hset(resource, { value, fence });
    if (ttl !== '') r.pexpire(resource, Number(ttl));
    return [1, Number(fence)];
  },
  decode(reply) {
    const [flag, fence] = Array.isArray(reply) ? reply : [];
    return { written: flag === 1, fence: typeof fence === 'number' ? fence : -1 };
  },
});

/**
 * Writes `value` to the protected resource `key` only if no holder with a
 * newer fencing token has written it yet — one atomic round trip on the
 * backend that holds the resource. A holder that was paused past its lease
 * (GC, VM migration, blocked event loop) and wakes up after another holder
 * took over is rejected here instead of overwriting newer data.
 *
 * The resource is a hash `{ value, fence }`; read it with {@link fencedRead}.
 * Without `ttlMs` the key keeps its TTL. Use one lock per resource.
 *
 * @example
 * await mutex.withLock('report', async ({ fence }) => {
 *   const { written } = await fencedWrite(backend, 'report:latest', fence, body);
 *   if (!written) throw new Error('a newer holder already wrote the report');
 * });
 */
export function fencedWrite(
  backend: Backend,
  key: string,
  fence: number,
  value: string,
  options: { ttlMs?: number } = {},
): Promise<FencedWriteResult> {
  try {
    assertKey(key, 'key', 'locks');
    assertInteger(fence, 'fence', { min: 0, pkg: 'locks' });
    assertString(value, 'value', 'locks');
    if (options.ttlMs !== undefined) assertTtl(options.ttlMs, 'ttlMs', 'locks');
    return backend.run(fencedWriteScript, [key], [fence, value, options.ttlMs ?? '']);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Reads a resource written with {@link fencedWrite}: its value and the token that wrote it, or null. */
export async function fencedRead(backend: Backend, key: string): Promise<FencedValue | null> {
  assertKey(key, 'key', 'locks');
  const [value, fence] = await backend.hmget(key, 'value', 'fence');
  if (value === null || value === undefined) return null;
  return { value, fence: Number(fence ?? -1) };
}
