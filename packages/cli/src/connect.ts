import type { Backend } from '@redbrick/core';
import { ConfigError, parseNodeList, parseRedisUrl, redactUrl } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { createRedisBackend } from '@redbrick/redis-backend';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `redis://[user:password@]host[:port][/db]`, `rediss://…`, or `memory://` (an empty in-process backend). @default env `REDIS_URL` (unless `REDIS_CLUSTER_NODES` is set), else `redis://127.0.0.1:6379` */
  url?: string | undefined;
  /**
   * Seed nodes of a Redis Cluster (`host:port` or `redis://[user:password@]host:port`); the
   * client discovers the others. Commands that scan keys scan every primary. Give `url` or
   * `cluster`, not both. @default env `REDIS_CLUSTER_NODES` (comma-separated) when neither is given
   */
  cluster?: readonly string[] | undefined;
  /** Environment to read `REDIS_URL` from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Give up connecting after this many ms. @default 2000 */
  connectTimeoutMs?: number;
  /** A command without reply after this many ms fails. @default 5000 */
  commandTimeoutMs?: number;
}

/** An open backend plus what the CLI needs to keep secrets out of its output. */
export interface Connection {
  backend: Backend;
  /** The URL with its password replaced by `***`. */
  display: string;
  /** Removes every secret of the URL from a text. */
  redact(text: string): string;
}

/**
 * Opens the backend named by `url` or `cluster` (else `REDIS_CLUSTER_NODES`, else `REDIS_URL`).
 * Throws a ConfigError when both are given or an address is not valid.
 */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const env = options.env ?? process.env;
  if (options.url !== undefined && options.cluster !== undefined) {
    throw new ConfigError('[redbrick/cli] give either url or cluster, not both', {
      field: 'cluster',
    });
  }
  const fromEnv = options.url === undefined && options.cluster === undefined;
  const envNodes = fromEnv ? parseNodeList(env.REDIS_CLUSTER_NODES ?? '') : [];
  // Like core's configFromEnv: REDIS_CLUSTER_NODES, when set, wins over REDIS_URL.
  const cluster =
    options.cluster !== undefined
      ? [...options.cluster]
      : envNodes.length > 0
        ? envNodes
        : undefined;
  const url = options.url ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (cluster === undefined && (url === 'memory://' || url === 'memory')) {
    return { backend: createMemoryBackend(), display: 'memory://', redact: (t) => t };
  }
  if (cluster !== undefined && cluster.length === 0) {
    throw new ConfigError('[redbrick/cli] cluster must list at least one host:port', {
      field: 'cluster',
    });
  }
  const field =
    cluster !== undefined
      ? fromEnv
        ? 'REDIS_CLUSTER_NODES'
        : 'cluster'
      : fromEnv
        ? 'REDIS_URL'
        : 'url';
  const addresses = (cluster ?? [url]).map((u) => parseRedisUrl(u, field));
  const secrets = addresses
    .flatMap((a) => [a.password, a.password && encodeURIComponent(a.password)])
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  const redact = (text: string) => {
    let out = redactUrl(text);
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const display =
    cluster === undefined ? redactUrl(url) : `${cluster.map(redactUrl).join(',')} (cluster)`;
  try {
    const backend = await createRedisBackend({
      type: 'redis',
      ...(cluster === undefined ? { url } : { cluster: { nodes: cluster } }),
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      commandTimeoutMs: options.commandTimeoutMs ?? 5000,
      enableKeyspaceEvents: false,
    });
    return { backend, display, redact };
  } catch (error) {
    if (error instanceof Error) error.message = redact(error.message);
    throw error;
  }
}
