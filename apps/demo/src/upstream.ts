import { type Cache, type CacheStats, createCache } from '@redbrick/cache';
import type { Backend } from '@redbrick/core';

/** What the slow upstream (a fictional model-catalog service) answers. */
export interface Answer {
  topic: string;
  answer: string;
  /** When the upstream computed it (Unix ms). */
  computedAt: number;
}

/** The cache counters the dashboard shows. */
export type CacheCounters = Pick<
  CacheStats,
  'hits' | 'misses' | 'hitRate' | 'staleServed' | 'l1Hits' | 'l2Hits'
>;

/** Settings of the slow upstream and its cache. */
export interface UpstreamSettings {
  /** Simulated upstream latency, in ms. @default 300 */
  latencyMs: number;
  /** How long an answer is fresh, in ms. @default 15_000 */
  ttlMs: number;
  /** How long a stale answer may be served while it is refreshed, in ms. @default 60_000 */
  graceMs: number;
}

/** The defaults of {@link UpstreamSettings}. */
export const DEFAULT_UPSTREAM: UpstreamSettings = {
  latencyMs: 300,
  ttlMs: 15_000,
  graceMs: 60_000,
};

/** One lookup through the cache. */
export interface Lookup {
  value: Answer;
  /** Did this request wait for the upstream (a miss it had to fill)? */
  fromUpstream: boolean;
  /** Time the request took, in ms. */
  ms: number;
}

/**
 * A slow upstream (~300 ms) behind `@redbrick/cache`'s `getOrSet`: one
 * upstream call per key however many requests ask at once, across instances
 * too (distributed single flight), stale answers served within the grace
 * period while a refresh runs.
 */
export class Upstream {
  readonly #cache: Cache<Answer>;
  readonly #latencyMs: number;
  #calls = 0;

  constructor(backend: Backend, settings: UpstreamSettings) {
    this.#cache = createCache<Answer>({
      backend,
      name: 'demo-upstream',
      ttlMs: settings.ttlMs,
      graceMs: settings.graceMs,
      singleFlight: 'distributed',
    });
    this.#latencyMs = settings.latencyMs;
  }

  async lookup(tenant: string, topic: string): Promise<Lookup> {
    const started = Date.now();
    let fromUpstream = false;
    const value = await this.#cache.getOrSet(`${tenant}/${topic}`, async () => {
      fromUpstream = true;
      this.#calls++;
      await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
      return {
        topic,
        answer: `${topic}: ${topic.length * 7} models available (computed upstream)`,
        computedAt: Date.now(),
      };
    });
    return { value, fromUpstream, ms: Date.now() - started };
  }

  /** Cache counters plus how often this process called the upstream. */
  stats(): CacheCounters & { upstreamCalls: number } {
    const { hits, misses, hitRate, staleServed, l1Hits, l2Hits } = this.#cache.stats();
    return { hits, misses, hitRate, staleServed, l1Hits, l2Hits, upstreamCalls: this.#calls };
  }

  close(): Promise<void> {
    return this.#cache.close();
  }
}
