import { createRedisBackend } from '@redbrick/redis-backend';
import { type RedisServerHandle, startRedisServer, until } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue } from '../src/index.js';

/* Redis restarted (AOF on): queued jobs survive, and a running worker resumes on its own. */

let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer({ appendonly: true });
});

afterAll(async () => {
  await server?.stop();
});

describe('eviction policy', () => {
  it('warns once when Redis may evict queue keys', async () => {
    await server.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    const backend = await createRedisBackend({ url: server.url });
    const warnings: string[] = [];
    const queue = createQueue({ backend, name: 'evict', onWarning: (m) => warnings.push(m) });
    try {
      await queue.ready();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
    } finally {
      await server.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await queue.close();
      await backend.close();
    }
  });
});

describe('a Redis restart', () => {
  it('keeps queued jobs, and the worker that was running picks up again', {
    timeout: 60_000,
  }, async () => {
    const backend = await createRedisBackend({ url: server.url });
    const warnings: string[] = [];
    const queue = createQueue<number>({
      backend,
      name: 'restart',
      onWarning: (m) => warnings.push(m),
      defaults: { removeOnComplete: { count: 10_000, ageMs: 3_600_000 } },
    });
    const seen = new Set<number>();
    let worker: { close(): Promise<void> } | undefined;
    try {
      await queue.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ data: i })));
      expect((await queue.counts()).waiting).toBe(100);

      await server.restart();
      await until(
        'the queue to answer again',
        async () => (await queue.counts()).waiting === 100,
        20_000,
      );

      worker = queue.process((job) => {
        seen.add(job.data);
      });
      await until('the first 100 processed', () => seen.size === 100, 20_000);

      // Restart under a running worker: it reconnects by itself and takes the next jobs.
      await server.restart();
      await until(
        'enqueue works again',
        async () => {
          try {
            await queue.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ data: 100 + i })));
            return true;
          } catch {
            return false;
          }
        },
        20_000,
      );
      await until('the next 100 processed by the same worker', () => seen.size === 200, 30_000);
      expect((await queue.counts()).completed).toBe(200);
      expect(warnings).toEqual([]);
    } finally {
      await worker?.close();
      await queue.close();
      await backend.close();
    }
  });
});

describe('calls while Redis does not answer', () => {
  it('reject with BACKEND_UNAVAILABLE after callTimeoutMs; a retried enqueue with a jobId adds the job once', {
    timeout: 60_000,
  }, async () => {
    const backend = await createRedisBackend({ url: server.url });
    const queue = createQueue<number>({ backend, name: 'bounded', callTimeoutMs: 300 });
    try {
      await queue.ready();
      // A frozen server (SIGSTOP): commands are sent and never answered.
      const paused = server.pause(2500);
      const started = performance.now();
      const failure = await queue.enqueue(1, { jobId: 'once' }).then(
        () => undefined,
        (error: unknown) => error,
      );
      const waited = performance.now() - started;
      expect(failure).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      expect(String((failure as Error).message)).toMatch(/callTimeoutMs \(300 ms\)/);
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(1500);
      await expect(queue.counts()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await paused;
      // The timed-out enqueue ran once the server woke up; the retry with the same jobId adds nothing.
      await until(
        'the queue to answer again',
        async () => {
          try {
            await queue.enqueue(1, { jobId: 'once' });
            return true;
          } catch {
            return false;
          }
        },
        20_000,
      );
      const counts = await queue.counts();
      expect(counts.waiting).toBe(1);
    } finally {
      await queue.close();
      await backend.close();
    }
  });

  it('a stopped server: enqueue and ready fail within callTimeoutMs instead of waiting for it', {
    timeout: 60_000,
  }, async () => {
    const own = await startRedisServer();
    const backend = await createRedisBackend({ url: own.url });
    const queue = createQueue<number>({ backend, name: 'down', callTimeoutMs: 400 });
    try {
      await queue.ready();
      await own.kill();
      const started = performance.now();
      await expect(queue.enqueue(1)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      expect(performance.now() - started).toBeLessThan(2000);
      const late = createQueue<number>({ backend, name: 'late', callTimeoutMs: 400 });
      await expect(late.ready()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await late.close();
    } finally {
      await queue.close();
      await backend.close();
      await own.stop();
    }
  });

  it('rejects a bad callTimeoutMs with the field named', async () => {
    const backend = await createRedisBackend({ url: server.url });
    try {
      for (const callTimeoutMs of [-1, 1.5, Number.NaN]) {
        expect(() => createQueue({ backend, name: 'x', callTimeoutMs })).toThrow(
          expect.objectContaining({ code: 'VALIDATION', field: 'callTimeoutMs' }),
        );
      }
    } finally {
      await backend.close();
    }
  });
});
