import type { Backend, ConnectionState } from '@redbrick/core';
import { freePort, type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepIntervalMs } from '../src/deadlines.js';
import { createRedisBackend } from '../src/index.js';
import { fresh, rejection, sleep, waitUntil } from './helpers.js';

/*
 * Real faults on a real redis-server: SIGKILL, restart on the same port,
 * CLIENT PAUSE past the command timeout. One server for the file; each test
 * leaves it running.
 */

const COMMAND_TIMEOUT_MS = 1000;

let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server.stop();
});

async function connect(): Promise<{ backend: Backend; states: ConnectionState[] }> {
  const backend = await createRedisBackend({
    url: server.url,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  const states: ConnectionState[] = [];
  backend.onConnectionChange((s) => states.push(s));
  return { backend, states };
}

async function ensureRunning(): Promise<void> {
  if (!server.running) await server.restart();
}

describe('redis-server killed mid-test', () => {
  it('fails fast with BACKEND_UNAVAILABLE, then recovers on the same backend after restart', async () => {
    const { backend, states } = await connect();
    const key = fresh('fault');
    try {
      expect(await backend.set(key, 'before')).toBe(true);
      await server.kill();
      await waitUntil('the backend to notice', () => !backend.isConnected);

      const latencies: number[] = [];
      for (const call of [
        () => backend.get(key),
        () => backend.set(key, 'x'),
        () => backend.incrBy(`${key}:n`, 1),
        () => backend.hgetall(key),
        () => backend.publish('ch', 'm'),
        () => backend.ping(),
        () => backend.info(),
      ]) {
        const { ms, error } = await rejection(call(), 'BACKEND_UNAVAILABLE');
        expect(error.message).toContain('[redbrick/redis-backend]');
        latencies.push(ms);
      }
      // Well under 2× the command timeout — in fact immediate: there is no offline queue.
      expect(Math.max(...latencies)).toBeLessThan(COMMAND_TIMEOUT_MS);
      console.info(`fail-fast latency while down: max ${Math.max(...latencies).toFixed(1)} ms`);

      const pipelineStarted = performance.now();
      const results = await backend.pipeline().add('get', key).add('set', key, 'x').exec();
      expect(performance.now() - pipelineStarted).toBeLessThan(COMMAND_TIMEOUT_MS);
      expect(results.map((r) => !r.ok && (r.error as Error & { code?: string }).code)).toEqual([
        'BACKEND_UNAVAILABLE',
        'BACKEND_UNAVAILABLE',
      ]);
      await rejection(backend.scan()[Symbol.asyncIterator]().next(), 'BACKEND_UNAVAILABLE');
      await rejection(
        backend.subscribe('ch', () => undefined),
        'BACKEND_UNAVAILABLE',
      );

      // Keeps failing fast while Redis stays down (reconnect attempts run in the background).
      await sleep(300);
      const again = await rejection(backend.get(key), 'BACKEND_UNAVAILABLE');
      expect(again.ms).toBeLessThan(COMMAND_TIMEOUT_MS);
      expect(states).toContain('down');
      expect(states).toContain('reconnecting');

      await server.restart();
      const restartedAt = performance.now();
      await waitUntil('the backend to reconnect', () => backend.isConnected, 10_000);
      console.info(`reconnected ${(performance.now() - restartedAt).toFixed(0)} ms after restart`);
      expect(states.at(-1)).toBe('ready');
      // No persistence: the restarted server is empty, and the same backend object works.
      expect(await backend.get(key)).toBeNull();
      expect(await backend.set(key, 'after')).toBe(true);
      expect(await backend.get(key)).toBe('after');
    } finally {
      await ensureRunning();
      await backend.close();
    }
  });

  it('fails a command that is in flight when the server dies, without waiting for the timeout', async () => {
    const { backend } = await connect();
    try {
      await server.pause(5000);
      const inFlight = rejection(backend.get(fresh('in-flight')), 'BACKEND_UNAVAILABLE');
      await sleep(100);
      const started = performance.now();
      await server.kill();
      const { ms } = await inFlight;
      expect(performance.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS);
      expect(ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
    } finally {
      await ensureRunning();
      await backend.close();
    }
  });

  it('resumes subscriptions, pattern subscriptions and expiry events after a restart', async () => {
    const { backend } = await connect();
    const publisher = await createRedisBackend({ url: server.url });
    const channel = fresh('chan');
    const messages: string[] = [];
    const patterned: string[] = [];
    const expired: string[] = [];
    try {
      await backend.subscribe(channel, (m) => messages.push(m));
      await backend.psubscribe(`${channel}:*`, (m) => patterned.push(m));
      await backend.onExpired((k) => expired.push(k));
      expect(await publisher.publish(channel, 'one')).toBe(1);
      await waitUntil('the first message', () => messages.includes('one'));

      await server.kill();
      await server.restart();
      await waitUntil('both connections to come back', async () => {
        if (!backend.isConnected || !publisher.isConnected) return false;
        // the subscriber connection resubscribes on its own; wait until the server counts it
        return (await publisher.publish(channel, 'probe')) === 1;
      });
      expect(await publisher.publish(channel, 'two')).toBe(1);
      expect(await publisher.publish(`${channel}:x`, 'three')).toBe(1);
      await waitUntil(
        'messages after the restart',
        () => messages.includes('two') && patterned.includes('three'),
      );

      // The restarted server forgot notify-keyspace-events; the backend turned it back on.
      const key = fresh('exp');
      await waitUntil('keyspace events to be re-enabled', async () => {
        const info = await backend.info();
        return info.keyspaceEvents.includes('E') && info.keyspaceEvents.includes('x');
      });
      await publisher.set(key, 'v', { ttlMs: 20 });
      await waitUntil('the expiry event after the restart', () => expired.includes(key));
    } finally {
      await ensureRunning();
      await publisher.close();
      await backend.close();
    }
  });

  it('fails blocking reads when the server dies and serves them again after restart', async () => {
    const { backend } = await connect();
    const stream = fresh('stream');
    try {
      await backend.xgroupCreate(stream, 'g', { mkStream: true });
      const blocked = rejection(
        backend.xreadgroup(stream, 'g', 'c', { blockMs: 5000 }),
        'BACKEND_UNAVAILABLE',
      );
      await sleep(100);
      await server.kill();
      const { ms } = await blocked;
      expect(ms).toBeLessThan(5000);
      await server.restart();
      await waitUntil('reconnect', () => backend.isConnected);
      await backend.xgroupCreate(stream, 'g', { mkStream: true });
      const reading = backend.xreadgroup(stream, 'g', 'c', { blockMs: 3000 });
      await sleep(50);
      const id = await backend.xadd(stream, { n: '1' });
      expect(await reading).toEqual([{ id, fields: { n: '1' } }]);
    } finally {
      await ensureRunning();
      await backend.close();
    }
  });
});

/**
 * Publishes a numbered message (with `publish`) the moment the backend reports 'ready': lost,
 * and missing from what the listener received, if 'ready' came before the resubscription.
 * Returns the messages sent so far.
 */
function publishOnReady(backend: Backend, publish: (message: string) => void): string[] {
  const sent: string[] = [];
  backend.onConnectionChange((state) => {
    if (state !== 'ready') return;
    const message = `after-ready-${sent.length}`;
    sent.push(message);
    publish(message);
  });
  return sent;
}

describe('a subscriber connection lost on its own', () => {
  it("reports 'reconnecting' until the subscriptions are restored, and 'ready' only once a publish reaches them", async () => {
    const { backend, states } = await connect();
    const admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
    const channel = fresh('resubscribed');
    const received: string[] = [];
    const sent = publishOnReady(backend, (message) => void admin.publish(channel, message));
    try {
      await backend.subscribe(channel, (m) => received.push(m));
      for (let round = 0; round < 3; round++) {
        states.length = 0;
        const killed = Number(await admin.call('client', 'kill', 'type', 'pubsub'));
        expect(killed).toBe(1);
        await waitUntil("the backend to report 'ready' again", () => states.at(-1) === 'ready');
        expect(states).toEqual(['reconnecting', 'ready']);
        // the main connection never dropped
        expect(backend.isConnected).toBe(true);
      }
      await waitUntil('every after-ready message to arrive', () => received.length === sent.length);
      expect(received).toEqual(sent);
    } finally {
      await backend.close();
      admin.disconnect();
    }
  });

  it('keeps its subscriptions when the connection drops again before the re-SUBSCRIBE is answered', async () => {
    const { backend, states } = await connect();
    const admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
    const channel = fresh('twice-dropped');
    const pattern = `${fresh('twice-dropped-pattern')}:*`;
    const received: string[] = [];
    const subscriberConn = async (): Promise<{ id: string; cmd: string } | undefined> => {
      const list = String(await admin.call('client', 'list'));
      for (const line of list.split('\n')) {
        if (!line.includes('name=redbrick-subscriber')) continue;
        const id = /\bid=(\d+)/.exec(line)?.[1];
        const cmd = /\bcmd=(\S+)/.exec(line)?.[1];
        if (id !== undefined && cmd !== undefined) return { id, cmd };
      }
      return undefined;
    };
    try {
      await backend.subscribe(channel, (m) => received.push(m));
      await backend.psubscribe(pattern, (m) => received.push(`p:${m}`));
      // Kill the subscriber connection, then kill each new one right after its ready check (INFO),
      // which is when the re-SUBSCRIBE is on the wire but not answered yet.
      let early = 0;
      for (let round = 0; round < 40; round++) {
        const first = await subscriberConn();
        if (first) await admin.call('client', 'kill', 'id', first.id);
        const deadline = Date.now() + 2000;
        while (Date.now() < deadline) {
          const next = await subscriberConn();
          if (next !== undefined && next.id !== first?.id && next.cmd === 'info') {
            await admin.call('client', 'kill', 'id', next.id).catch(() => undefined);
            early++;
            break;
          }
          if (next !== undefined && next.id !== first?.id && next.cmd !== 'client|setname') break;
        }
      }
      // The last kill reaches the client asynchronously: let it notice, then wait for 'ready'.
      await sleep(300);
      await waitUntil("the backend to report 'ready'", () => states.at(-1) === 'ready', 10_000);
      // A lost subscription never comes back: publish until both listeners hear one, or time out.
      await waitUntil(
        'the channel and the pattern to receive again',
        async () => {
          await admin.publish(channel, 'still-subscribed');
          await admin.publish(pattern.replace('*', 'x'), 'still-psubscribed');
          await sleep(50);
          return received.includes('still-subscribed') && received.includes('p:still-psubscribed');
        },
        5000,
      );
      console.log(`subscriber connection killed 40 times, ${early} of them after the ready check`);
    } finally {
      await backend.close();
      admin.disconnect();
    }
  });

  it("after a server restart reports 'ready' only when the subscriber is back too", async () => {
    const { backend, states } = await connect();
    const channel = fresh('restart-resubscribed');
    const received: string[] = [];
    const sent = publishOnReady(backend, (message) => {
      const publisher = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      publisher
        .connect()
        .then(() => publisher.publish(channel, message))
        .catch(() => undefined) // a failed publish shows as a message missing from `received`
        .finally(() => publisher.disconnect());
    });
    try {
      await backend.subscribe(channel, (m) => received.push(m));
      await server.kill();
      await waitUntil('the backend to notice', () => states.includes('down'));
      await sleep(300);
      await server.restart();
      await waitUntil(
        "the backend to report 'ready' again",
        () => states.at(-1) === 'ready',
        10_000,
      );
      await waitUntil('the after-ready message to arrive', () => received.length === sent.length);
      expect(received).toEqual(sent);
    } finally {
      await ensureRunning();
      await backend.close();
    }
  });
});

describe('CLIENT PAUSE past the command timeout', () => {
  it('fails with BACKEND_UNAVAILABLE after about the timeout, then works again', async () => {
    const { backend } = await connect();
    const key = fresh('pause');
    try {
      await backend.set(key, 'v');
      await server.pause(COMMAND_TIMEOUT_MS * 2);
      const pausedAt = performance.now();
      const { ms, error } = await rejection(backend.get(key), 'BACKEND_UNAVAILABLE');
      expect(error.message).toMatch(/timed out/i);
      // One sweep enforces the deadline: never before it, at most one sweep interval after it.
      expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 1);
      expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + sweepIntervalMs(COMMAND_TIMEOUT_MS) + 150);
      console.info(
        `paused server: failed after ${ms.toFixed(0)} ms (commandTimeoutMs ${COMMAND_TIMEOUT_MS})`,
      );
      await sleep(Math.max(0, COMMAND_TIMEOUT_MS * 2 - (performance.now() - pausedAt)) + 50);
      await waitUntil('the pause to end', async () => (await backend.get(key)) === 'v');
      expect(backend.isConnected).toBe(true);
    } finally {
      await backend.close();
    }
  });

  it('fails every command in flight, pipelines included, and none of them early', async () => {
    const { backend } = await connect();
    const key = fresh('pause-many');
    try {
      await backend.set(key, 'v');
      await server.pause(COMMAND_TIMEOUT_MS * 2);
      const started = performance.now();
      const pipe = backend.pipeline();
      pipe.add('get', key);
      pipe.add('incrBy', `${key}:n`, 1);
      const settledAt = (call: Promise<unknown>) =>
        call.then(
          () => ({ ms: performance.now() - started, code: 'fulfilled' }),
          (error: { code?: string }) => ({ ms: performance.now() - started, code: error.code }),
        );
      const [gets, batch] = await Promise.all([
        Promise.all(Array.from({ length: 50 }, () => settledAt(backend.get(key)))),
        pipe.exec(),
      ]);
      const elapsed = performance.now() - started;
      expect(new Set(gets.map((g) => g.code))).toEqual(new Set(['BACKEND_UNAVAILABLE']));
      expect(Math.min(...gets.map((g) => g.ms))).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 1);
      // A pipeline reports its failures per entry instead of rejecting.
      expect(batch.map((r) => (r.ok ? 'ok' : (r.error as { code?: string }).code))).toEqual([
        'BACKEND_UNAVAILABLE',
        'BACKEND_UNAVAILABLE',
      ]);
      expect(elapsed).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 1);
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + sweepIntervalMs(COMMAND_TIMEOUT_MS) + 150);
      await waitUntil('the pause to end', async () => (await backend.get(key)) === 'v', 5000);
    } finally {
      await backend.close();
    }
  });

  it('does not cut off a reply that comes before the deadline', async () => {
    const { backend } = await connect();
    const key = fresh('pause-short');
    try {
      await backend.set(key, 'v');
      // Several sweeps see the command waiting; it still gets its reply.
      await server.pause(COMMAND_TIMEOUT_MS * 0.7);
      expect(await backend.get(key)).toBe('v');
    } finally {
      await backend.close();
    }
  });

  it('bounds blocking reads by BLOCK + command timeout', async () => {
    const { backend } = await connect();
    const stream = fresh('paused-stream');
    try {
      await backend.xgroupCreate(stream, 'g', { mkStream: true });
      await server.pause(3000);
      const { ms } = await rejection(
        backend.xreadgroup(stream, 'g', 'c', { blockMs: 200 }),
        'BACKEND_UNAVAILABLE',
      );
      expect(ms).toBeLessThan(200 + 2 * COMMAND_TIMEOUT_MS);
      await waitUntil('the pause to end', async () => (await backend.xlen(stream)) === 0, 10_000);
    } finally {
      await backend.close();
    }
  });
});

describe('no server at all', () => {
  it('createRedisBackend rejects with BACKEND_UNAVAILABLE within connectTimeoutMs', async () => {
    const port = await freePort();
    const { ms, error } = await rejection(
      createRedisBackend({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 }),
      'BACKEND_UNAVAILABLE',
    );
    expect(ms).toBeLessThan(1500);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });
});
