import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedbrickError } from '@redbrick/core';
import {
  assertRedisInstalled,
  baseArgs,
  freePort,
  ManagedRedis,
  type RedisServerHandle,
  waitFor,
} from './redis-server.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of primaries (at least 3, as `redis-cli --cluster create` requires). @default 3 */
  masters?: number;
  /** Replicas per primary. @default 0 */
  replicas?: number;
  /** `cluster-node-timeout` in ms: how soon a dead node is noticed. @default 2000 */
  nodeTimeoutMs?: number;
  /** Give up when the cluster is not `cluster_state:ok` after this many ms. @default 30000 */
  startTimeoutMs?: number;
}

/** A throwaway Redis Cluster on loopback ports, owned by this test process. */
export interface RedisClusterHandle {
  /** `redis://127.0.0.1:<port>` of every node (primaries first, as created). */
  readonly nodes: string[];
  /** Every node's process, in the order of `nodes`, for fault injection. */
  readonly servers: RedisServerHandle[];
  /** Stops every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else {
        reject(
          new RedbrickError(
            'BACKEND_UNAVAILABLE',
            `[redbrick/testkit] redis-cli ${args.slice(0, 2).join(' ')} failed (exit ${code}):\n${out.slice(-2000)}`,
          ),
        );
      }
    });
  });
}

/**
 * Starts a real Redis Cluster on loopback: `masters × (1 + replicas)`
 * `redis-server --cluster-enabled yes` processes joined with
 * `redis-cli --cluster create … --cluster-yes`. Resolves once every node
 * reports `cluster_state:ok` and knows every other node.
 *
 * @example
 * const cluster = await startRedisCluster({ masters: 3 });
 * const backend = await createBackend({ type: 'redis', cluster: { nodes: cluster.nodes } });
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  assertRedisInstalled('redis-server');
  assertRedisInstalled('redis-cli');
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  if (!Number.isSafeInteger(masters) || masters < 3) {
    throw new RedbrickError(
      'VALIDATION',
      '[redbrick/testkit] masters must be an integer ≥ 3 (redis-cli --cluster create needs 3)',
    );
  }
  if (!Number.isSafeInteger(replicas) || replicas < 0) {
    throw new RedbrickError('VALIDATION', '[redbrick/testkit] replicas must be an integer ≥ 0');
  }
  const total = masters * (1 + replicas);
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const servers: ManagedRedis[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    // Two free ports per node: clients and the cluster bus (`cluster-port`), so no
    // node depends on port + 10000 being free (or even below 65536).
    const ports = new Set<number>();
    while (ports.size < total * 2) ports.add(await freePort());
    const list = [...ports];
    await Promise.all(
      list.slice(0, total).map(async (port, i) => {
        const dir = mkdtempSync(join(tmpdir(), `redbrick-cluster-${port}-`));
        const args = [
          ...baseArgs(port, dir),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-port',
          String(list[total + i]),
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 2000),
          // Replicas sync at once (not after the default 5 s diskless delay), so they can be promoted.
          '--repl-diskless-sync-delay',
          '0',
        ];
        const server = new ManagedRedis(port, dir, args, { startTimeoutMs });
        servers.push(server);
        try {
          await server.start();
        } catch (error) {
          rmSync(dir, { recursive: true, force: true });
          throw error;
        }
      }),
    );
    servers.sort((a, b) => a.port - b.port);
    await runRedisCli(
      [
        '--cluster',
        'create',
        ...servers.map((s) => `${s.host}:${s.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      startTimeoutMs,
    );
    await waitFor(
      'every cluster node to report cluster_state:ok',
      async () => {
        for (const server of servers) {
          const info = String(await server.command('CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
          const known = /cluster_known_nodes:(\d+)/.exec(info)?.[1];
          if (Number(known) !== total) return false;
          const replication = String(await server.command('INFO', 'replication'));
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
            return false;
        }
        return true;
      },
      startTimeoutMs,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    nodes: servers.map((s) => s.url),
    servers,
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
}
