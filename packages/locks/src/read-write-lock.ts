import { defineScript, ValidationError } from '@redbrick/core';
import { LockNotAcquiredError, PKG } from './errors.js';
import { type ReadWriteLockKeys, readWriteLockKeys } from './key-layout.js';
import { Lease, type LeaseKind, runWithLease } from './lease.js';
import { mutexExtendScript } from './mutex.js';
import {
  type AcquireOptions,
  checkName,
  type LockServiceOptions,
  type ResolvedAcquireOptions,
  type ResolvedServiceOptions,
  resolveAcquireOptions,
  resolveServiceOptions,
} from './options.js';
import { newToken } from './owner-token.js';
import { semaphoreExtendScript } from './semaphore.js';
import {
  type AcquireReply,
  type Attempt,
  acquireOrWait,
  decodeAcquireReply,
  LUA_NOTIFY,
  LUA_NOW_MS,
} from './waiting.js';
import { WAKE_ALL, Wakeups } from './wakeups.js';

export const readAcquireScript = defineScript<AcquireReply>({
  name: 'locks.rwlock.read-acquire',
  keys: 4,
  lua: `--[[ locks.rwlock.read-acquire
  KEYS[1]  the writer (string: writer token, PX ttl)
  KEYS[2]  the readers (zset: reader lease id -> lease expiry, ms since the epoch, server clock)
  KEYS[3]  the writer intent (string: a waiting writer's token, PX): new readers queue behind it
  KEYS[4]  the fencing counter
  ARGV[1]  reader lease id
  ARGV[2]  ttl in ms
  returns  {1, fence} acquired, or renewed when this id reads already (same fence);
           {0, wait}  a writer holds the lock or waits for it: ms until its lease or intent runs out ]]
${LUA_NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[2], '-inf', now)
if redis.call('zscore', KEYS[2], ARGV[1]) then
  redis.call('zadd', KEYS[2], now + ttl, ARGV[1])
  if redis.call('pttl', KEYS[2]) < ttl then redis.call('pexpire', KEYS[2], ttl) end
  return {1, redis.call('incrby', KEYS[4], 0)}
end
if redis.call('exists', KEYS[1]) == 1 then return {0, redis.call('pttl', KEYS[1])} end
if redis.call('exists', KEYS[3]) == 1 then return {0, redis.call('pttl', KEYS[3])} end
local fence = redis.call('incr', KEYS[4])
redis.call('zadd', KEYS[2], now + ttl, ARGV[1])
if redis.call('pttl', KEYS[2]) < ttl then redis.call('pexpire', KEYS[2], ttl) end
return {1, fence}`,
  local(r, [writer = '', readers = '', intent = '', fence = ''], [id = '', ttlArg = '']) {
    const now = Math.floor(r.time());
    const ttl = Number(ttlArg);
    r.zremRangeByScore(readers, '-inf', now);
    if (r.zscore(readers, id) !== null) {
      r.zadd(readers, { member: id, score: now + ttl });
      if (r.pttl(readers) < ttl) r.pexpire(readers, ttl);
      return [1, r.incrBy(fence, 0)];
    }
    if (r.exists(writer) === 1) return [0, r.pttl(writer)];
    if (r.exists(intent) === 1) return [0, r.pttl(intent)];
    const next = r.incrBy(fence, 1);
    r.zadd(readers, { member: id, score: now + ttl });
    if (r.pttl(readers) < ttl) r.pexpire(readers, ttl);
    return [1, next];
  },
  decode: decodeAcquireReply,
});

export const writeAcquireScript = defineScript<AcquireReply>({
  name: 'locks.rwlock.write-acquire',
  keys: 4,
  lua: `--[[ locks.rwlock.write-acquire
  KEYS[1]  the writer (string: writer token, PX ttl)
  KEYS[2]  the readers (zset: reader lease id -> lease expiry, ms, server clock)
  KEYS[3]  the writer intent (string: a waiting writer's token, PX)
  KEYS[4]  the fencing counter
  ARGV[1]  writer token
  ARGV[2]  ttl in ms
  ARGV[3]  how long to hold back new readers while this writer waits, in ms; 0 = do not
  returns  {1, fence} acquired, or already held by this token (ttl renewed, same fence);
           {0, wait}  held by a writer, or by readers, or another writer waits first:
                      ms until the blocking lease (or intent) runs out ]]
${LUA_NOW_MS}
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, redis.call('incrby', KEYS[4], 0)}
end
local intent = redis.call('get', KEYS[3])
local announce = tonumber(ARGV[3]) > 0 and (not intent or intent == ARGV[1])
if cur then
  if announce then redis.call('set', KEYS[3], ARGV[1], 'PX', ARGV[3]) end
  return {0, redis.call('pttl', KEYS[1])}
end
redis.call('zremrangebyscore', KEYS[2], '-inf', now)
local first = redis.call('zrangebyscore', KEYS[2], '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if first[1] then
  if announce then redis.call('set', KEYS[3], ARGV[1], 'PX', ARGV[3]) end
  return {0, tonumber(first[2]) - now}
end
if intent and intent ~= ARGV[1] then return {0, redis.call('pttl', KEYS[3])} end
local fence = redis.call('incr', KEYS[4])
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
if intent then redis.call('del', KEYS[3]) end
return {1, fence}`,
  local(
    r,
    [writer = '', readers = '', intentKey = '', fence = ''],
    [token = '', ttl = '', intentMs = ''],
  ) {
    const now = Math.floor(r.time());
    const cur = r.get(writer);
    if (cur === token) {
      r.pexpire(writer, Number(ttl));
      return [1, r.incrBy(fence, 0)];
    }
    const intent = r.get(intentKey);
    const announce = Number(intentMs) > 0 && (intent === null || intent === token);
    if (cur !== null) {
      if (announce) r.set(intentKey, token, { ttlMs: Number(intentMs) });
      return [0, r.pttl(writer)];
    }
    r.zremRangeByScore(readers, '-inf', now);
    const [first] = r.zrangeByScore(readers, '-inf', '+inf', {
      withScores: true,
      offset: 0,
      count: 1,
    });
    if (first) {
      if (announce) r.set(intentKey, token, { ttlMs: Number(intentMs) });
      return [0, first.score - now];
    }
    if (intent !== null && intent !== token) return [0, r.pttl(intentKey)];
    const next = r.incrBy(fence, 1);
    r.set(writer, token, { ttlMs: Number(ttl) });
    if (intent !== null) r.del(intentKey);
    return [1, next];
  },
  decode: decodeAcquireReply,
});

