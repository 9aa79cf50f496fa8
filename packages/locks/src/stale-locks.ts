import { hostname } from 'node:os';
import { type Backend, unescapeKeyPart } from '@redbrick/core';
import { mutexKeys, readWriteLockKeys, semaphoreKeys } from './key-layout.js';
import { mutexReleaseScript } from './mutex.js';
import { ownerOf } from './owner-token.js';
import { readReleaseScript, writeReleaseScript } from './read-write-lock.js';
import { semaphoreReleaseScript } from './semaphore.js';

/** One holder found by {@link listLocks}. */
export interface LockRecord {
  /** `'mutex'`, `'semaphore'`, `'read'` or `'write'`. */
  kind: 'mutex' | 'semaphore' | 'read' | 'write';
  /** The resource name (as given to `acquire`). */
  name: string;
  /** The backend key that holds it. */
  key: string;
  /** The holder's token / lease id. */
  token: string;
  /** The owner part of the token (`hostname:pid` unless the service set `owner`). */
  owner: string;
  /**
   * Remaining lease in ms by the server clock. 0 or less: the lease has
   * lapsed and only waits to be swept (the next acquire does that).
   */
  ttlMs: number;
}

const PATTERNS = [
  { kind: 'mutex', match: 'lock:{*}', type: 'string', parse: /^lock:\{([^{}]*)\}$/ },
  { kind: 'write', match: 'rwlock:{*}:w', type: 'string', parse: /^rwlock:\{([^{}]*)\}:w$/ },
  { kind: 'semaphore', match: 'semaphore:{*}', type: 'zset', parse: /^semaphore:\{([^{}]*)\}$/ },
  { kind: 'read', match: 'rwlock:{*}:r', type: 'zset', parse: /^rwlock:\{([^{}]*)\}:r$/ },
] as const;

/**
 * Lists every holder of every lock, semaphore and read-write lock on the
 * backend (SCAN, never KEYS; on a scoped backend only its own). For a
 * cleanup service or a dashboard; not for deciding who may write — that is
 * what the locks are for.
 */
export async function* listLocks(backend: Backend): AsyncIterable<LockRecord> {
  for (const p of PATTERNS) {
    for await (const key of backend.scan({ match: p.match, type: p.type })) {
      const m = p.parse.exec(key);
      if (!m) continue;
      const name = unescapeKeyPart(m[1] ?? '');
      if (p.type === 'string') {
        const [token, ttl] = await backend.pipeline().add('get', key).add('pttl', key).exec();
        if (!token?.ok || typeof token.value !== 'string') continue;
        const ttlMs = ttl?.ok && typeof ttl.value === 'number' ? ttl.value : -1;
        yield { kind: p.kind, name, key, token: token.value, owner: ownerOf(token.value), ttlMs };
      } else {
        const [now, leases] = await Promise.all([
          backend.time(),
          backend.zrangeByScore(key, '-inf', '+inf', { withScores: true }),
        ]);
        for (const lease of leases) {
          yield {
            kind: p.kind,
            name,
            key,
            token: lease.member,
            owner: ownerOf(lease.member),
            ttlMs: lease.score - Math.floor(now),
          };
        }
      }
    }
  }
}

/** Options of {@link removeStaleLocks}. */
export interface RemoveStaleLocksOptions {
  /**
   * True when the owner is known to be gone (its process or pod no longer
   * exists). Return false when unsure: the lease then runs out on its own.
   * See {@link isLocalOwnerGone} for owners on this host.
   */
  isOwnerGone: (owner: string, record: LockRecord) => boolean | Promise<boolean>;
  /** Only report what would be removed. @default false */
  dryRun?: boolean;
}

/**
 * Removes the leases whose owner is gone, and semaphore/read leases that
 * already lapsed, so waiters need not wait for the TTL. Each removal is
 * a compare-and-delete by token (a lock re-acquired meanwhile by someone
 * else is never touched) and wakes waiters like a release. Resolves with
 * what was removed.
 */
export async function removeStaleLocks(
  backend: Backend,
  options: RemoveStaleLocksOptions,
): Promise<LockRecord[]> {
  const removed: LockRecord[] = [];
  for await (const record of listLocks(backend)) {
    const lapsed = (record.kind === 'semaphore' || record.kind === 'read') && record.ttlMs <= 0;
    if (!lapsed && !(await options.isOwnerGone(record.owner, record))) continue;
    if (options.dryRun) {
      removed.push(record);
      continue;
    }
    if (await removeHolder(backend, record, lapsed)) removed.push(record);
  }
  return removed;
}

async function removeHolder(backend: Backend, r: LockRecord, lapsed: boolean): Promise<boolean> {
  switch (r.kind) {
    case 'mutex':
      return backend.run(mutexReleaseScript, [mutexKeys(r.name).lock], [r.token]);
    case 'write':
      return backend.run(writeReleaseScript, [readWriteLockKeys(r.name).writer], [r.token]);
    case 'semaphore': {
      const leases = semaphoreKeys(r.name).leases;
      const valid = await backend.run(semaphoreReleaseScript, [leases], [r.token]);
      return valid || lapsed;
    }
    case 'read': {
      const k = readWriteLockKeys(r.name);
      const valid = await backend.run(readReleaseScript, [k.writer, k.readers], [r.token]);
      return valid || lapsed;
    }
  }
}

/**
 * For owners in the default `hostname:pid` form: true when the owner ran
 * on this host and that process no longer exists. False for other hosts
 * and other owner formats (unknown is never "gone").
 */
export function isLocalOwnerGone(owner: string): boolean {
  const colon = owner.lastIndexOf(':');
  if (colon === -1 || owner.slice(0, colon) !== hostname()) return false;
  const pid = Number(owner.slice(colon + 1));
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 'ESRCH';
  }
}
