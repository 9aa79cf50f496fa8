import { assertInteger, assertTtl, defineScript, ValidationError } from '@redbrick/core';
import { LockNotAcquiredError, PKG } from './errors.js';
import { type MutexKeys, mutexKeys } from './key-layout.js';
import { Lease, runWithLease } from './lease.js';
import {
  type AcquireOptions,
  checkName,
  type LockServiceOptions,
  type ResolvedAcquireOptions,
  type ResolvedServiceOptions,
  resolveAcquireOptions,
  resolveServiceOptions,
} from './options.js';
import { newToken, ownerOf } from './owner-token.js';
import {
  type AcquireReply,
  type Attempt,
  acquireOrWait,
  decodeAcquireReply,
  LUA_NOTIFY,
  LUA_NOW_MS,
} from './waiting.js';
import { WAKE_ONE, Wakeups } from './wakeups.js';

export const mutexAcquireScript = defineScript<AcquireReply>({
  name: 'locks.mutex.acquire',
  keys: 2,
  lua: `--[[ locks.mutex.acquire
  KEYS[1]  the lock key (string: owner token, PX ttl)
  KEYS[2]  the fencing counter of the lock
  ARGV[1]  owner token
  ARGV[2]  ttl in ms
  returns  {1, fence} acquired, or already held by this token (ttl renewed, same fence);
           {0, pttl}  held by another owner, pttl = ms until its lease runs out ]]
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('incr', KEYS[2])}
end
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, redis.call('incrby', KEYS[2], 0)}
end
return {0, redis.call('pttl', KEYS[1])}`,
  local(r, [lock = '', fence = ''], [token = '', ttl = '']) {
    if (r.set(lock, token, { nx: true, ttlMs: Number(ttl) })) return [1, r.incrBy(fence, 1)];
    const cur = r.get(lock);
    if (cur === token) {
      r.pexpire(lock, Number(ttl));
      return [1, r.incrBy(fence, 0)];
    }
    return [0, r.pttl(lock)];
  },
  decode: decodeAcquireReply,
});

export const mutexAcquireFairScript = defineScript<AcquireReply>({
  name: 'locks.mutex.acquire-fair',
  keys: 4,
  lua: `--[[ locks.mutex.acquire-fair
  KEYS[1]  the lock key (string: owner token, PX ttl)
  KEYS[2]  the fencing counter of the lock
  KEYS[3]  the queue (zset: waiting token -> arrival number, 1 + the last one's)
  KEYS[4]  the places (zset: waiting token -> when its place lapses, ms, server clock)
  ARGV[1]  owner token
  ARGV[2]  ttl in ms
  ARGV[3]  how long this waiter keeps its place without trying again, in ms; 0 = do not queue
  returns  {1, fence} acquired (first in line, or nobody waiting), or already held by this token;
           {0, pttl}  not this token's turn; pttl of the lock, -2 when it is free but an
                      earlier waiter goes first ]]
${LUA_NOW_MS}
local lapsed = redis.call('zrangebyscore', KEYS[4], '-inf', now)
for i = 1, #lapsed do
  redis.call('zrem', KEYS[3], lapsed[i])
  redis.call('zrem', KEYS[4], lapsed[i])
end
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, redis.call('incrby', KEYS[2], 0)}
end
if not cur then
  local head = redis.call('zrangebyscore', KEYS[3], '-inf', '+inf', 'LIMIT', 0, 1)[1]
  if not head or head == ARGV[1] then
    local fence = redis.call('incr', KEYS[2])
    redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
    if head then
      redis.call('zrem', KEYS[3], ARGV[1])
      redis.call('zrem', KEYS[4], ARGV[1])
    end
    return {1, fence}
  end
end
local place = tonumber(ARGV[3])
if place > 0 then
  if not redis.call('zscore', KEYS[3], ARGV[1]) then
    local n = redis.call('zcard', KEYS[3])
    local seq = 1
    if n > 0 then
      seq = tonumber(redis.call('zrangebyscore', KEYS[3], '-inf', '+inf', 'WITHSCORES', 'LIMIT', n - 1, 1)[2]) + 1
    end
    redis.call('zadd', KEYS[3], seq, ARGV[1])
  end
  redis.call('zadd', KEYS[4], now + place, ARGV[1])
  if redis.call('pttl', KEYS[3]) < place then redis.call('pexpire', KEYS[3], place) end
  if redis.call('pttl', KEYS[4]) < place then redis.call('pexpire', KEYS[4], place) end
end
return {0, redis.call('pttl', KEYS[1])}`,
  local(r, [lock = '', fence = '', queue = '', places = ''], [token = '', ttl = '', p = '']) {
    const now = Math.floor(r.time());
    for (const gone of r.zrangeByScore(places, '-inf', now)) {
      r.zrem(queue, gone);
      r.zrem(places, gone);
    }
    const cur = r.get(lock);
    if (cur === token) {
      r.pexpire(lock, Number(ttl));
      return [1, r.incrBy(fence, 0)];
    }
    if (cur === null) {
      const head = r.zrangeByScore(queue, '-inf', '+inf', { offset: 0, count: 1 })[0];
      if (head === undefined || head === token) {
        const next = r.incrBy(fence, 1);
        r.set(lock, token, { ttlMs: Number(ttl) });
        if (head !== undefined) {
          r.zrem(queue, token);
          r.zrem(places, token);
        }
        return [1, next];
      }
    }
    const place = Number(p);
    if (place > 0) {
      if (r.zscore(queue, token) === null) {
        const n = r.zcard(queue);
        const [last] =
          n > 0
            ? r.zrangeByScore(queue, '-inf', '+inf', { withScores: true, offset: n - 1, count: 1 })
            : [];
        r.zadd(queue, { member: token, score: (last?.score ?? 0) + 1 });
      }
      r.zadd(places, { member: token, score: now + place });
      if (r.pttl(queue) < place) r.pexpire(queue, place);
      if (r.pttl(places) < place) r.pexpire(places, place);
    }
    return [0, r.pttl(lock)];
  },
  decode: decodeAcquireReply,
});

