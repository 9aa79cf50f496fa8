import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend } from './backend.js';
import { type BackendConfig, configFromEnv, parseBackendConfig } from './config.js';
import { MissingDependencyError } from './errors.js';

type Factory = (config: unknown) => Backend | Promise<Backend>;

const PACKAGES = {
  memory: {
    name: '@redbrick/memory-backend',
    factory: 'createMemoryBackend',
    purpose: 'The memory backend',
  },
  'shared-memory': {
    name: '@redbrick/memory-backend',
    factory: 'createSharedMemoryBackend',
    purpose: 'The shared-memory backend',
  },
  redis: {
    name: '@redbrick/redis-backend',
    factory: 'createRedisBackend',
    purpose: 'A Redis backend',
  },
} as const;

async function load(type: keyof typeof PACKAGES): Promise<Factory> {
  const pkg = PACKAGES[type];
  const mod = await importOptional<Record<string, unknown>>(
    pkg.name,
    `${pkg.purpose} (type: "${type}")`,
  );
  const factory = mod[pkg.factory];
  if (typeof factory !== 'function') {
    throw new MissingDependencyError(
      pkg.name,
      `${pkg.purpose} (a version exporting ${pkg.factory})`,
    );
  }
  return factory as Factory;
}

/**
 * Creates a backend from a config: memory (the default), redis (one node,
 * `cluster` or `sentinel`) or shared-memory. The backend packages are loaded
 * lazily, so memory-only users never install a Redis client.
 *
 * @example
 * const backend = await createBackend(); // in process
 * const redis = await createBackend({ type: 'redis', url: 'redis://127.0.0.1:6379/0' });
 */
export async function createBackend(config: BackendConfig = { type: 'memory' }): Promise<Backend> {
  const parsed = parseBackendConfig(config);
  const factory = await load(parsed.type);
  return factory(parsed);
}

/**
 * Creates a backend from environment variables: `REDIS_URL` (or
 * `REDIS_CLUSTER_NODES`, comma-separated) selects Redis, otherwise memory.
 * Also reads `REDIS_KEY_PREFIX`, `REDIS_DEFAULT_TTL` (seconds) and
 * `REDIS_MAX_CONNECTIONS`.
 */
export function createBackendFromEnv(
  env: Record<string, string | undefined> = process.env,
): Promise<Backend> {
  return createBackend(configFromEnv(env));
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return true;
  // Vite/Vitest replace a missing optional peer with a module that throws this (no code).
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message.startsWith('Could not resolve "');
}

/**
 * Imports an optional package (a peer dependency the user installs only for
 * the feature that needs it): first with `importer` — pass
 * `(specifier) => import(specifier)` so it resolves from the calling
 * package — then from the application's directory, where a user who ran
 * `pnpm add` has it even when their package manager nests the calling
 * package elsewhere. A package found nowhere throws `MissingDependencyError`
 * saying what needed it; any other import error passes through.
 *
 * @example
 * const bullmq = await importOptional<typeof import('bullmq')>(
 *   'bullmq', 'A queue on a Redis backend', (s) => import(s));
 */
export async function importOptional<T>(
  name: string,
  purpose: string,
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<T> {
  try {
    return (await importer(name)) as T;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    let resolved: string;
    try {
      resolved = createRequire(join(process.cwd(), 'package.json')).resolve(name);
    } catch {
      throw new MissingDependencyError(name, purpose, { cause: error });
    }
    return (await import(pathToFileURL(resolved).href)) as T;
  }
}
