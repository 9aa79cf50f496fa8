import type { Backend } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';
import { Gauge, Registry } from 'prom-client';
import { health } from './health.js';

/** Reads a package's counters: name → value (e.g. `{ hits: 10, misses: 2 }`). */
export type CounterSource = () => Record<string, number> | Promise<Record<string, number>>;

/** Options of {@link metricsRegistry}. */
export interface MetricsOptions {
  /** Registry to add the metrics to. @default a new `prom-client` Registry */
  registry?: Registry;
  /** Prefix of every metric name. @default 'redbrick_' */
  prefix?: string;
  /** PINGs per scrape for the latency figures. @default 3 */
  samples?: number;
}

/** A `prom-client` registry with the health figures and the registered package counters. */
export interface RedbrickMetrics {
  readonly registry: Registry;
  /**
   * Adds a package's counters, exposed as
   * `<prefix>package_counter{package="<name>",counter="<key>"}`. Calling
   * again with the same name replaces the source.
   */
  registerCounters(name: string, read: CounterSource): void;
  /** Removes a source added with {@link registerCounters}. */
  unregisterCounters(name: string): void;
}

const PKG = '[redbrick/cli]';

/**
 * Builds a Prometheus registry whose gauges are read from `health(backend)`
 * at every scrape (`<prefix>up`, latency p50/p99, memory used/max,
 * keys, evicted/expired keys, clients, ops/s, hit rate) plus every package
 * counter registered with {@link RedbrickMetrics.registerCounters}.
 */
export function metricsRegistry(backend: Backend, options: MetricsOptions = {}): RedbrickMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'redbrick_';
  const samples = options.samples ?? 3;
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix) && prefix !== '') {
    throw new ValidationError(`${PKG} prefix must match [a-zA-Z_:][a-zA-Z0-9_:]*`, {
      field: 'prefix',
    });
  }
  const sources = new Map<string, CounterSource>();
  const figures: Array<[string, string, (h: Awaited<ReturnType<typeof health>>) => number]> = [
    ['up', '1 when the backend is healthy, 0 when not', (h) => (h.ok ? 1 : 0)],
    ['ping_p50_seconds', 'PING round trip, median', (h) => h.latency.p50 / 1000],
    ['ping_p99_seconds', 'PING round trip, 99th percentile', (h) => h.latency.p99 / 1000],
    ['memory_used_bytes', 'memory used by the backend', (h) => h.memory.usedBytes],
    ['memory_max_bytes', 'maxmemory (0: unlimited)', (h) => h.memory.maxBytes],
    ['keys', 'keys in the database', (h) => h.keys.total],
    ['expiring_keys', 'keys with a TTL', (h) => h.keys.expiring],
    ['evicted_keys', 'keys evicted since start', (h) => h.keys.evicted],
    ['expired_keys', 'keys expired since start', (h) => h.keys.expired],
    ['connected_clients', 'connected clients', (h) => h.connectedClients],
    ['ops_per_second', 'commands per second', (h) => h.opsPerSec],
    ['hit_ratio', 'keyspace hits / (hits + misses) (-1: unknown)', (h) => h.hitRate ?? -1],
  ];
  let pending: ReturnType<typeof health> | undefined;
  // One health() per scrape, shared by every gauge's collect.
  const current = () => {
    if (pending === undefined) {
      pending = health(backend, { samples });
      setTimeout(() => {
        pending = undefined;
      }, 50).unref();
    }
    return pending;
  };
  for (const [name, help, pick] of figures) {
    new Gauge({
      name: `${prefix}${name}`,
      help: `redbrick: ${help}`,
      registers: [registry],
      async collect() {
        this.set(pick(await current()));
      },
    });
  }
  new Gauge({
    name: `${prefix}package_counter`,
    help: 'redbrick: counters of redbrick packages (cache hits, limiter allows, queue counts, …)',
    labelNames: ['package', 'counter'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [pkg, read] of sources) {
        const values = await read();
        for (const [counter, value] of Object.entries(values)) {
          if (Number.isFinite(value)) this.set({ package: pkg, counter }, value);
        }
      }
    },
  });
  return {
    registry,
    registerCounters(name, read) {
      if (typeof name !== 'string' || name.length === 0) {
        throw new ValidationError(`${PKG} counter source name must be a non-empty string`, {
          field: 'name',
        });
      }
      if (typeof read !== 'function') {
        throw new ValidationError(`${PKG} counter source "${name}" must be a function`, {
          field: 'read',
        });
      }
      sources.set(name, read);
    },
    unregisterCounters(name) {
      sources.delete(name);
    },
  };
}

/** The Prometheus text exposition of `metrics` (and its `Content-Type`), for a `/metrics` route. */
export async function renderMetrics(
  metrics: RedbrickMetrics | Registry,
): Promise<{ contentType: string; body: string }> {
  const registry = metrics instanceof Registry ? metrics : metrics.registry;
  return { contentType: registry.contentType, body: await registry.metrics() };
}