export const mutexReleaseScript = defineScript<boolean>({
  name: 'locks.mutex.release',
  keys: 1,
  lua: `--[[ locks.mutex.release
  KEYS[1]  the lock key
  ARGV[1]  owner token
  returns  1 released (and '' published on KEYS[1]..':released': wake one waiter),
           0 not the owner: the lock is gone or someone else's, nothing changed ]]
${LUA_NOTIFY}
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  notify(KEYS[1] .. ':released', '')
  return 1
end
return 0`,
  local(r, [lock = ''], [token = '']) {
    if (r.get(lock) !== token) return 0;
    r.del(lock);
    r.publish(`${lock}:released`, WAKE_ONE);
    return 1;
  },
  decode: (reply) => reply === 1,
});

export const mutexReleaseFairScript = defineScript<boolean>({
  name: 'locks.mutex.release-fair',
  keys: 3,
  lua: `--[[ locks.mutex.release-fair
  KEYS[1]  the lock key
  KEYS[2]  the queue (zset: waiting token -> arrival)
  KEYS[3]  the places (zset: waiting token -> when its place lapses, ms)
  ARGV[1]  owner token
  returns  1 released, and the next waiter's token published on KEYS[1]..':released'
           ('' when nobody waits); 0 not the owner, nothing changed ]]
${LUA_NOTIFY}
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
${LUA_NOW_MS}
local lapsed = redis.call('zrangebyscore', KEYS[3], '-inf', now)
for i = 1, #lapsed do
  redis.call('zrem', KEYS[2], lapsed[i])
  redis.call('zrem', KEYS[3], lapsed[i])
end
local head = redis.call('zrangebyscore', KEYS[2], '-inf', '+inf', 'LIMIT', 0, 1)[1]
notify(KEYS[1] .. ':released', head or '')
return 1`,
  local(r, [lock = '', queue = '', places = ''], [token = '']) {
    if (r.get(lock) !== token) return 0;
    r.del(lock);
    const now = Math.floor(r.time());
    for (const gone of r.zrangeByScore(places, '-inf', now)) {
      r.zrem(queue, gone);
      r.zrem(places, gone);
    }
    const head = r.zrangeByScore(queue, '-inf', '+inf', { offset: 0, count: 1 })[0];
    r.publish(`${lock}:released`, head ?? WAKE_ONE);
    return 1;
  },
  decode: (reply) => reply === 1,
});

