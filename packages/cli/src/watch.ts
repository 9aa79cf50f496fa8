import type { Backend } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';
import { hitRate } from './health.js';

/** One refresh of {@link watch}. */
export interface WatchSample {
  /** ms since the epoch. */
  at: number;
  opsPerSec: number;
  usedMemoryBytes: number;
  maxMemoryBytes: number;
  connectedClients: number;
  /** Keyspace hit rate since start (0..1), null when unknown. */
  hitRate: number | null;
  evictedKeys: number;
  /** Keys evicted since the previous sample. */
  evictedDelta: number;
  keys: number;
  /** PING round trip in ms, or null when it failed. */
  latencyMs: number | null;
  /** Set when the backend could not be read this time. */
  error?: string;
}

/** Options of {@link watch}. */
export interface WatchOptions {
  /** Time between samples, in ms. @default 1000 */
  intervalMs?: number;
  /** Stop after this many samples. @default unlimited */
  count?: number;
  /** Stops the loop. */
  signal?: AbortSignal;
}

const PKG = '[redbrick/cli]';

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Samples the backend every `intervalMs` (INFO + PING); never throws on a backend failure. */
export async function* watch(
  backend: Backend,
  options: WatchOptions = {},
): AsyncGenerator<WatchSample> {
  const intervalMs = options.intervalMs ?? 1000;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  if (!(Number.isInteger(intervalMs) && intervalMs >= 10)) {
    throw new ValidationError(`${PKG} intervalMs must be an integer ≥ 10 (ms)`, {
      field: 'intervalMs',
    });
  }
  if (!(count === Number.POSITIVE_INFINITY || (Number.isInteger(count) && count > 0))) {
    throw new ValidationError(`${PKG} count must be a positive integer`, { field: 'count' });
  }
  let lastEvicted: number | undefined;
  for (let i = 0; i < count && options.signal?.aborted !== true; i++) {
    if (i > 0) await wait(intervalMs, options.signal);
    if (options.signal?.aborted) return;
    try {
      const latencyMs = await backend.ping();
      const info = await backend.info();
      const evictedDelta = lastEvicted === undefined ? 0 : info.evictedKeys - lastEvicted;
      lastEvicted = info.evictedKeys;
      yield {
        at: Date.now(),
        opsPerSec: info.opsPerSec,
        usedMemoryBytes: info.usedMemoryBytes,
        maxMemoryBytes: info.maxMemoryBytes,
        connectedClients: info.connectedClients,
        hitRate: hitRate(info),
        evictedKeys: info.evictedKeys,
        evictedDelta,
        keys: info.keys,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
      };
    } catch (error) {
      yield {
        at: Date.now(),
        opsPerSec: 0,
        usedMemoryBytes: 0,
        maxMemoryBytes: 0,
        connectedClients: 0,
        hitRate: null,
        evictedKeys: lastEvicted ?? 0,
        evictedDelta: 0,
        keys: 0,
        latencyMs: null,
        error: (error as Error).message,
      };
    }
  }
}
