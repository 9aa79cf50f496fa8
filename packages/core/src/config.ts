import { z } from 'zod';
import { ConfigError } from './errors.js';

const positiveInt = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be an integer` })
    .positive({ error: `${what} must be a positive integer` });

const port = z
  .number({ error: 'port must be a number' })
  .int({ error: 'port must be an integer from 1 to 65535' })
  .min(1, { error: 'port must be an integer from 1 to 65535' })
  .max(65535, { error: 'port must be an integer from 1 to 65535' });

const evictionPolicies = ['noeviction', 'allkeys-lru', 'volatile-lru'] as const;

/** Options of the in-process memory backend. */
export const memoryConfigSchema = z.strictObject({
  type: z.literal('memory'),
  /** Evict (LRU) when more keys than this exist. */
  maxKeys: positiveInt('maxKeys').optional(),
  /** Evict (LRU) when the estimated size exceeds this many bytes. */
  maxMemoryBytes: positiveInt('maxMemoryBytes').optional(),
  /** What to do at a limit. @default 'allkeys-lru' when a limit is set */
  evictionPolicy: z
    .enum(evictionPolicies, {
      error: `evictionPolicy must be one of ${evictionPolicies.join(', ')}`,
    })
    .optional(),
  /** Prefix for every key (like `backend.scoped()`, applied at the root). */
  keyPrefix: z.string().min(1, { error: 'keyPrefix must be a non-empty string' }).optional(),
  /** Default TTL in ms used by services that take one (e.g. the cache) when a call gives none. */
  defaultTtlMs: positiveInt('defaultTtlMs').optional(),
});
export type MemoryConfig = z.input<typeof memoryConfigSchema>;

/** A Redis server address: a `redis://` / `rediss://` URL or `host:port`. */
const nodeAddress = z.string().min(1, { error: 'a node address must be a non-empty string' });

/** Options of the Redis backend (single node, Cluster or Sentinel). */
export const redisConfigSchema = z.strictObject({
  type: z.literal('redis'),
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: z.string().optional(),
  host: z.string().min(1, { error: 'host must be a non-empty string' }).optional(),
  port: port.optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  db: z.number().int().min(0, { error: 'db must be an integer ≥ 0' }).optional(),
  /** Use TLS (implied by `rediss://`). */
  tls: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
  /** Redis Cluster: the seed nodes. */
  cluster: z
    .strictObject({
      nodes: z.array(nodeAddress).min(1, { error: 'cluster.nodes must list at least one node' }),
    })
    .optional(),
  /** Sentinel: the sentinels and the monitored master's name. */
  sentinel: z
    .strictObject({
      sentinels: z
        .array(nodeAddress)
        .min(1, { error: 'sentinel.sentinels must list at least one sentinel' }),
      name: z.string().min(1, { error: 'sentinel.name must be a non-empty string' }),
      sentinelPassword: z.string().optional(),
    })
    .optional(),
  /** Prefix for every key (applied at the root view). Env: `REDIS_KEY_PREFIX`. */
  keyPrefix: z.string().min(1, { error: 'keyPrefix must be a non-empty string' }).optional(),
  /** Default TTL in ms for services that take one. Env: `REDIS_DEFAULT_TTL` (seconds). */
  defaultTtlMs: positiveInt('defaultTtlMs').optional(),
  /** Upper bound of connections (command + subscriber + blocking). Env: `REDIS_MAX_CONNECTIONS`. @default 10 */
  maxConnections: positiveInt('maxConnections').optional(),
  /** A command that gets no reply within this many ms fails with BackendUnavailableError. @default 2000 */
  commandTimeoutMs: positiveInt('commandTimeoutMs').optional(),
  /** Give up connecting after this many ms. @default 2000 */
  connectTimeoutMs: positiveInt('connectTimeoutMs').optional(),
  /** ioredis auto-pipelining. @default false (measured slower with few calls in flight) */
  autoPipelining: z.boolean().optional(),
  /** Apply `maxmemory` on connect (bytes). */
  maxMemoryBytes: positiveInt('maxMemoryBytes').optional(),
  /** Apply `maxmemory-policy` on connect. */
  maxMemoryPolicy: z.string().min(1).optional(),
  /** Enable `notify-keyspace-events Ex` when `onExpired` is used (needs CONFIG). @default true */
  enableKeyspaceEvents: z.boolean().optional(),
});
export type RedisConfig = z.input<typeof redisConfigSchema>;

/** Options of the shared-memory backend (a host process owns the data). */
export const sharedMemoryConfigSchema = z.strictObject({
  type: z.literal('shared-memory'),
  /** Calls that get no answer from the host within this many ms fail. @default 2000 */
  commandTimeoutMs: positiveInt('commandTimeoutMs').optional(),
  keyPrefix: z.string().min(1, { error: 'keyPrefix must be a non-empty string' }).optional(),
  defaultTtlMs: positiveInt('defaultTtlMs').optional(),
});
export type SharedMemoryConfig = z.input<typeof sharedMemoryConfigSchema>;

export const backendConfigSchema = z.discriminatedUnion(
  'type',
  [memoryConfigSchema, redisConfigSchema, sharedMemoryConfigSchema],
  { error: 'type must be one of "memory", "redis", "shared-memory"' },
);
export type BackendConfig = z.input<typeof backendConfigSchema>;

