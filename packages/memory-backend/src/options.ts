import { ConfigError, describe } from '@redbrick/core';
import type { EvictionPolicy } from './keyspace.js';

export type { EvictionPolicy } from './keyspace.js';

/** Options of {@link createMemoryBackend}. The parsed core config (`{ type: 'memory', … }`) is accepted as is. */
export interface MemoryBackendOptions {
  /** Ignored: the discriminator of core's backend config. */
  type?: 'memory';
  /**
   * Evict (or, with `noeviction`, refuse writes) when a write would create
   * more keys than this.
   * @default unlimited
   */
  maxKeys?: number;
  /**
   * Evict (or, with `noeviction`, refuse writes) when the estimated size of
   * the data in bytes would exceed this. Estimates: two bytes a character
   * plus a fixed overhead per key, field, member and entry.
   * @default unlimited
   */
  maxMemoryBytes?: number;
  /**
   * What happens at `maxKeys` / `maxMemoryBytes`: evict the least recently
   * used key (`allkeys-lru`), the least recently used key with a TTL
   * (`volatile-lru`), or fail the write with an OOM `CommandError`
   * (`noeviction`), as Redis' `maxmemory-policy` does.
   * @default 'allkeys-lru' when a limit is set
   */
  evictionPolicy?: EvictionPolicy;
  /**
   * Prefix every key, channel and pattern of the returned backend, like
   * `backend.scoped(keyPrefix)` on a root that `close()` still closes.
   * Must not contain `{` or `}`.
   */
  keyPrefix?: string;
  /** Default TTL in ms for services that take one; exposed as `backend.defaultTtlMs`. */
  defaultTtlMs?: number;
  /**
   * The clock, in ms since the epoch: TTLs, stream ids, idle times and
   * `time()` read it. Pass a fake clock in tests, then call
   * `backend.purgeExpired()` after moving it.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * Remove expired keys on a timer (and fire `onExpired` within a few ms of
   * the TTL) instead of only when a key is next touched.
   * @default true
   */
  activeExpiry?: boolean;
}

/** The options with defaults applied. */
export interface ResolvedOptions {
  maxKeys: number;
  maxMemoryBytes: number;
  evictionPolicy: EvictionPolicy;
  keyPrefix: string | undefined;
  defaultTtlMs: number | undefined;
  clock: () => number;
  activeExpiry: boolean;
}

const KNOWN = new Set([
  'type',
  'maxKeys',
  'maxMemoryBytes',
  'evictionPolicy',
  'keyPrefix',
  'defaultTtlMs',
  'clock',
  'activeExpiry',
]);
const POLICIES: readonly EvictionPolicy[] = ['noeviction', 'allkeys-lru', 'volatile-lru'];
const P = '[redbrick/memory-backend]';

function positive(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${P} ${field} must be a positive integer, got ${describe(value)}`, {
      field,
    });
  }
  return value;
}

/** Validates options; throws a ConfigError naming the field and what is allowed. */
export function resolveOptions(options: MemoryBackendOptions | undefined): ResolvedOptions {
  const o: MemoryBackendOptions = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new ConfigError(`${P} options must be an object, got ${describe(o)}`, {
      field: 'options',
    });
  }
  for (const name of Object.keys(o)) {
    if (!KNOWN.has(name)) {
      throw new ConfigError(
        `${P} unknown option "${name}" (allowed: ${[...KNOWN].filter((k) => k !== 'type').join(', ')})`,
        { field: name },
      );
    }
  }
  if (o.type !== undefined && o.type !== 'memory') {
    throw new ConfigError(`${P} type must be "memory", got ${describe(o.type)}`, {
      field: 'type',
    });
  }
  const maxKeys = positive(o.maxKeys, 'maxKeys') ?? 0;
  const maxMemoryBytes = positive(o.maxMemoryBytes, 'maxMemoryBytes') ?? 0;
  const defaultTtlMs = positive(o.defaultTtlMs, 'defaultTtlMs');
  if (o.evictionPolicy !== undefined && !POLICIES.includes(o.evictionPolicy)) {
    throw new ConfigError(
      `${P} evictionPolicy must be one of ${POLICIES.join(', ')}, got ${describe(o.evictionPolicy)}`,
      { field: 'evictionPolicy' },
    );
  }
  const limited = maxKeys > 0 || maxMemoryBytes > 0;
  const evictionPolicy = o.evictionPolicy ?? (limited ? 'allkeys-lru' : 'noeviction');
  if (o.keyPrefix !== undefined && (typeof o.keyPrefix !== 'string' || o.keyPrefix.length === 0)) {
    throw new ConfigError(
      `${P} keyPrefix must be a non-empty string, got ${describe(o.keyPrefix)}`,
      {
        field: 'keyPrefix',
      },
    );
  }
  if (o.keyPrefix !== undefined && /[{}]/.test(o.keyPrefix)) {
    throw new ConfigError(`${P} keyPrefix must not contain "{" or "}"`, { field: 'keyPrefix' });
  }
  if (o.clock !== undefined && typeof o.clock !== 'function') {
    throw new ConfigError(`${P} clock must be a function returning ms, got ${describe(o.clock)}`, {
      field: 'clock',
    });
  }
  if (o.activeExpiry !== undefined && typeof o.activeExpiry !== 'boolean') {
    throw new ConfigError(`${P} activeExpiry must be a boolean, got ${describe(o.activeExpiry)}`, {
      field: 'activeExpiry',
    });
  }
  return {
    maxKeys,
    maxMemoryBytes,
    evictionPolicy,
    keyPrefix: o.keyPrefix,
    defaultTtlMs,
    clock: o.clock ?? Date.now,
    activeExpiry: o.activeExpiry ?? true,
  };
}
