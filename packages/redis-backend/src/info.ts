import type { BackendInfo } from '@redbrick/core';

/** Parses `INFO` text into `field → value` (section headers and blank lines skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

function num(raw: Record<string, string>, field: string): number {
  const n = Number(raw[field]);
  return Number.isFinite(n) ? n : 0;
}

/** `db0:keys=1,expires=0,avg_ttl=0` → { keys, expires } of one database. */
function keyspace(raw: Record<string, string>, db: number): { keys: number; expires: number } {
  const line = raw[`db${db}`];
  if (line === undefined) return { keys: 0, expires: 0 };
  const fields = new Map(line.split(',').map((kv) => kv.split('=') as [string, string]));
  return { keys: Number(fields.get('keys') ?? 0), expires: Number(fields.get('expires') ?? 0) };
}

/** One node's INFO as the normalised {@link BackendInfo}. */
export function toBackendInfo(
  kind: string,
  raw: Record<string, string>,
  db: number,
  keyspaceEvents: string,
): BackendInfo {
  const { keys, expires } = keyspace(raw, db);
  const role =
    raw.role === 'master'
      ? 'master'
      : raw.role === 'slave' || raw.role === 'replica'
        ? 'replica'
        : 'none';
  return {
    backend: kind,
    serverVersion: raw.redis_version ?? '',
    usedMemoryBytes: num(raw, 'used_memory'),
    maxMemoryBytes: num(raw, 'maxmemory'),
    maxMemoryPolicy: raw.maxmemory_policy ?? '',
    keys,
    expiringKeys: expires,
    opsPerSec: num(raw, 'instantaneous_ops_per_sec'),
    connectedClients: num(raw, 'connected_clients'),
    evictedKeys: num(raw, 'evicted_keys'),
    expiredKeys: num(raw, 'expired_keys'),
    role,
    keyspaceEvents,
    raw,
  };
}

/**
 * Sums the primaries of a cluster: counters and memory are added, the
 * memory limit is the sum (0 — unlimited — when any primary is unlimited),
 * and version, policy and keyspace events come from the first primary.
 * `raw` holds the first primary's fields plus `cluster_primaries`.
 */
export function aggregateInfo(kind: string, nodes: readonly BackendInfo[]): BackendInfo {
  const [first] = nodes;
  if (first === undefined) {
    return toBackendInfo(kind, {}, 0, '');
  }
  const sum = (pick: (i: BackendInfo) => number) => nodes.reduce((acc, i) => acc + pick(i), 0);
  return {
    backend: kind,
    serverVersion: first.serverVersion,
    usedMemoryBytes: sum((i) => i.usedMemoryBytes),
    maxMemoryBytes: nodes.some((i) => i.maxMemoryBytes === 0) ? 0 : sum((i) => i.maxMemoryBytes),
    maxMemoryPolicy: first.maxMemoryPolicy,
    keys: sum((i) => i.keys),
    expiringKeys: sum((i) => i.expiringKeys),
    opsPerSec: sum((i) => i.opsPerSec),
    connectedClients: sum((i) => i.connectedClients),
    evictedKeys: sum((i) => i.evictedKeys),
    expiredKeys: sum((i) => i.expiredKeys),
    role: 'master',
    keyspaceEvents: first.keyspaceEvents,
    raw: { ...first.raw, cluster_primaries: String(nodes.length) },
  };
}