export const mutexLeaveQueueScript = defineScript<boolean>({
  name: 'locks.mutex.leave-queue',
  keys: 3,
  lua: `--[[ locks.mutex.leave-queue
  KEYS[1]  the lock key
  KEYS[2]  the queue (zset: waiting token -> arrival)
  KEYS[3]  the places (zset: waiting token -> when its place lapses, ms)
  ARGV[1]  the waiting token that gives up
  returns  1 left the queue (the new first waiter is woken when the lock is free),
           0 was not queued ]]
${LUA_NOTIFY}
local removed = redis.call('zrem', KEYS[2], ARGV[1])
redis.call('zrem', KEYS[3], ARGV[1])
if removed == 1 and redis.call('exists', KEYS[1]) == 0 then
  local head = redis.call('zrangebyscore', KEYS[2], '-inf', '+inf', 'LIMIT', 0, 1)[1]
  if head then notify(KEYS[1] .. ':released', head) end
end
return removed`,
  local(r, [lock = '', queue = '', places = ''], [token = '']) {
    const removed = r.zrem(queue, token);
    r.zrem(places, token);
    if (removed === 1 && r.exists(lock) === 0) {
      const head = r.zrangeByScore(queue, '-inf', '+inf', { offset: 0, count: 1 })[0];
      if (head !== undefined) r.publish(`${lock}:released`, head);
    }
    return removed;
  },
  decode: (reply) => reply === 1,
});

export const mutexExtendScript = defineScript<boolean>({
  name: 'locks.mutex.extend',
  keys: 1,
  lua: `--[[ locks.mutex.extend
  KEYS[1]  the lock key
  ARGV[1]  owner token
  ARGV[2]  new ttl in ms, from now
  returns  1 extended, 0 not the owner (expired or taken): nothing changed ]]
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`,
  local(r, [lock = ''], [token = '', ttl = '']) {
    if (r.get(lock) !== token) return 0;
    return r.pexpire(lock, Number(ttl));
  },
  decode: (reply) => reply === 1,
});

/** Options of {@link Mutex}. */
export interface MutexOptions extends LockServiceOptions {
  /**
   * First come, first served: waiters queue on the server and a free lock
   * goes to the longest waiter; a release wakes exactly that waiter. A
   * waiter that vanishes keeps its place for up to `3 × maxRetryDelayMs +
   * 1 s` (the lock stays free that long). Use the same setting for every
   * Mutex on the same keys.
   * @default false
   */
  fair?: boolean;
  /**
   * Replica confirmation: after winning the lock, wait (Redis `WAIT`) until
   * `count` replicas have the lock, at most `timeoutMs`; with fewer, the
   * lock is released and the acquisition fails with `LOCK_NOT_ACQUIRED`
   * (`reason: 'replication'`). This narrows, but does not close, the window
   * in which a failover loses a lock (Redis replication stays
   * asynchronous; fencing tokens are what make a stale holder harmless).
   * The memory backend has no replicas: there every acquisition with
   * `count ≥ 1` fails. `timeoutMs` must be below the backend's command
   * timeout.
   * @default undefined (no confirmation)
   */
  replicas?: { count: number; timeoutMs?: number };
}

/** Replica confirmation of an acquisition, after validation. */
interface ReplicaConfirmation {
  count: number;
  timeoutMs: number;
}

function resolveReplicas(value: MutexOptions['replicas']): ReplicaConfirmation | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new ValidationError(`${PKG} replicas must be { count, timeoutMs? }`, {
      field: 'replicas',
    });
  }
  assertInteger(value.count, 'replicas.count', { min: 1, pkg: 'locks' });
  const timeoutMs = value.timeoutMs ?? 500;
  assertInteger(timeoutMs, 'replicas.timeoutMs', { min: 1, pkg: 'locks' });
  return { count: value.count, timeoutMs };
}

