import type { Backend } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';

/** A namespace whose keys must carry a TTL. */
export interface RequireTtlRule {
  /** SCAN glob. */
  match: string;
  /** TTL given to matching keys that have none, in seconds. */
  seconds: number;
}

/** Options of {@link cleanup}. */
export interface CleanupOptions {
  /** Only list what would be done. @default false */
  dryRun?: boolean;
  /**
   * Lock keys (strings) that must always carry a lease TTL: one without a
   * TTL is stale and is deleted. Keys ending in `:fence` are never touched.
   * @default ['lock:*', 'rwlock:*']
   */
  lockPatterns?: string[];
  /**
   * Sorted sets scored by an expiry time (ms, server clock): members whose
   * time has passed are removed (expired semaphore leases, session indexes).
   * @default ['semaphore:*']
   */
  expiryIndexes?: string[];
  /**
   * Sets or sorted sets whose members are key names (in the same view):
   * members naming a key that no longer exists are removed.
   * @default []
   */
  keyIndexes?: string[];
  /** Namespaces that require a TTL: keys without one get `seconds`. @default [] */
  requireTtl?: RequireTtlRule[];
}

/** One thing {@link cleanup} did (or, on a dry run, would do). */
export interface CleanupAction {
  rule: 'stale-lock' | 'expired-index-entries' | 'orphaned-index-entries' | 'missing-ttl';
  key: string;
  /** What is done: `delete`, `remove N members`, `expire N s`. */
  action: string;
  /** Members removed, where it applies. */
  members?: number;
}

/** What {@link cleanup} returns. */
export interface CleanupResult {
  dryRun: boolean;
  actions: CleanupAction[];
}

const PKG = '[redbrick/cli]';

function checkPatterns(list: unknown, field: string): string[] {
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new ValidationError(`${PKG} ${field} must be an array of non-empty glob patterns`, {
      field,
    });
  }
  return list as string[];
}

/**
 * Finds and (unless `dryRun`) fixes: lock keys without a lease TTL,
 * expired entries of expiry-scored sorted sets, index entries naming
 * missing keys, and keys without a TTL in namespaces that require one.
 * Every rule uses SCAN; nothing outside the given patterns is touched.
 */
export async function cleanup(
  backend: Backend,
  options: CleanupOptions = {},
): Promise<CleanupResult> {
  const dryRun = options.dryRun === true;
  const locks = checkPatterns(options.lockPatterns ?? ['lock:*', 'rwlock:*'], 'lockPatterns');
  const expiry = checkPatterns(options.expiryIndexes ?? ['semaphore:*'], 'expiryIndexes');
  const indexes = checkPatterns(options.keyIndexes ?? [], 'keyIndexes');
  const requireTtl = options.requireTtl ?? [];
  if (
    !Array.isArray(requireTtl) ||
    !requireTtl.every(
      (r) =>
        typeof r?.match === 'string' &&
        r.match.length > 0 &&
        Number.isInteger(r.seconds) &&
        r.seconds > 0,
    )
  ) {
    throw new ValidationError(
      `${PKG} requireTtl must be an array of { match: non-empty glob, seconds: positive integer }`,
      { field: 'requireTtl' },
    );
  }
  const actions: CleanupAction[] = [];

  for (const match of locks) {
    for await (const key of backend.scan({ match, type: 'string' })) {
      if (key.endsWith(':fence')) continue;
      if ((await backend.pttl(key)) !== -1) continue;
      actions.push({ rule: 'stale-lock', key, action: 'delete (a lock without a lease TTL)' });
      if (!dryRun) await backend.del(key);
    }
  }

  const now = await backend.time();
  for (const match of expiry) {
    for await (const key of backend.scan({ match, type: 'zset' })) {
      const stale = await backend.zrangeByScore(key, '-inf', `(${now}`);
      if (stale.length === 0) continue;
      actions.push({
        rule: 'expired-index-entries',
        key,
        action: `remove ${stale.length} member(s) whose time has passed`,
        members: stale.length,
      });
      if (!dryRun) await backend.zrem(key, ...stale);
    }
  }

  for (const match of indexes) {
    for await (const key of backend.scan({ match })) {
      const type = await backend.type(key);
      let members: string[];
      if (type === 'set') members = await backend.smembers(key);
      else if (type === 'zset') members = await backend.zrangeByScore(key, '-inf', '+inf');
      else continue;
      const p = backend.pipeline();
      for (const m of members) p.add('exists', m);
      const results = await p.exec();
      const orphans = members.filter((_, i) => {
        const r = results[i];
        return r?.ok === true && r.value === 0;
      });
      if (orphans.length === 0) continue;
      actions.push({
        rule: 'orphaned-index-entries',
        key,
        action: `remove ${orphans.length} member(s) naming missing keys`,
        members: orphans.length,
      });
      if (!dryRun) {
        if (type === 'set') await backend.srem(key, ...orphans);
        else await backend.zrem(key, ...orphans);
      }
    }
  }

  for (const rule of requireTtl) {
    for await (const key of backend.scan({ match: rule.match })) {
      if ((await backend.pttl(key)) !== -1) continue;
      actions.push({ rule: 'missing-ttl', key, action: `expire in ${rule.seconds} s` });
      if (!dryRun) await backend.pexpire(key, rule.seconds * 1000);
    }
  }
  return { dryRun, actions };
}
