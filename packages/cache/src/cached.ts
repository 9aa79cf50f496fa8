import { describe, ValidationError } from '@redbrick/core';
import type { Cache } from './cache.js';
import type { GetOrSetOptions } from './options.js';

/** Options of {@link cached}. */
export interface CachedOptions<A extends unknown[], V> extends GetOrSetOptions {
  /** The cache that holds the results. */
  cache: Cache<V>;
  /** Builds the cache key from the call's arguments. */
  key: (...args: A) => string;
}

/**
 * Memoises an async function in a cache: calls with the same key share one
 * cached result (and one running computation).
 *
 * @example
 * const getUser = cached((id: string) => db.users.find(id), { cache, key: (id) => `user:${id}`, ttlMs: 60_000 });
 */
export function cached<A extends unknown[], V>(
  fn: (...args: A) => Promise<V> | V,
  options: CachedOptions<A, V>,
): (...args: A) => Promise<V> {
  if (typeof fn !== 'function') {
    throw new ValidationError(`[redbrick/cache] fn must be a function, got ${describe(fn)}`, {
      field: 'fn',
    });
  }
  if (typeof options !== 'object' || options === null || typeof options.key !== 'function') {
    throw new ValidationError(
      '[redbrick/cache] options.key must be a function (...args) => string',
      {
        field: 'key',
      },
    );
  }
  if (typeof options.cache !== 'object' || options.cache === null) {
    throw new ValidationError('[redbrick/cache] options.cache must be a Cache from createCache()', {
      field: 'cache',
    });
  }
  const { cache, key, ...rest } = options;
  return (...args: A) => cache.getOrSet(key(...args), () => fn(...args), rest);
}