export const readReleaseScript = defineScript<boolean>({
  name: 'locks.rwlock.read-release',
  keys: 2,
  lua: `--[[ locks.rwlock.read-release
  KEYS[1]  the writer (names the channel)
  KEYS[2]  the readers (zset: reader lease id -> lease expiry, ms)
  ARGV[1]  reader lease id
  returns  1 released while valid, 0 the lease had lapsed or is unknown.
           When the last reader leaves, '*' is published on KEYS[1]..':released'. ]]
${LUA_NOTIFY}
local expiry = redis.call('zscore', KEYS[2], ARGV[1])
if not expiry then return 0 end
redis.call('zrem', KEYS[2], ARGV[1])
${LUA_NOW_MS}
redis.call('zremrangebyscore', KEYS[2], '-inf', now)
if redis.call('zcard', KEYS[2]) == 0 then
  notify(KEYS[1] .. ':released', '*')
end
if tonumber(expiry) > now then return 1 end
return 0`,
  local(r, [writer = '', readers = ''], [id = '']) {
    const expiry = r.zscore(readers, id);
    if (expiry === null) return 0;
    r.zrem(readers, id);
    const now = Math.floor(r.time());
    r.zremRangeByScore(readers, '-inf', now);
    if (r.zcard(readers) === 0) r.publish(`${writer}:released`, WAKE_ALL);
    return expiry > now ? 1 : 0;
  },
  decode: (reply) => reply === 1,
});

export const writeReleaseScript = defineScript<boolean>({
  name: 'locks.rwlock.write-release',
  keys: 1,
  lua: `--[[ locks.rwlock.write-release
  KEYS[1]  the writer (string: writer token)
  ARGV[1]  writer token
  returns  1 released ('*' published on KEYS[1]..':released': readers and writers may go),
           0 not the owner, nothing changed ]]
${LUA_NOTIFY}
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  notify(KEYS[1] .. ':released', '*')
  return 1
end
return 0`,
  local(r, [writer = ''], [token = '']) {
    if (r.get(writer) !== token) return 0;
    r.del(writer);
    r.publish(`${writer}:released`, WAKE_ALL);
    return 1;
  },
  decode: (reply) => reply === 1,
});

export const writeWithdrawScript = defineScript<boolean>({
  name: 'locks.rwlock.write-withdraw',
  keys: 2,
  lua: `--[[ locks.rwlock.write-withdraw
  KEYS[1]  the writer (names the channel)
  KEYS[2]  the writer intent (string: a waiting writer's token)
  ARGV[1]  the token of the writer that stops waiting
  returns  1 its intent was removed ('*' published: held-back readers may go), 0 it had none ]]
${LUA_NOTIFY}
if redis.call('get', KEYS[2]) == ARGV[1] then
  redis.call('del', KEYS[2])
  notify(KEYS[1] .. ':released', '*')
  return 1
end
return 0`,
  local(r, [writer = '', intent = ''], [token = '']) {
    if (r.get(intent) !== token) return 0;
    r.del(intent);
    r.publish(`${writer}:released`, WAKE_ALL);
    return 1;
  },
  decode: (reply) => reply === 1,
});

/**
 * Many readers or one writer per name. Writers go first: a waiting writer
 * holds back new readers (for up to `3 × maxRetryDelayMs + 1 s` after it
 * last tried), so a steady stream of readers cannot starve it.
 *
 * @example
 * const rw = new ReadWriteLock({ backend });
 * const config = await rw.withRead('config', () => loadConfig());
 * await rw.withWrite('config', ({ fence }) => fencedWrite(backend, 'config:doc', fence, next));
 */
