import type { Backend, Codec } from '@redbrick/core';
import { assertInteger, assertKey, describe, ValidationError } from '@redbrick/core';
import type { ZodType } from 'zod';

/** Limits of the in-process (L1) tier. */
export interface L1Options {
  /** Most entries held in process memory. @default 10000 */
  maxEntries?: number;
  /** Most estimated bytes (UTF-16 length × 2 of the stored form) held in process memory. @default 67108864 (64 MiB) */
  maxBytes?: number;
}

/** Options of {@link createCache}. */
export interface CacheOptions<V> {
  /** The L2 store: any redbrick `Backend` (memory, Redis, Cluster, a scoped view). */
  backend: Backend;
  /** Name of this cache: its keys live under `cache:<name>:`. @default 'default' */
  name?: string;
  /** Time to live of an entry in ms. @default backend.defaultTtlMs, else 60000 */
  ttlMs?: number;
  /**
   * How long in ms after its TTL an entry may still be served stale: while a
   * refresh runs in the background, when the factory throws, or when the
   * backend is down. The physical TTL on the backend is `ttlMs + graceMs`.
   * @default 0 (no stale values)
   */
  graceMs?: number;
  /** The in-process tier; `false` turns it off. @default { maxEntries: 10000, maxBytes: 64 MiB } */
  l1?: L1Options | false;
  /** Validates values on write and on read; bad stored data becomes a `ValidationError`. */
  schema?: ZodType<V>;
  /** How values are stored. @default core's `json` codec (round-trips Date, BigInt, Map, Set, …) */
  codec?: Codec<unknown>;
  /**
   * With a stale value at hand, how long in ms `getOrSet` waits for the
   * refresh before returning the stale value (the refresh keeps running and
   * stores its result). Without it, a stale value is returned at once and
   * refreshed in the background (stale-while-revalidate).
   * @default none (serve stale at once)
   */
  softTimeoutMs?: number;
  /** A factory slower than this (ms) fails the call with `TIMEOUT` (or serves a stale value). @default none */
  hardTimeoutMs?: number;
  /**
   * Upper bound in ms of every backend call made by the cache. A slower call
   * counts as a failure: reads fall back to L1 / grace values.
   * @default 1000
   */
  backendTimeoutMs?: number;
  /**
   * `'process'`: concurrent `getOrSet` of one key runs the factory once per
   * process. `'distributed'`: also takes a lock on the backend so only one
   * process computes; the others wait for its value.
   * @default 'process'
   */
  singleFlight?: 'process' | 'distributed';
  /** How long in ms a distributed single-flight lock is held at most. @default hardTimeoutMs ?? 10000 */
  lockTtlMs?: number;
  /** Evict L1 entries on every instance over pub/sub when one instance writes. @default true (when L1 is on) */
  invalidation?: boolean;
}

/** Options of `set`. */
export interface SetEntryOptions {
  /** Time to live in ms. @default the cache's `ttlMs` */
  ttlMs?: number;
  /** Grace period in ms. @default the cache's `graceMs` */
  graceMs?: number;
  /** Tags for `invalidateTags`. */
  tags?: string[];
  /** JSON metadata stored beside the value, with the same TTL (see `getEntry`). */
  meta?: Record<string, unknown>;
}

/** Options of `getOrSet`. */
export interface GetOrSetOptions {
  /** Time to live in ms of a computed value. @default the cache's `ttlMs` */
  ttlMs?: number;
  /** Grace period in ms. @default the cache's `graceMs` */
  graceMs?: number;
  /** Tags of a computed value. */
  tags?: string[];
  /** Metadata of a computed value. */
  meta?: Record<string, unknown>;
  /** @default the cache's `softTimeoutMs` */
  softTimeoutMs?: number;
  /** @default the cache's `hardTimeoutMs` */
  hardTimeoutMs?: number;
}

/** One item of `setMany`. */
export interface SetManyItem<V> {
  key: string;
  value: V;
  /** Time to live in ms. @default the cache's `ttlMs` */
  ttlMs?: number;
}

/** Throws unless `value` is an integer ≥ `min` (or undefined). */
export function checkOptionalInt(value: unknown, field: string, min: number): void {
  if (value === undefined) return;
  assertInteger(value, field, { min, pkg: 'cache' });
}

/** Throws unless `key` is a non-empty string. */
export function checkKey(k: unknown, field = 'key'): asserts k is string {
  assertKey(k, field, 'cache');
}

/** Throws unless `tags` is an array of non-empty strings (or undefined). */
export function checkTags(tags: unknown, field = 'tags'): void {
  if (tags === undefined) return;
  if (!Array.isArray(tags)) {
    throw new ValidationError(
      `[redbrick/cache] ${field} must be an array of non-empty strings, got ${describe(tags)}`,
      { field },
    );
  }
  tags.forEach((t, i) => {
    assertKey(t, `${field}[${i}]`, 'cache');
  });
}

/** Throws unless `meta` is a plain object (or undefined). */
export function checkMeta(meta: unknown): void {
  if (meta === undefined) return;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new ValidationError(
      `[redbrick/cache] meta must be a plain object, got ${describe(meta)}`,
      { field: 'meta' },
    );
  }
}

/** Validates per-write TTL options. */
export function checkWriteOptions(
  options: { ttlMs?: unknown; graceMs?: unknown } | undefined,
): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(
      `[redbrick/cache] options must be an object, got ${describe(options)}`,
      { field: 'options' },
    );
  }
  checkOptionalInt(options.ttlMs, 'ttlMs', 1);
  checkOptionalInt(options.graceMs, 'graceMs', 0);
}
