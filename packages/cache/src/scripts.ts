import { defineScript } from '@redbrick/core';

/**
 * Adds a key to a tag's key set and stretches the set's TTL to cover the
 * entry: the set lives at least as long as its longest-lived member, so
 * `invalidateTags` always finds every entry carrying the tag.
 */
export const tagAddScript = defineScript<number>({
  name: 'cache.tag-add',
  keys: 1,
  lua: `--[[ cache.tag-add
  KEYS[1]  the tag's key set
  ARGV[1]  TTL in ms the set must at least still have
  ARGV[2]  the entry key to add
  returns  1 when the key was new in the set, else 0 ]]
local added = redis.call('sadd', KEYS[1], ARGV[2])
local ttl = tonumber(ARGV[1])
local left = redis.call('pttl', KEYS[1])
if left < ttl then redis.call('pexpire', KEYS[1], ttl) end
return added`,
  local: (r, [set], [ttl, member]) => {
    const k = set as string;
    const added = r.sadd(k, member as string);
    const want = Number(ttl);
    const left = r.pttl(k);
    if (left < want) r.pexpire(k, want);
    return added;
  },
  decode: (reply) => Number(reply),
});

/**
 * Releases a single-flight lock only when it still holds this caller's token,
 * so a lock that expired and was taken by another process is never freed.
 */
export const unlockScript = defineScript<number>({
  name: 'cache.unlock',
  keys: 1,
  lua: `--[[ cache.unlock
  KEYS[1]  the lock key
  ARGV[1]  owner token
  returns  1 released, 0 not the owner ]]
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`,
  local: (r, [lock], [token]) => (r.get(lock as string) === token ? r.del(lock as string) : 0),
  decode: (reply) => Number(reply),
});