export class ReadWriteLock {
  readonly #o: ResolvedServiceOptions;
  readonly #intentMs: number;
  readonly #wakeups: Wakeups | undefined;

  constructor(options: LockServiceOptions) {
    this.#o = resolveServiceOptions(options);
    this.#intentMs = 3 * this.#o.maxRetryDelayMs + 1000;
    this.#wakeups = this.#o.wakeups === 'pubsub' ? new Wakeups(this.#o.backend) : undefined;
  }

  /** Acquires a read lease (shared with other readers), waiting up to `waitMs`. */
  read(key: string, options?: AcquireOptions): Promise<Lease> {
    return this.#acquireOrThrow('read', key, options, false);
  }

  /** Acquires the write lease (exclusive), waiting up to `waitMs`. */
  write(key: string, options?: AcquireOptions): Promise<Lease> {
    return this.#acquireOrThrow('write', key, options, false);
  }

  /** One attempt at a read lease; null when a writer holds or waits. */
  tryRead(key: string, options?: Omit<AcquireOptions, 'waitMs'>): Promise<Lease | null> {
    return this.#try('read', key, options);
  }

  /** One attempt at the write lease; null when anyone holds it. */
  tryWrite(key: string, options?: Omit<AcquireOptions, 'waitMs'>): Promise<Lease | null> {
    return this.#try('write', key, options);
  }

  /** Runs `fn` holding a read lease (watchdog on by default) and always releases it. */
  async withRead<T>(
    key: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      throw new ValidationError(`${PKG} withRead needs a function to run`, { field: 'fn' });
    }
    return runWithLease(await this.#acquireOrThrow('read', key, options, true), fn);
  }

  /** Runs `fn` holding the write lease (watchdog on by default) and always releases it. */
  async withWrite<T>(
    key: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      throw new ValidationError(`${PKG} withWrite needs a function to run`, { field: 'fn' });
    }
    return runWithLease(await this.#acquireOrThrow('write', key, options, true), fn);
  }

  async #try(
    kind: 'read' | 'write',
    key: string,
    options: Omit<AcquireOptions, 'waitMs'> | undefined,
  ): Promise<Lease | null> {
    const name = checkName(key);
    const o = resolveAcquireOptions({ ...options, waitMs: 0 }, this.#o, { watchdog: false });
    return this.#acquire(kind, name, o);
  }

  async #acquireOrThrow(
    kind: 'read' | 'write',
    key: string,
    options: AcquireOptions | undefined,
    watchdog: boolean,
  ): Promise<Lease> {
    const name = checkName(key);
    const o = resolveAcquireOptions(options, this.#o, { watchdog });
    const lease = await this.#acquire(kind, name, o);
    if (lease) return lease;
    throw new LockNotAcquiredError(
      name,
      kind === 'read'
        ? `${PKG} read lock "${name}": a writer holds it or waits for it; not acquired within ${o.waitMs} ms`
        : `${PKG} write lock "${name}" is held by readers or a writer; not acquired within ${o.waitMs} ms`,
      o.waitMs,
    );
  }

  async #acquire(
    kind: 'read' | 'write',
    name: string,
    o: ResolvedAcquireOptions,
  ): Promise<Lease | null> {
    const backend = this.#o.backend;
    const keys: ReadWriteLockKeys = readWriteLockKeys(name);
    const all = [keys.writer, keys.readers, keys.writerIntent, keys.fence];
    const token = newToken(this.#o.owner);
    const attempt = async (waiting: boolean): Promise<Attempt> => {
      const sentAt = performance.now();
      const reply =
        kind === 'read'
          ? await backend.run(readAcquireScript, all, [token, o.ttlMs])
          : await backend.run(writeAcquireScript, all, [
              token,
              o.ttlMs,
              waiting ? this.#intentMs : 0,
            ]);
      return reply.acquired
        ? { acquired: true, fence: reply.value, sentAt }
        : { acquired: false, retryAfterMs: reply.value };
    };
    const release =
      kind === 'read'
        ? () => backend.run(readReleaseScript, [keys.writer, keys.readers], [token])
        : () => backend.run(writeReleaseScript, [keys.writer], [token]);
    const won = await acquireOrWait({
      token,
      channel: keys.channel,
      waitMs: o.waitMs,
      signal: o.signal,
      service: this.#o,
      wakeups: this.#wakeups,
      attempt,
      abandon: release,
      ...(kind === 'write'
        ? {
            leave: () =>
              backend.run(writeWithdrawScript, [keys.writer, keys.writerIntent], [token]),
          }
        : {}),
    });
    if (!won) return null;
    const leaseKind: LeaseKind = kind;
    return new Lease({
      kind: leaseKind,
      key: name,
      token,
      fence: won.fence,
      ttlMs: o.ttlMs,
      sentAt: won.sentAt,
      watchdog: o.watchdog,
      onLost: o.onLost,
      ops: {
        extend:
          kind === 'read'
            ? (ttlMs) => backend.run(semaphoreExtendScript, [keys.readers], [token, ttlMs])
            : (ttlMs) => backend.run(mutexExtendScript, [keys.writer], [token, ttlMs]),
        release,
      },
    });
  }
}
