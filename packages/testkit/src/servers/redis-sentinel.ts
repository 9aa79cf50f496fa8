import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** Name of the monitored primary. @default 'redbrick' */
  name?: string;
  /** `down-after-milliseconds`: how soon a dead primary is noticed. @default 1000 */
  downAfterMs?: number;
  /** `failover-timeout` in ms. @default 3000 */
  failoverTimeoutMs?: number;
  /** Give up start-up (or a failover) after this many ms. @default 20000 */
  timeoutMs?: number;
}

/** A primary, one replica and one Sentinel (quorum 1) on loopback ports. */
export interface RedisSentinelHandle {
  /** The monitored primary's name (the backend's `sentinel.name`). */
  readonly name: string;
  /** `redis://127.0.0.1:<port>` of the Sentinel (the backend's `sentinel.sentinels`). */
  readonly sentinels: string[];
  /** The process that was primary at start (a replica after a failover). */
  readonly primary: RedisServerHandle;
  /** The process that was replica at start (the primary after a failover). */
  readonly replica: RedisServerHandle;
  readonly sentinel: RedisServerHandle;
  /** The port Sentinel currently reports for the primary. */
  primaryPort(): Promise<number>;
  /**
   * Fails the primary over to the replica (`SENTINEL FAILOVER`) and resolves
   * once Sentinel reports the new primary and it accepts writes. Returns its port.
   */
  failover(): Promise<number>;
  /** Stops all three processes. Idempotent. */
  stop(): Promise<void>;
}

async function startManaged(
  port: number,
  dir: string,
  args: string[],
  timeoutMs: number,
): Promise<ManagedRedis> {
  const server = new ManagedRedis(port, dir, args, { startTimeoutMs: timeoutMs });
  try {
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

/**
 * Starts a primary, a replica of it and one Sentinel monitoring them with
 * quorum 1 and short timeouts, for failover tests. Resolves once the replica
 * is in sync and the Sentinel knows it.
 *
 * @example
 * const s = await startRedisSentinel();
 * const backend = await createBackend({ type: 'redis', sentinel: { sentinels: s.sentinels, name: s.name } });
 * await s.failover(); // the backend follows the new primary
 */
export async function startRedisSentinel(
  options: RedisSentinelOptions = {},
): Promise<RedisSentinelHandle> {
  assertRedisInstalled();
  const name = options.name ?? 'redbrick';
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started: ManagedRedis[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const primaryPort = await freePort();
    const primaryDir = mkdtempSync(join(tmpdir(), `redbrick-primary-${primaryPort}-`));
    // No 5 s wait before a full sync (the default diskless-sync delay).
    const fastSync = ['--repl-diskless-sync-delay', '0'];
    const primary = await startManaged(
      primaryPort,
      primaryDir,
      [...baseArgs(primaryPort, primaryDir), ...fastSync],
      timeoutMs,
    );
    started.push(primary);

    const replicaPort = await freePort();
    const replicaDir = mkdtempSync(join(tmpdir(), `redbrick-replica-${replicaPort}-`));
    const replica = await startManaged(
      replicaPort,
      replicaDir,
      [
        ...baseArgs(replicaPort, replicaDir),
        ...fastSync,
        '--replicaof',
        primary.host,
        String(primaryPort),
      ],
      timeoutMs,
    );
    started.push(replica);
    await waitFor(
      'the replica to sync with the primary',
      async () =>
        String(await replica.command('INFO', 'replication')).includes('master_link_status:up'),
      timeoutMs,
    );

    const sentinelPort = await freePort();
    const sentinelDir = mkdtempSync(join(tmpdir(), `redbrick-sentinel-${sentinelPort}-`));
    const conf = join(sentinelDir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${sentinelDir}`,
        `logfile ${join(sentinelDir, 'redis.log')}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = await startManaged(sentinelPort, sentinelDir, [conf, '--sentinel'], timeoutMs);
    started.push(sentinel);

    const primaryPortNow = async (): Promise<number> => {
      const reply = await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name);
      if (!Array.isArray(reply)) throw new Error(`sentinel does not know "${name}"`);
      return Number(reply[1]);
    };
    const replicaKnown = async (port: number): Promise<boolean> => {
      const reply = await sentinel.command('SENTINEL', 'REPLICAS', name);
      if (!Array.isArray(reply)) return false;
      return reply.some((entry) => {
        if (!Array.isArray(entry)) return false;
        const fields = new Map<string, string>();
        for (let i = 0; i + 1 < entry.length; i += 2)
          fields.set(String(entry[i]), String(entry[i + 1]));
        const flags = fields.get('flags') ?? '';
        return (
          Number(fields.get('port')) === port &&
          !flags.includes('down') &&
          !flags.includes('disconnected') &&
          fields.get('master-link-status') === 'ok'
        );
      });
    };
    await waitFor(
      'the sentinel to know the primary and the replica',
      async () => (await primaryPortNow()) === primaryPort && (await replicaKnown(replicaPort)),
      timeoutMs,
      50,
    );

    const byPort = new Map([
      [primaryPort, primary],
      [replicaPort, replica],
    ]);
    let stopped: Promise<void> | undefined;
    return {
      name,
      sentinels: [sentinel.url],
      primary,
      replica,
      sentinel,
      primaryPort: primaryPortNow,
      async failover() {
        const from = await primaryPortNow();
        const to = from === primaryPort ? replicaPort : primaryPort;
        await waitFor(
          'the sentinel to see an eligible replica',
          () => replicaKnown(to),
          timeoutMs,
          50,
        );
        await sentinel.command('SENTINEL', 'FAILOVER', name);
        const target = byPort.get(to);
        if (!target) throw new RedbrickError('COMMAND', `[redbrick/testkit] unknown port ${to}`);
        await waitFor(
          `the sentinel to promote port ${to}`,
          async () =>
            (await primaryPortNow()) === to &&
            String(await target.command('INFO', 'replication')).includes('role:master'),
          timeoutMs,
          50,
        );
        return to;
      },
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
