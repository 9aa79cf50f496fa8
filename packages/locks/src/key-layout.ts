import { key, tag } from '@redbrick/core';

/*
 * Every key of one resource carries the resource name as its hash tag, so
 * each script touches a single Redis Cluster slot. Channels are derived
 * from the first key inside the scripts (`KEYS[1] .. ':released'`), so
 * they carry the same prefix as the keys under `backend.scoped()`.
 */

/** Keys of a mutex named `name`. */
export interface MutexKeys {
  /** String: the owner token, with the lease as its TTL. */
  readonly lock: string;
  /** String: the fencing counter, incremented by every acquisition. Never expires. */
  readonly fence: string;
  /** Sorted set (fair mode): waiting tokens → arrival number (1 + the previous arrival's). */
  readonly queue: string;
  /** Sorted set (fair mode): waiting tokens → when their place lapses, in ms. */
  readonly queueExpiry: string;
  /** Pub/sub channel a release publishes on. */
  readonly channel: string;
}

export function mutexKeys(name: string): MutexKeys {
  const lock = key('lock', tag(name));
  return {
    lock,
    fence: `${lock}:fence`,
    queue: `${lock}:q`,
    queueExpiry: `${lock}:qx`,
    channel: `${lock}:released`,
  };
}

/** Keys of a semaphore named `name`. */
export interface SemaphoreKeys {
  /** Sorted set: lease id → lease expiry in ms since the epoch (server clock). */
  readonly leases: string;
  readonly fence: string;
  readonly channel: string;
}

export function semaphoreKeys(name: string): SemaphoreKeys {
  const leases = key('semaphore', tag(name));
  return { leases, fence: `${leases}:fence`, channel: `${leases}:released` };
}

/** Keys of a read-write lock named `name`. */
export interface ReadWriteLockKeys {
  /** String: the writer's token, with its lease as TTL. */
  readonly writer: string;
  /** Sorted set: reader lease id → expiry in ms (server clock). */
  readonly readers: string;
  /** String: a waiting writer's token; new readers wait while it exists. */
  readonly writerIntent: string;
  readonly fence: string;
  readonly channel: string;
}

export function readWriteLockKeys(name: string): ReadWriteLockKeys {
  const base = key('rwlock', tag(name));
  const writer = `${base}:w`;
  return {
    writer,
    readers: `${base}:r`,
    writerIntent: `${base}:wi`,
    fence: `${base}:fence`,
    channel: `${writer}:released`,
  };
}

/** Keys of a count-down latch named `name`. */
export interface LatchKeys {
  /** String: the remaining count. */
  readonly count: string;
  /** Channel the count-down that reaches zero publishes on. */
  readonly channel: string;
}

export function latchKeys(name: string): LatchKeys {
  const count = key('latch', tag(name));
  return { count, channel: `${count}:open` };
}
