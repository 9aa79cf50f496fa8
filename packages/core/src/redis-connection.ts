import type { Backend } from './backend.js';

/**
 * The well-known property under which a Redis backend (and every scoped view
 * of it) offers new raw client connections, for libraries that need their
 * own ioredis clients — BullMQ for `@redbrick/queue`. A `Symbol.for`, so two
 * installed copies of core agree on it.
 */
export const REDIS_CONNECTION: unique symbol = Symbol.for('redbrick.redis-connection') as never;

/** New raw connections configured like the backend's own (address, auth, TLS, timeouts). */
export interface RedisConnectionSource {
  /** True when the backend talks to a Redis Cluster (clients are ioredis `Cluster`s). */
  readonly cluster: boolean;
  /**
   * A new ioredis client (`Redis` or `Cluster`), not yet connected, that the
   * caller owns and closes: no command deadline, `maxRetriesPerRequest:
   * null` and an offline queue, so it rides out reconnects (what BullMQ
   * needs for workers and blocking reads).
   */
  createClient(): unknown;
  /**
   * True when an error a raw client threw means Redis cannot be answered
   * right now (connection lost, Cluster redirections exhausted during a
   * failover, CLUSTERDOWN, LOADING, …) rather than a bad command: callers
   * turn it into `BackendUnavailableError`, as the backend itself does.
   */
  isUnavailable?(error: unknown): boolean;
}

/** The backend's raw connection source, or undefined for backends that are not Redis (memory). */
export function redisConnectionSource(backend: Backend): RedisConnectionSource | undefined {
  const source = (backend as unknown as Record<symbol, unknown>)[REDIS_CONNECTION];
  if (typeof source !== 'object' || source === null) return undefined;
  const candidate = source as Partial<RedisConnectionSource>;
  return typeof candidate.createClient === 'function'
    ? (source as RedisConnectionSource)
    : undefined;
}