/** tryAcquire: one attempt whatever `waitMs` says, no watchdog unless asked. */
const TRY_ONCE = { fixedWaitMs: 0, watchdog: false } as const;

/** Keys of at most this many recent mutex names are kept (cleared when full). */
const KEY_CACHE_SIZE = 1024;

/** Who holds a mutex, as {@link Mutex.holder} reports it. */
export interface MutexHolder {
  /** The holder's owner token. */
  token: string;
  /** The owner part of the token (`hostname:pid` unless set). */
  owner: string;
  /** Remaining lease in ms (-1: the key has no TTL, which this package never does). */
  ttlMs: number;
}

/**
 * A distributed mutex with fencing tokens. One round trip to acquire
 * (uncontended) and one to release.
 *
 * @example
 * const mutex = new Mutex({ backend });
 * await mutex.withLock('invoice:42', async ({ fence }) => {
 *   await fencedWrite(backend, 'invoice:42:pdf', fence, await render());
 * });
 */
export class Mutex {
  readonly #o: ResolvedServiceOptions;
  readonly #fair: boolean;
  readonly #placeMs: number;
  readonly #wakeups: Wakeups | undefined;
  readonly #replicas: ReplicaConfirmation | undefined;
  readonly #keys = new Map<string, MutexKeys>();

  constructor(options: MutexOptions) {
    this.#o = resolveServiceOptions(options);
    this.#replicas = resolveReplicas(options.replicas);
    const fair = options.fair ?? false;
    if (typeof fair !== 'boolean') {
      throw new ValidationError(`${PKG} fair must be a boolean`, { field: 'fair' });
    }
    this.#fair = fair;
    this.#placeMs = 3 * this.#o.maxRetryDelayMs + 1000;
    this.#wakeups = this.#o.wakeups === 'pubsub' ? new Wakeups(this.#o.backend) : undefined;
  }

