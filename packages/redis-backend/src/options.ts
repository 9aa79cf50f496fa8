import type { ConnectionOptions as TlsOptions } from 'node:tls';
import {
  ConfigError,
  parseBackendConfig,
  parseRedisUrl,
  type RedisAddress,
  type RedisConfig,
  type redisConfigSchema,
} from '@redbrick/core';
import type { z } from 'zod';

/** A validated Redis config (what `parseBackendConfig` returns for `type: 'redis'`). */
export type ParsedRedisConfig = z.output<typeof redisConfigSchema>;

/** What `createRedisBackend` accepts: a Redis config, with or without `type: 'redis'`. */
export type RedisBackendConfig = RedisConfig | Omit<RedisConfig, 'type'>;

export type Mode = 'single' | 'sentinel' | 'cluster';

interface Endpoint {
  host: string;
  port: number;
}

/** Everything the backend needs to open connections, resolved once from the config. */
export interface Settings {
  readonly mode: Mode;
  readonly kind: 'redis' | 'redis-cluster' | 'redis-sentinel';
  /** Where we connect, with every password replaced by `***` (for errors and inspect). */
  readonly target: string;
  readonly db: number;
  /** Strings that must never appear in an error message. */
  readonly secrets: readonly string[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: TlsOptions | undefined;
  readonly endpoint: Endpoint;
  readonly clusterNodes: readonly Endpoint[];
  readonly sentinels: readonly Endpoint[];
  readonly sentinelName: string | undefined;
  readonly sentinelPassword: string | undefined;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
  readonly autoPipelining: boolean;
  readonly enableKeyspaceEvents: boolean;
  readonly maxMemoryBytes: number | undefined;
  readonly maxMemoryPolicy: string | undefined;
  readonly keyPrefix: string | undefined;
  readonly defaultTtlMs: number | undefined;
}

const PKG = '[redbrick/redis-backend]';

/** Validates with core's schema; a config without `type` is taken as `type: 'redis'`. */
export function parseRedisBackendConfig(config: unknown): ParsedRedisConfig {
  const input =
    typeof config === 'object' && config !== null && !('type' in config)
      ? { type: 'redis', ...config }
      : config;
  if (typeof input === 'object' && input !== null && 'type' in input && input.type !== 'redis') {
    throw new ConfigError(
      `${PKG} createRedisBackend needs a Redis config (type: "redis"), got type ${JSON.stringify(input.type)}; use createBackend() from @redbrick/core to pick a backend by type`,
      { field: 'type' },
    );
  }
  const parsed = parseBackendConfig(input);
  if (parsed.type !== 'redis') {
    throw new ConfigError(`${PKG} expected a Redis config`, { field: 'type' });
  }
  return parsed;
}

function tlsOptions(
  value: ParsedRedisConfig['tls'],
  impliedByUrl: boolean,
): TlsOptions | undefined {
  if (value === false) return undefined;
  if (typeof value === 'object') return value as TlsOptions;
  return value === true || impliedByUrl ? {} : undefined;
}

function auth(username: string | undefined, password: string | undefined): string {
  if (password !== undefined) return `${username ?? ''}:***@`;
  if (username !== undefined) return `${username}@`;
  return '';
}

/** Resolves a parsed config into connection settings. */
export function resolveSettings(config: ParsedRedisConfig): Settings {
  const fromUrl: RedisAddress | undefined =
    config.url === undefined ? undefined : parseRedisUrl(config.url, 'url');
  const base = {
    commandTimeoutMs: config.commandTimeoutMs ?? 2000,
    connectTimeoutMs: config.connectTimeoutMs ?? 2000,
    maxConnections: config.maxConnections ?? 10,
    autoPipelining: config.autoPipelining ?? false,
    enableKeyspaceEvents: config.enableKeyspaceEvents ?? true,
    maxMemoryBytes: config.maxMemoryBytes,
    maxMemoryPolicy: config.maxMemoryPolicy,
    keyPrefix: config.keyPrefix,
    defaultTtlMs: config.defaultTtlMs,
  };

  if (config.cluster) {
    const nodes = config.cluster.nodes.map((n, i) => parseRedisUrl(n, `cluster.nodes[${i}]`));
    const first = nodes[0];
    const username = config.username ?? first?.username;
    const password = config.password ?? first?.password;
    const db = config.db ?? fromUrl?.db ?? 0;
    if (db !== 0) {
      throw new ConfigError(`${PKG} Redis Cluster has only database 0, got db ${db}`, {
        field: 'db',
      });
    }
    const tls = tlsOptions(
      config.tls,
      nodes.some((n) => n.tls),
    );
    const scheme = tls ? 'rediss' : 'redis';
    return {
      ...base,
      mode: 'cluster',
      kind: 'redis-cluster',
      target: `${scheme}://${auth(username, password)}${nodes.map((n) => `${n.host}:${n.port}`).join(',')} (cluster)`,
      db: 0,
      secrets: secretsOf(password, ...nodes.map((n) => n.password)),
      username,
      password,
      tls,
      endpoint: { host: first?.host ?? '127.0.0.1', port: first?.port ?? 6379 },
      clusterNodes: nodes.map(({ host, port }) => ({ host, port })),
      sentinels: [],
      sentinelName: undefined,
      sentinelPassword: undefined,
    };
  }

  if (config.sentinel) {
    const sentinels = config.sentinel.sentinels.map((n, i) =>
      parseRedisUrl(n, `sentinel.sentinels[${i}]`),
    );
    const username = config.username ?? fromUrl?.username;
    const password = config.password ?? fromUrl?.password;
    const sentinelPassword = config.sentinel.sentinelPassword ?? sentinels[0]?.password;
    const db = config.db ?? fromUrl?.db ?? 0;
    const tls = tlsOptions(config.tls, fromUrl?.tls ?? false);
    return {
      ...base,
      mode: 'sentinel',
      kind: 'redis-sentinel',
      target: `redis-sentinel://${auth(username, password)}${sentinels.map((n) => `${n.host}:${n.port}`).join(',')}/${db} (master "${config.sentinel.name}")`,
      db,
      secrets: secretsOf(password, sentinelPassword, ...sentinels.map((n) => n.password)),
      username,
      password,
      tls,
      endpoint: { host: sentinels[0]?.host ?? '127.0.0.1', port: sentinels[0]?.port ?? 26379 },
      clusterNodes: [],
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      sentinelName: config.sentinel.name,
      sentinelPassword,
    };
  }

  const host = config.host ?? fromUrl?.host ?? '127.0.0.1';
  const port = config.port ?? fromUrl?.port ?? 6379;
  const username = config.username ?? fromUrl?.username;
  const password = config.password ?? fromUrl?.password;
  const db = config.db ?? fromUrl?.db ?? 0;
  const tls = tlsOptions(config.tls, fromUrl?.tls ?? false);
  return {
    ...base,
    mode: 'single',
    kind: 'redis',
    target: `${tls ? 'rediss' : 'redis'}://${auth(username, password)}${host.includes(':') ? `[${host}]` : host}:${port}/${db}`,
    db,
    secrets: secretsOf(password),
    username,
    password,
    tls,
    endpoint: { host, port },
    clusterNodes: [],
    sentinels: [],
    sentinelName: undefined,
    sentinelPassword: undefined,
  };
}

function secretsOf(...values: Array<string | undefined>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (v === undefined || v.length === 0) continue;
    out.add(v);
    out.add(encodeURIComponent(v));
  }
  return [...out].sort((a, b) => b.length - a.length);
}
