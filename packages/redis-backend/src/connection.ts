import { BackendUnavailableError } from '@redbrick/core';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { PKG, type Redactor } from './errors.js';
import type { Settings } from './options.js';

/** A connection of either shape: one node (direct or via Sentinel) or a Cluster client. */
export type Client = Redis | Cluster;

/** What a connection is for: commands, pub/sub (subscribe mode) or blocking reads. */
export type Role = 'main' | 'subscriber' | 'blocking' | 'external';

/** Reconnect delay after the `times`-th failed attempt: 50, 100, 200, … ms, capped at 1 s, with 10% jitter. */
export function reconnectDelay(times: number): number {
  const base = Math.min(50 * 2 ** Math.min(times - 1, 10), 1000);
  return Math.round(base * (0.9 + Math.random() * 0.1));
}

/**
 * Options shared by every node connection. The offline queue is off and no
 * command is retried or resent after a disconnect: a call made while Redis
 * is unreachable fails at once instead of waiting for a reconnect, and a
 * command in flight when the connection drops fails with it (it may or may
 * not have run — the caller decides whether to retry).
 */
function nodeOptions(settings: Settings, role: Role): RedisOptions {
  const options: RedisOptions = {
    connectTimeout: settings.connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Subscriber connections restore their subscriptions themselves (see trackSubscriber).
    autoResubscribe: false,
    enableAutoPipelining: role === 'main' && settings.autoPipelining,
    enableReadyCheck: true,
    lazyConnect: true,
    disableClientInfo: true,
    connectionName: `redbrick-${role}`,
    // After a Sentinel failover the old primary turns replica: reconnect (to the new one).
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
  };
  // Blocking reads wait up to BLOCK ms by design; their deadline is enforced by the pool. The
  // main connection of one node enforces its deadline with one sweep (see enforceDeadlines).
  if (
    role !== 'blocking' &&
    role !== 'external' &&
    !(role === 'main' && settings.mode !== 'cluster')
  )
    options.commandTimeout = settings.commandTimeoutMs;
  if (role === 'external') {
    // Handed to a library (BullMQ) that manages its own retries and blocking reads: commands
    // wait across reconnects instead of failing, as BullMQ requires.
    options.maxRetriesPerRequest = null;
    options.enableOfflineQueue = true;
    options.autoResendUnfulfilledCommands = true;
  }
  if (settings.username !== undefined) options.username = settings.username;
  if (settings.password !== undefined) options.password = settings.password;
  if (settings.tls) options.tls = settings.tls;
  return options;
}

/** How often the main cluster client re-reads the slot table when nothing else made it. */
const SLOTS_REFRESH_INTERVAL_MS = 2000;

/** Opens (lazily) a connection with the backend's timeout, offline and reconnect policies. */
export function createClient(settings: Settings, role: Role): Client {
  const options = nodeOptions(settings, role);
  if (settings.mode === 'cluster') {
    const { enableOfflineQueue: _q, retryStrategy: _r, ...redisOptions } = options;
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: role === 'external',
      enableReadyCheck: true,
      lazyConnect: true,
      scaleReads: 'master',
      enableAutoPipelining: role === 'main' && settings.autoPipelining,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: settings.connectTimeoutMs,
      // The main client also carries the sharded subscriptions' view of the slot table: poll it,
      // so a failover or a slot move is noticed even by a backend that only subscribes.
      ...(role === 'main' ? { slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS } : {}),
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 8,
      redisOptions,
    };
    return new Cluster(
      settings.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
      clusterOptions,
    );
  }
  options.retryStrategy = reconnectDelay;
  options.db = settings.db;
  if (settings.mode === 'sentinel') {
    options.sentinels = settings.sentinels.map((n) => ({ host: n.host, port: n.port }));
    options.name = settings.sentinelName;
    options.role = 'master';
    options.failoverDetector = true;
    options.sentinelRetryStrategy = reconnectDelay;
    options.sentinelCommandTimeout = settings.commandTimeoutMs;
    if (settings.sentinelPassword !== undefined)
      options.sentinelPassword = settings.sentinelPassword;
    if (settings.tls) options.enableTLSForSentinelMode = true;
    return new Redis(options);
  }
  options.host = settings.endpoint.host;
  options.port = settings.endpoint.port;
  return new Redis(options);
}

/** A plain connection to one node of a cluster (sub-connections: pub/sub, keyspace events). */
export function createNodeClient(
  settings: Settings,
  host: string,
  port: number,
  role: Role,
): Redis {
  const options = nodeOptions(settings, role);
  options.retryStrategy = reconnectDelay;
  options.host = host;
  options.port = port;
  return new Redis(options);
}

const AUTH_FAILED = /^(WRONGPASS|NOAUTH|ERR invalid password|ERR AUTH)/;

/**
 * Connects and resolves when the client is ready; rejects with a
 * BackendUnavailableError (redacted) after `timeoutMs`.
 */
export function connectReady(
  client: Client,
  timeoutMs: number,
  target: string,
  redactor: Redactor,
): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (error: Error) => {
      lastError = error;
      // Wrong credentials do not fix themselves by retrying: fail now.
      if (AUTH_FAILED.test(error.message)) fail('(authentication failed)');
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
    };
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      cleanup();
      const detail = lastError ? `: ${redactor.text(lastError.message)}` : '';
      reject(new BackendUnavailableError(`${PKG} could not connect to ${target} ${why}${detail}`));
    };
    const onReady = () => {
      if (done) return;
      done = true;
      cleanup();
      resolve();
    };
    const onEnd = () => fail('(connection ended)');
    const timer = setTimeout(() => fail(`within ${timeoutMs} ms`), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
    client.once('end', onEnd);
    if (client.status === 'wait' || client.status === 'end') {
      client.connect().catch((error: unknown) => {
        if (error instanceof Error) lastError = error;
      });
    }
  });
}

/** Closes a connection: QUIT when it is up (bounded by `timeoutMs`), otherwise just disconnect. */
export async function closeClient(client: Client, timeoutMs: number): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if ((client.status as string) !== 'end') client.disconnect();
  }
}
