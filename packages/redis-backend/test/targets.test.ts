import { isRedbrickError } from '@redbrick/core';
import { startRedisServer, testTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';

/* The testkit's server helpers and target matrix, as the other packages use them. */

describe('testTargets', () => {
  it('REDBRICK_TARGETS narrows the matrix, and an unknown name is an error', () => {
    expect(testTargets({ REDBRICK_TARGETS: 'memory,redis' }).map((t) => t.name)).toEqual([
      'memory',
      'redis',
    ]);
    expect(testTargets({}).map((t) => t.name)).toEqual(['memory', 'redis', 'cluster']);
    expect(testTargets({}).map((t) => t.capabilities.cluster)).toEqual([false, false, true]);
    expect(() => testTargets({ REDBRICK_TARGETS: 'memory,mongo' })).toThrow(
      /unknown target "mongo"/,
    );
  });

  it('the redis target exposes its throwaway server for fault injection', async () => {
    const [redis] = testTargets({ REDBRICK_TARGETS: 'redis' });
    if (!redis) throw new Error('no redis target');
    const backend = await redis.make({ redis: { commandTimeoutMs: 500 } });
    try {
      const server = await redis.server();
      expect(server?.running).toBe(true);
      expect(await backend.set('k', 'v')).toBe(true);
      expect(await server?.command('GET', 'k')).toBe('v');
      expect(await redis.cluster()).toBeUndefined();
    } finally {
      await backend.close();
    }
  });

  it('with REDIS_URL it uses that server, a unique key prefix per backend, and owns no process', async () => {
    const server = await startRedisServer();
    try {
      const [redis] = testTargets({ REDIS_URL: server.url, REDBRICK_TARGETS: 'redis' });
      if (!redis) throw new Error('no redis target');
      const a = await redis.make();
      const b = await redis.make();
      try {
        expect(a.prefix).not.toBe('');
        expect(a.prefix).not.toBe(b.prefix);
        await a.set('same', 'a');
        await b.set('same', 'b');
        expect(await a.get('same')).toBe('a');
        expect(await redis.server()).toBeUndefined();
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await server.stop();
    }
  });
});

describe('startRedisServer', () => {
  it('names the install command when redis-server is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await startRedisServer();
      throw new Error('expected startRedisServer to fail');
    } catch (error) {
      expect(isRedbrickError(error, 'MISSING_DEPENDENCY')).toBe(true);
      expect((error as Error).message).toContain('apt-get install -y redis-server');
      expect((error as Error).message).toContain('REDIS_URL');
    } finally {
      process.env.PATH = path;
    }
  });

  it('keeps data across kill + restart with appendonly, and runs on its own port and directory', async () => {
    const server = await startRedisServer({ appendonly: true });
    try {
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      await server.command('SET', 'durable', '1');
      const firstPid = server.pid;
      await server.kill();
      expect(server.running).toBe(false);
      await server.restart();
      expect(server.pid).not.toBe(firstPid);
      expect(await server.command('GET', 'durable')).toBe('1');
    } finally {
      await server.stop();
      await server.stop();
    }
    expect(server.running).toBe(false);
  });
});
