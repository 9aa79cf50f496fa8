import type { Backend, SyncCommands } from '@redbrick/core';
import { defineScript, ValidationError } from '@redbrick/core';

/** Options of {@link stats}. */
export interface StatsOptions {
  /** SCAN glob of the keys to count. @default '*' */
  match?: string;
  /** How many `:`-separated segments name a namespace (`cache:user:1` → `cache` at 1). @default 1 */
  depth?: number;
  /** Keys per namespace whose memory is measured (the rest is extrapolated). @default 50 */
  sampleSize?: number;
}

/** TTL buckets of {@link stats}. */
export interface TtlDistribution {
  /** Keys without a TTL. */
  none: number;
  /** TTL under a minute. */
  underMinute: number;
  /** Under an hour. */
  underHour: number;
  /** Under a day. */
  underDay: number;
  /** A day or more. */
  overDay: number;
}

/** Figures of one namespace. */
export interface NamespaceStats {
  namespace: string;
  keys: number;
  /** Keys per type. */
  types: Record<string, number>;
  /** Bytes of the sampled keys (MEMORY USAGE on Redis, an estimate in memory). */
  sampledBytes: number;
  sampled: number;
  /** `sampledBytes / sampled × keys`, in bytes. */
  estimatedBytes: number;
  ttl: TtlDistribution;
}

/** What {@link stats} returns. */
export interface StatsReport {
  match: string;
  keys: number;
  namespaces: NamespaceStats[];
  ttl: TtlDistribution;
  opsPerSec: number;
  usedMemoryBytes: number;
}

const PKG = '[redbrick/cli]';

function estimate(r: SyncCommands, key: string): number {
  let bytes = 56 + key.length;
  switch (r.type(key)) {
    case 'string':
      bytes += (r.get(key) ?? '').length;
      break;
    case 'hash':
      for (const [f, v] of Object.entries(r.hgetall(key))) bytes += f.length + v.length + 16;
      break;
    case 'list':
      for (const v of r.lrange(key, 0, -1)) bytes += v.length + 16;
      break;
    case 'set':
      for (const v of r.smembers(key)) bytes += v.length + 16;
      break;
    case 'zset':
      bytes += r.zcard(key) * 48;
      break;
    case 'stream':
      for (const e of r.xrange(key, '-', '+')) {
        bytes += 32;
        for (const [f, v] of Object.entries(e.fields)) bytes += f.length + v.length;
      }
      break;
    default:
      return 0;
  }
  return bytes;
}

/** MEMORY USAGE of one key (0 when missing); in memory, an estimate from its contents. */
export const memoryUsageScript = defineScript<number>({
  name: 'cli.memoryUsage',
  keys: 1,
  lua: `--[[ cli.memoryUsage
  KEYS[1]  the key to measure
  returns  MEMORY USAGE in bytes, 0 when the key is missing ]]
return redis.call('MEMORY', 'USAGE', KEYS[1]) or 0`,
  local: (r, keys) => estimate(r, keys[0] as string),
  decode: (reply) => Number(reply ?? 0),
});

const emptyTtl = (): TtlDistribution => ({
  none: 0,
  underMinute: 0,
  underHour: 0,
  underDay: 0,
  overDay: 0,
});

function bucket(ttl: TtlDistribution, pttl: number): void {
  if (pttl < 0) ttl.none++;
  else if (pttl < 60_000) ttl.underMinute++;
  else if (pttl < 3_600_000) ttl.underHour++;
  else if (pttl < 86_400_000) ttl.underDay++;
  else ttl.overDay++;
}

/** The namespace of a key: its first `depth` `:`-separated segments. */
export function namespaceOf(key: string, depth = 1): string {
  const parts = key.split(':');
  if (parts.length <= depth) return parts.length > 1 ? parts.slice(0, -1).join(':') : '(none)';
  return parts.slice(0, depth).join(':');
}

/**
 * Counts keys per namespace with SCAN (never KEYS): types, TTL buckets and
 * memory sampled on the first `sampleSize` keys of each namespace
 * (MEMORY USAGE), extrapolated to the rest. One pass, 500 keys per round trip.
 */
export async function stats(backend: Backend, options: StatsOptions = {}): Promise<StatsReport> {
  const match = options.match ?? '*';
  const depth = options.depth ?? 1;
  const sampleSize = options.sampleSize ?? 50;
  if (typeof match !== 'string' || match.length === 0) {
    throw new ValidationError(`${PKG} match must be a non-empty glob pattern`, { field: 'match' });
  }
  if (!Number.isInteger(depth) || depth < 1) {
    throw new ValidationError(`${PKG} depth must be a positive integer`, { field: 'depth' });
  }
  if (!Number.isInteger(sampleSize) || sampleSize < 0) {
    throw new ValidationError(`${PKG} sampleSize must be an integer ≥ 0`, { field: 'sampleSize' });
  }
  const spaces = new Map<string, NamespaceStats>();
  const total = emptyTtl();
  let keys = 0;
  let batch: string[] = [];
  const flush = async () => {
    const p = backend.pipeline();
    for (const k of batch) {
      p.add('type', k);
      p.add('pttl', k);
    }
    const results = await p.exec();
    const samples: Array<{ ns: NamespaceStats; key: string }> = [];
    batch.forEach((k, i) => {
      const type = results[2 * i];
      const pttl = results[2 * i + 1];
      if (!type?.ok || !pttl?.ok || type.value === 'none') return;
      const name = namespaceOf(k, depth);
      let ns = spaces.get(name);
      if (ns === undefined) {
        ns = {
          namespace: name,
          keys: 0,
          types: {},
          sampledBytes: 0,
          sampled: 0,
          estimatedBytes: 0,
          ttl: emptyTtl(),
        };
        spaces.set(name, ns);
      }
      ns.keys++;
      keys++;
      const t = String(type.value);
      ns.types[t] = (ns.types[t] ?? 0) + 1;
      bucket(ns.ttl, pttl.value as number);
      bucket(total, pttl.value as number);
      if (ns.sampled + samples.filter((s) => s.ns === ns).length < sampleSize)
        samples.push({ ns, key: k });
    });
    const sizes = await Promise.all(
      samples.map((s) => backend.run(memoryUsageScript, [s.key]).catch(() => 0)),
    );
    samples.forEach((s, i) => {
      s.ns.sampled++;
      s.ns.sampledBytes += sizes[i] ?? 0;
    });
    batch = [];
  };
  for await (const k of backend.scan({ match, count: 500 })) {
    batch.push(k);
    if (batch.length >= 500) await flush();
  }
  if (batch.length > 0) await flush();
  for (const ns of spaces.values()) {
    ns.estimatedBytes = ns.sampled === 0 ? 0 : Math.round((ns.sampledBytes / ns.sampled) * ns.keys);
  }
  const info = await backend.info();
  return {
    match,
    keys,
    namespaces: [...spaces.values()].sort((a, b) => b.keys - a.keys),
    ttl: total,
    opsPerSec: info.opsPerSec,
    usedMemoryBytes: info.usedMemoryBytes,
  };
}
