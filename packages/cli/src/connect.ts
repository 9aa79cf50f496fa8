import type { Backend } from '@redbrick/core';
import { parseRedisUrl, redactUrl } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { createRedisBackend } from '@redbrick/redis-backend';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `redis://[user:password@]host[:port][/db]`, `rediss://…`, or `memory://` (an empty in-process backend). @default env `REDIS_URL`, else `redis://127.0.0.1:6379` */
  url?: string | undefined;
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

/** Opens the backend named by `url` (or `REDIS_URL`). */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const env = options.env ?? process.env;
  const url = options.url ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (url === 'memory://' || url === 'memory') {
    return { backend: createMemoryBackend(), display: 'memory://', redact: (t) => t };
  }
  const address = parseRedisUrl(url, options.url === undefined ? 'REDIS_URL' : 'url');
  const secrets = [
    address.password,
    address.password && encodeURIComponent(address.password),
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  const redact = (text: string) => {
    let out = redactUrl(text);
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const display = redactUrl(url);
  try {
    const backend = await createRedisBackend({
      type: 'redis',
      url,
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