  /**
   * Acquires the mutex `key`, waiting up to `waitMs` for a busy one.
   * Rejects with `LOCK_NOT_ACQUIRED` when the wait ends, with `signal.reason`
   * on abort, and at once with `BACKEND_UNAVAILABLE` when the backend is down.
   */
  async acquire(key: string, options?: AcquireOptions): Promise<Lease> {
    const name = checkName(key);
    const o = resolveAcquireOptions(options, this.#o, { watchdog: false });
    const lease = await this.#acquire(name, o);
    if (lease) return lease;
    throw new LockNotAcquiredError(
      name,
      `${PKG} mutex "${name}" is held by another owner; not acquired within ${o.waitMs} ms`,
      o.waitMs,
    );
  }

  /** One attempt, no waiting: the lease, or null when the mutex is held. */
  tryAcquire(key: string, options?: Omit<AcquireOptions, 'waitMs'>): Promise<Lease | null> {
    try {
      const name = checkName(key);
      const o = resolveAcquireOptions(options, this.#o, TRY_ONCE);
      return this.#acquire(name, o);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs `fn` holding the mutex and always releases it. The watchdog is on
   * by default: the lease is extended every `ttlMs / 3` while fn runs.
   * If the lease is lost, `lease.signal` aborts, `onLost` runs, and the
   * call rejects with `LOCK_LOST` once fn settles.
   */
  async withLock<T>(
    key: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      throw new ValidationError(`${PKG} withLock needs a function to run`, { field: 'fn' });
    }
    const name = checkName(key);
    const o = resolveAcquireOptions(options, this.#o, { watchdog: true });
    const lease = await this.#acquire(name, o);
    if (!lease) {
      throw new LockNotAcquiredError(
        name,
        `${PKG} mutex "${name}" is held by another owner; not acquired within ${o.waitMs} ms`,
        o.waitMs,
      );
    }
    return runWithLease(lease, fn);
  }

  /**
   * Releases by token, for a lease handed over between processes. Never
   * deletes another owner's lock. True when released.
   */
  release(key: string, token: string): Promise<boolean> {
    try {
      const keys = mutexKeys(checkName(key));
      return this.#release(keys, checkName(token, 'token'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Extends by token; true when extended, false when the lock is no longer held by `token`. */
  extend(key: string, token: string, ttlMs: number = this.#o.ttlMs): Promise<boolean> {
    try {
      const keys = mutexKeys(checkName(key));
      assertTtl(ttlMs, 'ttlMs', 'locks');
      return this.#o.backend.run(
        mutexExtendScript,
        [keys.lock],
        [checkName(token, 'token'), ttlMs],
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Who holds `key` now (two commands, one round trip), or null. */
  async holder(key: string): Promise<MutexHolder | null> {
    const { lock } = mutexKeys(checkName(key));
    const [token, ttl] = await this.#o.backend.pipeline().add('get', lock).add('pttl', lock).exec();
    if (token && !token.ok) throw token.error;
    const value = token?.ok ? token.value : null;
    if (typeof value !== 'string') return null;
    const ttlMs = ttl?.ok && typeof ttl.value === 'number' ? ttl.value : -1;
    return { token: value, owner: ownerOf(value), ttlMs };
  }

  /** Waits for the replicas; on too few (or a failure), gives the lock back and throws. */
  async #confirm(
    name: string,
    keys: MutexKeys,
    token: string,
    { count, timeoutMs }: ReplicaConfirmation,
  ): Promise<void> {
    let acked: number;
    try {
      acked = await this.#o.backend.waitReplicas(keys.lock, count, timeoutMs);
    } catch (error) {
      await this.#release(keys, token).catch(() => false);
      throw error;
    }
    if (acked >= count) return;
    await this.#release(keys, token).catch(() => false);
    throw new LockNotAcquiredError(
      name,
      `${PKG} mutex "${name}" was won but only ${acked} of ${count} replica(s) confirmed it within ${timeoutMs} ms; it was released`,
      timeoutMs,
      { reason: 'replication' },
    );
  }

  #keysOf(name: string): MutexKeys {
    let keys = this.#keys.get(name);
    if (keys === undefined) {
      if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.clear();
      keys = mutexKeys(name);
      this.#keys.set(name, keys);
    }
    return keys;
  }

  #release(keys: MutexKeys, token: string): Promise<boolean> {
    const backend = this.#o.backend;
    return this.#fair
      ? backend.run(mutexReleaseFairScript, [keys.lock, keys.queue, keys.queueExpiry], [token])
      : backend.run(mutexReleaseScript, [keys.lock], [token]);
  }

  async #acquire(name: string, o: ResolvedAcquireOptions): Promise<Lease | null> {
    const backend = this.#o.backend;
    const keys = this.#keysOf(name);
    const token = newToken(this.#o.owner);
    const attempt = async (waiting: boolean): Promise<Attempt> => {
      const sentAt = performance.now();
      const reply = this.#fair
        ? await backend.run(
            mutexAcquireFairScript,
            [keys.lock, keys.fence, keys.queue, keys.queueExpiry],
            [token, o.ttlMs, waiting ? this.#placeMs : 0],
          )
        : await backend.run(mutexAcquireScript, [keys.lock, keys.fence], [token, o.ttlMs]);
      return reply.acquired
        ? { acquired: true, fence: reply.value, sentAt }
        : { acquired: false, retryAfterMs: reply.value };
    };
    const won = await acquireOrWait({
      token,
      channel: keys.channel,
      waitMs: o.waitMs,
      signal: o.signal,
      service: this.#o,
      wakeups: this.#wakeups,
      attempt,
      abandon: () => this.#release(keys, token),
      ...(this.#fair
        ? {
            leave: () =>
              backend.run(
                mutexLeaveQueueScript,
                [keys.lock, keys.queue, keys.queueExpiry],
                [token],
              ),
          }
        : {}),
    });
    if (!won) return null;
    if (this.#replicas) await this.#confirm(name, keys, token, this.#replicas);
    return new Lease({
      kind: 'mutex',
      key: name,
      token,
      fence: won.fence,
      ttlMs: o.ttlMs,
      sentAt: won.sentAt,
      watchdog: o.watchdog,
      onLost: o.onLost,
      ops: {
        extend: (ttlMs) => backend.run(mutexExtendScript, [keys.lock], [token, ttlMs]),
        release: () => this.#release(keys, token),
      },
    });
  }
}