/** A parsed `redis://` URL. The password never appears in `toString()` or errors. */
export interface RedisAddress {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db?: number;
}

/** Replaces the password in a Redis URL with `***`, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon === -1 ? `${scheme}***@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` (or `rediss://`, or a
 * bare `host:port`). Throws a ConfigError naming `field` on anything else.
 */
export function parseRedisUrl(url: string, field = 'url'): RedisAddress {
  if (typeof url !== 'string' || url.length === 0) {
    throw new ConfigError(`[redbrick/core] ${field} must be a non-empty string`, { field });
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `redis://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new ConfigError(
      `[redbrick/core] ${field} is not a valid URL: ${redactUrl(url)} (expected redis://[user:password@]host[:port][/db])`,
      { field },
    );
  }
  const scheme = parsed.protocol;
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new ConfigError(
      `[redbrick/core] ${field} has the unknown scheme "${scheme}" (allowed: redis://, rediss://)`,
      { field },
    );
  }
  if (!parsed.hostname) throw new ConfigError(`[redbrick/core] ${field} has no host`, { field });
  let portNumber = 6379;
  if (parsed.port !== '') portNumber = Number(parsed.port);
  if (!Number.isSafeInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new ConfigError(`[redbrick/core] ${field}: port must be an integer from 1 to 65535`, {
      field: `${field}.port`,
    });
  }
  const address: RedisAddress = {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: portNumber,
    tls: scheme === 'rediss:',
  };
  if (parsed.username) address.username = decodeURIComponent(parsed.username);
  if (parsed.password) address.password = decodeURIComponent(parsed.password);
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '') {
    const db = Number(path);
    if (!/^\d+$/.test(path) || !Number.isSafeInteger(db)) {
      throw new ConfigError(
        `[redbrick/core] ${field}: database must be an integer ≥ 0, got "${path}"`,
        {
          field: `${field}.db`,
        },
      );
    }
    address.db = db;
  }
  return address;
}

function zodToConfigError(error: z.ZodError): ConfigError {
  const first = error.issues[0];
  const path = first?.path.map(String).join('.') || 'config';
  const message = error.issues
    .map((issue) => {
      const where = issue.path.map(String).join('.') || 'config';
      if (issue.code === 'unrecognized_keys')
        return `${where}: unknown option(s) ${issue.keys.join(', ')}`;
      return `${where}: ${issue.message}`;
    })
    .join('; ');
  return new ConfigError(`[redbrick/core] invalid backend config — ${message}`, {
    field: path,
    cause: error,
  });
}

/** Validates a backend config; throws a ConfigError naming the field and what is allowed. */
export function parseBackendConfig(
  config: unknown = { type: 'memory' },
): z.output<typeof backendConfigSchema> {
  const result = backendConfigSchema.safeParse(config);
  if (!result.success) throw zodToConfigError(result.error);
  const value = result.data;
  if (value.type === 'redis') {
    if (value.url !== undefined) parseRedisUrl(value.url, 'url');
    for (const [i, node] of (value.cluster?.nodes ?? []).entries())
      parseRedisUrl(node, `cluster.nodes[${i}]`);
    for (const [i, node] of (value.sentinel?.sentinels ?? []).entries()) {
      parseRedisUrl(node, `sentinel.sentinels[${i}]`);
    }
    if (value.cluster && value.sentinel) {
      throw new ConfigError(
        '[redbrick/core] invalid backend config — use either cluster or sentinel, not both',
        {
          field: 'cluster',
        },
      );
    }
  }
  for (const prefixField of ['keyPrefix'] as const) {
    const p = value[prefixField];
    if (p !== undefined && (p.includes('{') || p.includes('}'))) {
      throw new ConfigError(
        `[redbrick/core] invalid backend config — keyPrefix must not contain "{" or "}"`,
        {
          field: prefixField,
        },
      );
    }
  }
  return value;
}

/** Splits a comma-separated list of cluster seed nodes (`REDIS_CLUSTER_NODES`, a `--cluster` flag), dropping blanks. */
export function parseNodeList(text: string): string[] {
  return text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
}

/** Reads a backend config from environment variables (memory when `REDIS_URL` is unset). */
export function configFromEnv(
  env: Record<string, string | undefined> = process.env,
): BackendConfig {
  const url = env.REDIS_URL?.trim();
  const clusterNodes = env.REDIS_CLUSTER_NODES?.trim();
  const common: { keyPrefix?: string; defaultTtlMs?: number } = {};
  if (env.REDIS_KEY_PREFIX) common.keyPrefix = env.REDIS_KEY_PREFIX;
  if (env.REDIS_DEFAULT_TTL)
    common.defaultTtlMs = envNumber(env.REDIS_DEFAULT_TTL, 'REDIS_DEFAULT_TTL') * 1000;
  if (!url && !clusterNodes) return { type: 'memory', ...common };
  const config: RedisConfig = { type: 'redis', ...common };
  if (clusterNodes) config.cluster = { nodes: parseNodeList(clusterNodes) };
  else if (url) config.url = url;
  if (env.REDIS_MAX_CONNECTIONS)
    config.maxConnections = envNumber(env.REDIS_MAX_CONNECTIONS, 'REDIS_MAX_CONNECTIONS');
  return config;
}

function envNumber(raw: string, name: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(
      `[redbrick/core] environment variable ${name} must be a positive integer, got "${raw}"`,
      {
        field: name,
      },
    );
  }
  return n;
}
