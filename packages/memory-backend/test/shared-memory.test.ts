import { type ChildProcess, fork } from 'node:child_process';
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { Worker as ThreadWorker } from 'node:worker_threads';
import { type Backend, defineScript, isRedbrickError } from '@redbrick/core';
import { backendConformance, until } from '@redbrick/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryBackend,
  createSharedMemoryBackend,
  createSharedMemoryHost,
  type SharedMemoryHost,
} from '../src/index.js';
import { rejection } from './helpers.js';

const HOST = fileURLToPath(new URL('./fixtures/shared-host.mjs', import.meta.url));
const WORKER = fileURLToPath(new URL('./fixtures/shared-worker.mjs', import.meta.url));

/** Forks a child process that hosts a shared memory backend for this process. */
async function forkHost(): Promise<ChildProcess> {
  const child = fork(HOST, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
  });
  return child;
}

/** Starts a worker thread that hosts a shared memory backend for this thread. */
async function threadHost(): Promise<ThreadWorker> {
  const worker = new ThreadWorker(HOST);
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return worker;
}

const children: Array<{ kill(signal?: NodeJS.Signals): unknown }> = [];
const threads: ThreadWorker[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(threads.map((t) => t.terminate()));
});

let processHost: Promise<ChildProcess> | undefined;
backendConformance('shared-memory, host in a child process', async () => {
  processHost ??= forkHost().then((c) => {
    children.push(c);
    return c;
  });
  return createSharedMemoryBackend({ channel: await processHost, commandTimeoutMs: 10_000 });
});

let workerHost: Promise<ThreadWorker> | undefined;
backendConformance('shared-memory, host in a worker thread', async () => {
  workerHost ??= threadHost().then((w) => {
    threads.push(w);
    return w;
  });
  return createSharedMemoryBackend({ channel: await workerHost, commandTimeoutMs: 10_000 });
});

