import type { Backend, BackendInfo } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';

/** Options of {@link health}. */
export interface HealthOptions {
  /** PINGs to time. @default 5 */
  samples?: number;
  /** Memory use at or above this fraction of `maxmemory` is unhealthy. @default 0.9 */
  memoryLimitRatio?: number;
  /** p99 PING latency at or above this is unhealthy, in ms. @default 250 */
  maxLatencyMs?: number;
}

/** The figures {@link health} reports. */
export interface HealthReport {
  /** True when nothing in `reasons`. */
  ok: boolean;
  /** Why it is unhealthy (empty when `ok`). */
  reasons: string[];
  /** Things worth knowing that do not make it unhealthy (e.g. an eviction policy unsafe for queues). */
  warnings: string[];
  /** `backend.kind`. */
  backend: string;
  serverVersion: string;
  /** PING round trips in ms. */
  latency: { samples: number; p50: number; p99: number; max: number };
  memory: {
    usedBytes: number;
    /** 0 when unlimited. */
    maxBytes: number;
    /** `usedBytes / maxBytes`, or null when unlimited. */
    ratio: number | null;
    /** `maxmemory-policy` (memory backend: its eviction policy). */
    policy: string;
  };
  keys: { total: number; expiring: number; evicted: number; expired: number };
  connectedClients: number;
  role: BackendInfo['role'];
  /** The `notify-keyspace-events` setting (`''` when off). */
  keyspaceEvents: string;
  opsPerSec: number;
  /** Keyspace hits / (hits + misses) since the server started, or null when unknown. */
  hitRate: number | null;
}

const PKG = '[redbrick/cli]';

/** The q-quantile (0..1) of sorted numbers, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Hit rate from INFO's `keyspace_hits` / `keyspace_misses`, when present. */
export function hitRate(info: BackendInfo): number | null {
  const hits = Number(info.raw.keyspace_hits);
  const misses = Number(info.raw.keyspace_misses);
  if (!Number.isFinite(hits) || !Number.isFinite(misses) || hits + misses === 0) return null;
  return hits / (hits + misses);
}

/**
 * Checks a backend: PING latency (p50/p99 over `samples`), memory against
 * `maxmemory`, eviction policy (anything but `noeviction` can drop queue
 * and lock keys: a warning), evicted/expired keys, clients, role and the
 * keyspace-notification setting. Throws only on bad options; an
 * unreachable backend gives `ok: false` with the reason.
 */
export async function health(backend: Backend, options: HealthOptions = {}): Promise<HealthReport> {
  const samples = options.samples ?? 5;
  const limit = options.memoryLimitRatio ?? 0.9;
  const maxLatency = options.maxLatencyMs ?? 250;
  if (!Number.isInteger(samples) || samples < 1 || samples > 1000) {
    throw new ValidationError(`${PKG} samples must be an integer from 1 to 1000`, {
      field: 'samples',
    });
  }
  if (!(limit > 0 && limit <= 1)) {
    throw new ValidationError(`${PKG} memoryLimitRatio must be a number in (0, 1]`, {
      field: 'memoryLimitRatio',
    });
  }
  if (!(maxLatency > 0)) {
    throw new ValidationError(`${PKG} maxLatencyMs must be a positive number of ms`, {
      field: 'maxLatencyMs',
    });
  }
  const reasons: string[] = [];
  const warnings: string[] = [];
  const times: number[] = [];
  let info: BackendInfo | undefined;
  try {
    for (let i = 0; i < samples; i++) times.push(await backend.ping());
    info = await backend.info();
  } catch (error) {
    reasons.push(`cannot reach the backend: ${(error as Error).message}`);
  }
  times.sort((a, b) => a - b);
  const latency = {
    samples: times.length,
    p50: round(quantile(times, 0.5)),
    p99: round(quantile(times, 0.99)),
    max: round(times.at(-1) ?? 0),
  };
  if (info !== undefined && latency.p99 >= maxLatency) {
    reasons.push(`PING p99 ${latency.p99} ms is at or above ${maxLatency} ms`);
  }
  const used = info?.usedMemoryBytes ?? 0;
  const max = info?.maxMemoryBytes ?? 0;
  const ratio = max > 0 ? used / max : null;
  if (ratio !== null && ratio >= limit) {
    reasons.push(
      `memory ${(ratio * 100).toFixed(1)}% of maxmemory (${used} of ${max} bytes), limit ${(limit * 100).toFixed(0)}%`,
    );
  }
  const policy = info?.maxMemoryPolicy ?? '';
  if (info !== undefined && policy !== 'noeviction' && policy !== '') {
    warnings.push(
      `eviction policy "${policy}" may evict queue, stream and lock keys; "noeviction" is the safe setting for queues`,
    );
  }
  if (info !== undefined && info.evictedKeys > 0) {
    warnings.push(`${info.evictedKeys} key(s) were evicted since the server started`);
  }
  if (info !== undefined && info.role === 'replica') {
    warnings.push('connected to a replica: writes will fail');
  }
  return {
    ok: reasons.length === 0,
    reasons,
    warnings,
    backend: info?.backend ?? backend.kind,
    serverVersion: info?.serverVersion ?? '',
    latency,
    memory: { usedBytes: used, maxBytes: max, ratio, policy },
    keys: {
      total: info?.keys ?? 0,
      expiring: info?.expiringKeys ?? 0,
      evicted: info?.evictedKeys ?? 0,
      expired: info?.expiredKeys ?? 0,
    },
    connectedClients: info?.connectedClients ?? 0,
    role: info?.role ?? 'none',
    keyspaceEvents: info?.keyspaceEvents ?? '',
    opsPerSec: info?.opsPerSec ?? 0,
    hitRate: info === undefined ? null : hitRate(info),
  };
}
