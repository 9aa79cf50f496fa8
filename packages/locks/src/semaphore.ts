import { assertInteger, assertTtl, defineScript, ValidationError } from '@redbrick/core';
import { LockNotAcquiredError, PKG } from './errors.js';
import { type SemaphoreKeys, semaphoreKeys } from './key-layout.js';
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

export const semaphoreAcquireScript = defineScript<AcquireReply>({
  name: 'locks.semaphore.acquire',
  keys: 2,
  lua: `--[[ locks.semaphore.acquire
  KEYS[1]  the semaphore (zset: lease id -> lease expiry, ms since the epoch, server clock)
  KEYS[2]  the fencing counter
  ARGV[1]  lease id
  ARGV[2]  permits: how many leases may be held at once (integer >= 1)
  ARGV[3]  ttl in ms
  returns  {1, fence} acquired, or renewed when this id holds one already (same fence);
           {0, wait}  every permit is held: ms until the earliest lease lapses ]]
${LUA_NOW_MS}
local ttl = tonumber(ARGV[3])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zscore', KEYS[1], ARGV[1]) then
  redis.call('zadd', KEYS[1], now + ttl, ARGV[1])
  if redis.call('pttl', KEYS[1]) < ttl then redis.call('pexpire', KEYS[1], ttl) end
  return {1, redis.call('incrby', KEYS[2], 0)}
end
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[2]) then
  local fence = redis.call('incr', KEYS[2])
  redis.call('zadd', KEYS[1], now + ttl, ARGV[1])
  if redis.call('pttl', KEYS[1]) < ttl then redis.call('pexpire', KEYS[1], ttl) end
  return {1, fence}
end
local first = redis.call('zrangebyscore', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {0, tonumber(first[2]) - now}`,
  local(r, [leases = '', fence = ''], [id = '', permits = '', ttlArg = '']) {
    const now = Math.floor(r.time());
    const ttl = Number(ttlArg);
    r.zremRangeByScore(leases, '-inf', now);
    if (r.zscore(leases, id) !== null) {
      r.zadd(leases, { member: id, score: now + ttl });
      if (r.pttl(leases) < ttl) r.pexpire(leases, ttl);
      return [1, r.incrBy(fence, 0)];
    }
    if (r.zcard(leases) < Number(permits)) {
      const next = r.incrBy(fence, 1);
      r.zadd(leases, { member: id, score: now + ttl });
      if (r.pttl(leases) < ttl) r.pexpire(leases, ttl);
      return [1, next];
    }
    const [first] = r.zrangeByScore(leases, '-inf', '+inf', {
      withScores: true,
      offset: 0,
      count: 1,
    });
    return [0, (first?.score ?? now) - now];
  },
  decode: decodeAcquireReply,
});

export const semaphoreReleaseScript = defineScript<boolean>({
  name: 'locks.semaphore.release',
  keys: 1,
  lua: `--[[ locks.semaphore.release
  KEYS[1]  the semaphore (zset: lease id -> lease expiry, ms)
  ARGV[1]  lease id
  returns  1 released while valid, 0 the lease had lapsed or is unknown.
           A removed lease publishes '' on KEYS[1]..':released' (wake one waiter). ]]
${LUA_NOTIFY}
local expiry = redis.call('zscore', KEYS[1], ARGV[1])
if not expiry then return 0 end
redis.call('zrem', KEYS[1], ARGV[1])
notify(KEYS[1] .. ':released', '')
${LUA_NOW_MS}
if tonumber(expiry) > now then return 1 end
return 0`,
  local(r, [leases = ''], [id = '']) {
    const expiry = r.zscore(leases, id);
    if (expiry === null) return 0;
    r.zrem(leases, id);
    r.publish(`${leases}:released`, WAKE_ONE);
    return expiry > Math.floor(r.time()) ? 1 : 0;
  },
  decode: (reply) => reply === 1,
});

export const semaphoreExtendScript = defineScript<boolean>({
  name: 'locks.semaphore.extend',
  keys: 1,
  lua: `--[[ locks.semaphore.extend
  KEYS[1]  the semaphore (zset: lease id -> lease expiry, ms)
  ARGV[1]  lease id
  ARGV[2]  new ttl in ms, from now
  returns  1 extended, 0 the lease had lapsed (then it is removed) or is unknown ]]
${LUA_NOW_MS}
local expiry = redis.call('zscore', KEYS[1], ARGV[1])
if not expiry then return 0 end
if tonumber(expiry) <= now then
  redis.call('zrem', KEYS[1], ARGV[1])
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('zadd', KEYS[1], now + ttl, ARGV[1])
if redis.call('pttl', KEYS[1]) < ttl then redis.call('pexpire', KEYS[1], ttl) end
return 1`,
  local(r, [leases = ''], [id = '', ttlArg = '']) {
    const now = Math.floor(r.time());
    const expiry = r.zscore(leases, id);
    if (expiry === null) return 0;
    if (expiry <= now) {
      r.zrem(leases, id);
      return 0;
    }
    const ttl = Number(ttlArg);
    r.zadd(leases, { member: id, score: now + ttl });
    if (r.pttl(leases) < ttl) r.pexpire(leases, ttl);
    return 1;
  },
  decode: (reply) => reply === 1,
});

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions extends LockServiceOptions {
  /** How many leases may be held at once, per resource name (integer ≥ 1). */
  permits: number;
}

