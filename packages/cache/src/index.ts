export {
  type Cache,
  type CacheEntry,
  type CacheEvents,
  type CacheStats,
  createCache,
} from './cache.js';
export { type CachedOptions, cached } from './cached.js';
export { FactoryTimeoutError } from './errors.js';
export type {
  CacheOptions,
  GetOrSetOptions,
  L1Options,
  SetEntryOptions,
  SetManyItem,
} from './options.js';
