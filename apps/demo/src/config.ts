import { configFromEnv, redactUrl } from '@redbrick/core';

/** What `main` needs from the environment. */
export interface DemoConfig {
  /** TCP port. Env `PORT`. @default 3000 */
  port: number;
  /** Interface to listen on. Env `HOST`. @default '127.0.0.1' */
  host: string;
  /** Which backend runs, for the banner and the dashboard (passwords redacted). */
  backendLabel: string;
}

/**
 * Reads the demo's settings. The backend itself comes from core's
 * `createBackendFromEnv()`: memory by default, `REDIS_URL` for one Redis,
 * `REDIS_CLUSTER_NODES` (comma-separated URLs) for a Cluster.
 */
export function readConfig(env: Record<string, string | undefined> = process.env): DemoConfig {
  const rawPort = env.PORT?.trim() || '3000';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65_535) {
    throw new Error(`[redbrick/demo] PORT must be an integer 0–65535, got "${rawPort}"`);
  }
  const backend = configFromEnv(env);
  let backendLabel = 'memory';
  if (backend.type === 'redis') {
    if (backend.cluster) {
      backendLabel = `redis cluster (${backend.cluster.nodes.map(redactUrl).join(', ')})`;
    } else if (backend.url) {
      backendLabel = `redis (${redactUrl(backend.url)})`;
    } else {
      backendLabel = 'redis';
    }
  }
  return { port, host: env.HOST?.trim() || '127.0.0.1', backendLabel };
}