function forkWorkers(job: Record<string, unknown>, n: number): ClusterWorker[] {
  cluster.setupPrimary({ exec: WORKER, args: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const workers: ClusterWorker[] = [];
  for (let i = 0; i < n; i++) {
    const worker = cluster.fork({ SHARED_JOB: JSON.stringify(job) });
    children.push(worker.process);
    workers.push(worker);
  }
  return workers;
}

/** The next message from a cluster worker that its job sent (not the host protocol). */
function nextReport<T>(worker: ClusterWorker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { worker?: boolean }) => {
      if (message?.worker) {
        worker.off('message', onMessage);
        resolve(message as T);
      }
    };
    worker.on('message', onMessage);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

describe('shared-memory across node:cluster workers', () => {
  let host: SharedMemoryHost | undefined;
  afterEach(async () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    await host?.close();
  });

  it('a script run by 4 workers at once is atomic: every increment counted once', async () => {
    host = createSharedMemoryHost();
    const workers = forkWorkers({ task: 'increment', count: 250, prefix: 'atomic' }, 4);
    // Attached on fork already: attaching again must not double every request.
    for (const worker of workers) host.attach(worker);
    expect(host.channels).toBe(4);
    const reports = await Promise.all(
      workers.map((w) => nextReport<{ values: number[]; kind: string }>(w)),
    );
    const all = reports.flatMap((r) => r.values).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(reports.map((r) => r.kind)).toEqual(Array(4).fill('shared-memory'));
    expect(await host.backend.get('atomic:counter')).toBe('1000');
    expect(await host.backend.pttl('atomic:counter')).toBeGreaterThan(0);
  });

  it('messages, pattern messages and expiry events reach every worker; a killed worker leaves nothing behind', async () => {
    host = createSharedMemoryHost();
    const workers = forkWorkers({ task: 'listen', prefix: 'ps' }, 2);
    await Promise.all(workers.map((w) => nextReport(w)));
    expect(host.channels).toBe(2);
    expect(host.subscriptions).toBe(6);
    const view = host.backend.scoped('ps');
    expect(await view.publish('news', 'hello')).toBe(4);
    await view.set('short', 'x', { ttlMs: 20 });
    const expected = ['sub:news:hello', 'psub:ne*:news:hello', 'expired:short'];
    for (const worker of workers) {
      await until(
        'every event reached the worker',
        async () => {
          const report = nextReport<{ heard: string[] }>(worker);
          worker.send({ report: true });
          const { heard } = await report;
          return expected.every((e) => heard.includes(e));
        },
        10_000,
      );
    }
    const [first] = workers;
    if (!first) throw new Error('no worker');
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.process.kill('SIGKILL');
    await exited;
    await until('the dead worker is detached', async () => host?.channels === 1, 10_000);
    expect(host.subscriptions).toBe(3);
    expect(await view.publish('news', 'again')).toBe(2);
  });
});

describe('shared-memory across worker threads', () => {
  it('clients in 2 worker threads (default channel: parentPort) share one atomic counter and pub/sub', async () => {
    const host = createSharedMemoryHost({ cluster: false });
    const file = fileURLToPath(new URL('./fixtures/shared-thread-client.mjs', import.meta.url));
    const workers = [0, 1].map(
      () => new ThreadWorker(file, { workerData: { prefix: 'threads', count: 300 } }),
    );
    threads.push(...workers);
    for (const worker of workers) host.attach(worker);
    const messages = workers.map((worker) => {
      const inbox: Array<Record<string, unknown>> = [];
      worker.on('message', (m: Record<string, unknown>) => {
        if (!('redbrick.shared-memory' in m)) inbox.push(m);
      });
      return inbox;
    });
    await until(
      'both threads counted and subscribed',
      async () => messages.every((m) => m.length >= 1),
      20_000,
    );
    const values = messages.flatMap((m) => m[0]?.values as number[]).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(messages.map((m) => m[0]?.kind)).toEqual(['shared-memory', 'shared-memory']);
    expect(await host.backend.scoped('threads').publish('done', 'bye')).toBe(2);
    await until(
      'both threads heard the message',
      async () => messages.every((m) => m.length >= 2),
      20_000,
    );
    expect(messages.map((m) => m[1]?.heard)).toEqual([['bye'], ['bye']]);
    await Promise.all(workers.map((w) => w.terminate()));
    await until('the ended threads are detached', async () => host.channels === 0, 10_000);
    expect(host.subscriptions).toBe(0);
    await host.close();
  });
});

describe('shared-memory when the host is gone', () => {
  it('calls fail with BackendUnavailableError after the host dies, and listeners hear down', async () => {
    const child = await forkHost();
    children.push(child);
    const backend = createSharedMemoryBackend({ channel: child, commandTimeoutMs: 5_000 });
    const states: string[] = [];
    backend.onConnectionChange((s) => states.push(s));
    await backend.set('k', 'v');
    expect(await backend.get('k')).toBe('v');
    const blocked = backend.xreadgroup('s', 'g', 'c', { blockMs: 60_000 }).catch((e: unknown) => e);
    await backend.xgroupCreate('s2', 'g', { mkStream: true });
    const waiting = backend
      .xreadgroup('s2', 'g', 'c', { blockMs: 60_000 })
      .catch((e: unknown) => e);
    child.kill('SIGKILL');
    const error = await waiting;
    expect(isRedbrickError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(isRedbrickError(await blocked)).toBe(true);
    expect((await rejection(backend.get('k'))).code).toBe('BACKEND_UNAVAILABLE');
    expect(backend.isConnected).toBe(false);
    expect(states).toEqual(['down']);
    await backend.close();
    expect(states).toEqual(['down', 'closed']);
  });

  it('a host that stops answering makes calls time out with BackendUnavailableError', async () => {
    const child = await forkHost();
    children.push(child);
    const backend = createSharedMemoryBackend({ channel: child, commandTimeoutMs: 300 });
    await backend.set('k', 'v');
    child.kill('SIGSTOP');
    try {
      const error = await rejection(backend.get('k'));
      expect(error.code).toBe('BACKEND_UNAVAILABLE');
      expect(error.message).toMatch(/^\[redbrick\/memory-backend\] .*300 ms/);
    } finally {
      child.kill('SIGCONT');
    }
    expect(await backend.get('k')).toBe('v');
    await backend.close();
    child.kill('SIGKILL');
  });
});

describe('shared-memory with many clients on one channel', () => {
  it('25 clients share one set of listeners (no MaxListenersExceededWarning); each gets its own replies and hears the host go', async () => {
    const child = await forkHost();
    children.push(child);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const events = ['message', 'exit', 'disconnect', 'close'] as const;
    const before = events.map((e) => child.listenerCount(e));
    try {
      const clients = Array.from({ length: 25 }, (_, i) =>
        createSharedMemoryBackend({ channel: child, keyPrefix: `c${i}`, commandTimeoutMs: 10_000 }),
      );
      // One listener per event for all 25 (a listener each would pass Node's limit of 10).
      expect(events.map((e) => child.listenerCount(e))).toEqual(before.map((n) => n + 1));
      const results = await Promise.all(clients.map((c, i) => c.incrBy('n', i + 1)));
      expect(results).toEqual(clients.map((_, i) => i + 1));
      // Closing some leaves the others working on the same listeners.
      await Promise.all(clients.slice(0, 20).map((c) => c.close()));
      expect(events.map((e) => child.listenerCount(e))).toEqual(before.map((n) => n + 1));
      const rest = clients.slice(20);
      expect(await Promise.all(rest.map((c) => c.get('n')))).toEqual([
        '21',
        '22',
        '23',
        '24',
        '25',
      ]);
      // The host dying reaches every remaining client through the one shared listener.
      const states: string[] = [];
      for (const c of rest) c.onConnectionChange((s) => states.push(s));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await until('every client heard the host go', () => states.length === rest.length);
      expect(states).toEqual(rest.map(() => 'down'));
      for (const c of rest) expect((await rejection(c.get('n'))).code).toBe('BACKEND_UNAVAILABLE');
      await Promise.all(rest.map((c) => c.close()));
      // The last client out removes the listeners.
      expect(child.listenerCount('message')).toBe(before[0]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      child.kill('SIGKILL');
    }
  });
});

describe('shared-memory scripts and values', () => {
  let child: ChildProcess;
  let backend: Backend;
  afterEach(async () => {
    await backend.close();
    child.kill('SIGKILL');
  });

  it('a script the host does not know fails with a SCRIPT error naming it', async () => {
    child = await forkHost();
    children.push(child);
    backend = createSharedMemoryBackend({ channel: child });
    const unknown = defineScript<number>({
      name: 'test.shared.only-in-this-process',
      keys: 1,
      lua: 'return 1',
      local: () => 1,
    });
    const error = await rejection(backend.run(unknown, ['k']));
    expect(error.code).toBe('SCRIPT');
    expect(error.message).toContain('"test.shared.only-in-this-process"');
    expect(error.message).toContain('host process must import');
  });

  it('values round-trip exactly: every code unit, tag look-alikes, infinite scores', async () => {
    child = await forkHost();
    children.push(child);
    backend = createSharedMemoryBackend({ channel: child });
    const all = Array.from({ length: 0x10000 }, (_, i) => String.fromCharCode(i)).join('');
    await backend.set('all', all);
    expect(await backend.get('all')).toBe(all);
    const tricky = { '\u0000rb': 'n', v: 'Infinity', '': '' };
    await backend.hset('h', tricky);
    expect(await backend.hgetall('h')).toEqual(tricky);
    await backend.zadd('z', [
      { member: 'top', score: Number.POSITIVE_INFINITY },
      { member: 'bottom', score: Number.NEGATIVE_INFINITY },
      { member: 'mid', score: 1.5e-300 },
    ]);
    expect(await backend.zscore('z', 'top')).toBe(Number.POSITIVE_INFINITY);
    expect(await backend.zrangeByScore('z', '-inf', '+inf', { withScores: true })).toEqual([
      { member: 'bottom', score: Number.NEGATIVE_INFINITY },
      { member: 'mid', score: 1.5e-300 },
      { member: 'top', score: Number.POSITIVE_INFINITY },
    ]);
    const nan = await rejection(backend.incrBy('n', Number.NaN));
    expect(nan.code).toBe('VALIDATION');
    expect(nan.message).toContain('NaN');
  });
});

describe('shared-memory validation', () => {
  it('rejects bad client options with ConfigError naming the field', () => {
    const channel = new ThreadWorker('', { eval: true });
    threads.push(channel);
    for (const [options, field] of [
      [{ channel, commandTimeoutMs: 0 }, 'commandTimeoutMs'],
      [{ channel, commandTimeoutMs: 1.5 }, 'commandTimeoutMs'],
      [{ channel, defaultTtlMs: -1 }, 'defaultTtlMs'],
      [{ channel, keyPrefix: '' }, 'keyPrefix'],
      [{ channel, type: 'memory' }, 'type'],
    ] as const) {
      let caught: unknown;
      try {
        createSharedMemoryBackend(options as never);
      } catch (error) {
        caught = error;
      }
      expect(isRedbrickError(caught, 'INVALID_CONFIG')).toBe(true);
      expect((caught as { field?: string }).field).toBe(field);
      expect((caught as Error).message).toMatch(/^\[redbrick\/memory-backend\] /);
    }
    expect(() => createSharedMemoryBackend({ channel: {} as never })).toThrow(/channel must be/);
  });

  it('rejects bad host options and channels with ValidationError', async () => {
    expect(() => createSharedMemoryHost({ backend: 5 as never })).toThrow(/backend must be/);
    expect(() => createSharedMemoryHost({ cluster: 'yes' as never })).toThrow(/cluster must be/);
    const host = createSharedMemoryHost({ backend: createMemoryBackend(), cluster: false });
    expect(() => host.attach(42 as never)).toThrow(/channel must be/);
    await host.close();
    expect(() => host.attach(process as never)).toThrow(/closed/);
  });
});