/** One holder of a semaphore, as {@link Semaphore.holders} reports it. */
export interface SemaphoreHolder {
  /** The lease id (an owner token). */
  id: string;
  owner: string;
  /** Remaining lease in ms, by the server clock. */
  ttlMs: number;
}

/**
 * A distributed counting semaphore: at most `permits` holders per name.
 * Every lease has its own id and expiry, so a crashed holder's permit
 * frees itself when its lease lapses.
 *
 * @example
 * const exports = new Semaphore({ backend, permits: 3 });
 * await exports.withPermit('pdf-render', async (lease) => render(lease.signal));
 */
export class Semaphore {
  /** The number of permits per name. */
  readonly permits: number;
  readonly #o: ResolvedServiceOptions;
  readonly #wakeups: Wakeups | undefined;

  constructor(options: SemaphoreOptions) {
    this.#o = resolveServiceOptions(options);
    assertInteger(options.permits, 'permits', { min: 1, pkg: 'locks' });
    this.permits = options.permits;
    this.#wakeups = this.#o.wakeups === 'pubsub' ? new Wakeups(this.#o.backend) : undefined;
  }

  /** Takes a permit of `key`, waiting up to `waitMs`; rejects with `LOCK_NOT_ACQUIRED` when none frees up. */
  async acquire(key: string, options?: AcquireOptions): Promise<Lease> {
    const name = checkName(key);
    const o = resolveAcquireOptions(options, this.#o, { watchdog: false });
    const lease = await this.#acquire(name, o);
    if (lease) return lease;
    throw this.#notAcquired(name, o.waitMs);
  }

  /** One attempt: a lease, or null when all permits are held. */
  tryAcquire(key: string, options?: Omit<AcquireOptions, 'waitMs'>): Promise<Lease | null> {
    try {
      const name = checkName(key);
      const o = resolveAcquireOptions({ ...options, waitMs: 0 }, this.#o, { watchdog: false });
      return this.#acquire(name, o);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Runs `fn` holding a permit (watchdog on by default) and always releases it; see `Mutex.withLock`. */
  async withPermit<T>(
    key: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      throw new ValidationError(`${PKG} withPermit needs a function to run`, { field: 'fn' });
    }
    const name = checkName(key);
    const o = resolveAcquireOptions(options, this.#o, { watchdog: true });
    const lease = await this.#acquire(name, o);
    if (!lease) throw this.#notAcquired(name, o.waitMs);
    return runWithLease(lease, fn);
  }

  /** Releases the lease `id` of `key`; true when it was still valid. */
  release(key: string, id: string): Promise<boolean> {
    try {
      const { leases } = semaphoreKeys(checkName(key));
      return this.#o.backend.run(semaphoreReleaseScript, [leases], [checkName(id, 'id')]);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Extends the lease `id` of `key` to `ttlMs` from now; false when it had lapsed. */
  extend(key: string, id: string, ttlMs: number = this.#o.ttlMs): Promise<boolean> {
    try {
      const { leases } = semaphoreKeys(checkName(key));
      assertTtl(ttlMs, 'ttlMs', 'locks');
      return this.#o.backend.run(semaphoreExtendScript, [leases], [checkName(id, 'id'), ttlMs]);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The live leases of `key` (lapsed ones are left out). */
  async holders(key: string): Promise<SemaphoreHolder[]> {
    const { leases } = semaphoreKeys(checkName(key));
    const [now, members] = await Promise.all([
      this.#o.backend.time(),
      this.#o.backend.zrangeByScore(leases, '-inf', '+inf', { withScores: true }),
    ]);
    return members
      .filter((m) => m.score > Math.floor(now))
      .map((m) => ({ id: m.member, owner: ownerOf(m.member), ttlMs: m.score - Math.floor(now) }));
  }

  #notAcquired(name: string, waitMs: number): LockNotAcquiredError {
    return new LockNotAcquiredError(
      name,
      `${PKG} semaphore "${name}": all ${this.permits} permits are held; none freed within ${waitMs} ms`,
      waitMs,
    );
  }

  async #acquire(name: string, o: ResolvedAcquireOptions): Promise<Lease | null> {
    const backend = this.#o.backend;
    const keys: SemaphoreKeys = semaphoreKeys(name);
    const id = newToken(this.#o.owner);
    const attempt = async (): Promise<Attempt> => {
      const sentAt = performance.now();
      const reply = await backend.run(
        semaphoreAcquireScript,
        [keys.leases, keys.fence],
        [id, this.permits, o.ttlMs],
      );
      return reply.acquired
        ? { acquired: true, fence: reply.value, sentAt }
        : { acquired: false, retryAfterMs: reply.value };
    };
    const release = () => backend.run(semaphoreReleaseScript, [keys.leases], [id]);
    const won = await acquireOrWait({
      token: id,
      channel: keys.channel,
      waitMs: o.waitMs,
      signal: o.signal,
      service: this.#o,
      wakeups: this.#wakeups,
      attempt,
      abandon: release,
    });
    if (!won) return null;
    return new Lease({
      kind: 'semaphore',
      key: name,
      token: id,
      fence: won.fence,
      ttlMs: o.ttlMs,
      sentAt: won.sentAt,
      watchdog: o.watchdog,
      onLost: o.onLost,
      ops: {
        extend: (ttlMs) => backend.run(semaphoreExtendScript, [keys.leases], [id, ttlMs]),
        release,
      },
    });
  }
}
