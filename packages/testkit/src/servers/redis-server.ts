import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedbrickError } from '@redbrick/core';
import { releaseDir, track, trackDir } from './reaper.js';
import { respCommand } from './resp.js';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Require this password (`requirepass`); the returned `url` carries it. */
  password?: string;
  /** Turn on AOF persistence (`appendonly yes`, `appendfsync always`), for restart tests. @default false */
  appendonly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']` or `['--rename-command', 'CONFIG', '']`. */
  args?: readonly string[];
  /** Port to listen on. @default a free loopback port */
  port?: number;
  /** Give up waiting for the first PING after this many ms. @default 10000 */
  startTimeoutMs?: number;
}

/** A throwaway `redis-server` on a loopback port, owned by this test process. */
export interface RedisServerHandle {
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Pid of the current process (changes on `restart()`); undefined while stopped. */
  readonly pid: number | undefined;
  /** Its own temporary working directory (AOF files, log). */
  readonly dir: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** SIGKILL: the server vanishes mid-command, like a crash. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (kills it first when it still runs); resolves when it answers PING. */
  restart(): Promise<void>;
  /** Pauses every client for `ms` (`CLIENT PAUSE ms ALL`); resolves as soon as the pause is in effect. */
  pause(ms: number): Promise<void>;
  /** Sends one command as an admin (for test setup/inspection), returns the raw reply. */
  command(...args: Array<string | number>): Promise<unknown>;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'Install it with: apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS), ' +
  'or point the tests at an existing server with REDIS_URL=redis://host:port (a unique key prefix is used, nothing is flushed).';

/** Throws a clear error when `redis-server` / `redis-cli` cannot be run. */
export function assertRedisInstalled(binary: 'redis-server' | 'redis-cli' = 'redis-server'): void {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    throw new RedbrickError(
      'MISSING_DEPENDENCY',
      `[redbrick/testkit] "${binary}" is not on PATH, so no throwaway Redis can be started. ${INSTALL_HINT}`,
      { cause: probe.error },
    );
  }
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it resolves truthy or the deadline passes. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new RedbrickError(
        'TIMEOUT',
        `[redbrick/testkit] timed out after ${timeoutMs} ms waiting for ${what}`,
        {
          cause: last,
        },
      );
    }
    await sleep(intervalMs);
  }
}

/** Spawns a redis-server process with `args`, tracked so it dies with the test process. */
export function spawnRedis(args: readonly string[]): ChildProcess {
  const child = spawn('redis-server', [...args], { stdio: 'ignore' });
  child.on('error', () => {
    // reported by the readiness wait (with the log), not as an unhandled error
  });
  track(child);
  return child;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Internal: a redis-server process that can be killed and restarted on its port. */
export class ManagedRedis implements RedisServerHandle {
  readonly host = '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  readonly #args: string[];
  readonly #password: string | undefined;
  readonly #startTimeoutMs: number;
  readonly #logFile: string;
  #child: ChildProcess | undefined;
  #stopped = false;

  constructor(
    port: number,
    dir: string,
    args: string[],
    options: { password?: string | undefined; startTimeoutMs?: number | undefined } = {},
  ) {
    this.port = port;
    this.dir = dir;
    this.#password = options.password;
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.#logFile = join(dir, 'redis.log');
    this.#args = args;
    trackDir(dir);
    this.url =
      options.password === undefined
        ? `redis://${this.host}:${port}`
        : `redis://:${encodeURIComponent(options.password)}@${this.host}:${port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** The arguments every start uses (port, dir, log). */
  get args(): readonly string[] {
    return this.#args;
  }

  async start(): Promise<void> {
    if (this.#stopped)
      throw new RedbrickError(
        'CLOSED',
        `[redbrick/testkit] server on port ${this.port} was stopped`,
      );
    const child = spawnRedis(this.#args);
    this.#child = child;
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    try {
      await waitFor(
        `redis-server on port ${this.port} to answer PING`,
        async () => {
          if (exited) {
            throw new RedbrickError(
              'BACKEND_UNAVAILABLE',
              `[redbrick/testkit] redis-server on port ${this.port} exited during start-up:\n${tail(this.#logFile)}`,
            );
          }
          return (await this.command('PING')) === 'PONG';
        },
        this.#startTimeoutMs,
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  async command(...args: Array<string | number>): Promise<unknown> {
    return respCommand(this.host, this.port, args, { password: this.#password });
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGKILL');
    await waitExit(child);
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async pause(ms: number): Promise<void> {
    await this.command('CLIENT', 'PAUSE', Math.max(1, Math.round(ms)), 'ALL');
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const child = this.#child;
    if (child && this.running) {
      child.kill('SIGTERM');
      const exited = waitExit(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    releaseDir(this.dir);
  }
}

/** The base `redis-server` arguments: loopback only, own dir, no persistence unless asked. */
export function baseArgs(
  port: number,
  dir: string,
  options: { appendonly?: boolean | undefined } = {},
): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    '--daemonize',
    'no',
    '--save',
    '',
    ...(options.appendonly
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']),
  ];
}

/**
 * Starts a throwaway `redis-server` on a free loopback port in its own temp
 * directory (no persistence unless `appendonly`), and waits until it answers
 * PING. The process is killed when the test process exits. Throws a clear
 * error naming the install command when `redis-server` is not installed.
 *
 * @example
 * const server = await startRedisServer();
 * const backend = await createBackend({ type: 'redis', url: server.url });
 * await server.kill(); // … calls fail fast …
 * await server.restart(); // … and recover
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServerHandle> {
  assertRedisInstalled();
  // A free port can be taken by another process before redis-server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), `redbrick-redis-${port}-`));
    const args = baseArgs(port, dir, { appendonly: options.appendonly });
    if (options.password !== undefined) args.push('--requirepass', options.password);
    args.push(...(options.args ?? []));
    const server = new ManagedRedis(port, dir, args, {
      password: options.password,
      startTimeoutMs: options.startTimeoutMs,
    });
    try {
      await server.start();
      return server;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (options.port !== undefined || attempt >= 3) throw error;
    }
  }
}
