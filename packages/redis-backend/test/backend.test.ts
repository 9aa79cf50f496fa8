import { inspect } from 'node:util';
import {
  createBackend,
  createBackendFromEnv,
  defineScript,
  isRedbrickError,
  redisConnectionSource,
} from '@redbrick/core';
import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor, toRedbrickError } from '../src/errors.js';
import { createRedisBackend, type RedisBackend } from '../src/index.js';
import { fresh, rejection, sleep, waitUntil } from './helpers.js';

/* Redis-specific behaviour of the backend on one throwaway redis-server. */

let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server.stop();
});

describe('creating a backend', () => {
  it('through core createBackend, with a config without type, and from env', async () => {
    const viaCore = await createBackend({ type: 'redis', url: server.url });
    const direct = await createRedisBackend({ url: server.url });
    const fromEnv = await createBackendFromEnv({
      REDIS_URL: server.url,
      REDIS_KEY_PREFIX: 'envapp',
      REDIS_DEFAULT_TTL: '30',
      REDIS_MAX_CONNECTIONS: '4',
    });
    try {
      expect(viaCore.kind).toBe('redis');
      expect(direct.kind).toBe('redis');
      expect(fromEnv.kind).toBe('redis');
      expect(fromEnv.prefix).toBe('envapp:');
      expect(fromEnv.defaultTtlMs).toBe(30_000);
      const k = fresh('env');
      await fromEnv.set(k, 'v');
      expect(await direct.get(`envapp:${k}`)).toBe('v');
    } finally {
      await Promise.all([viaCore.close(), direct.close(), fromEnv.close()]);
    }
  });

  it('with keyPrefix returns a scoped view whose close() closes the connections', async () => {
    const backend = await createRedisBackend({
      url: server.url,
      keyPrefix: 'app',
      defaultTtlMs: 5000,
    });
    expect(backend.prefix).toBe('app:');
    expect(backend.defaultTtlMs).toBe(5000);
    expect(backend.scoped('tenant').defaultTtlMs).toBe(5000);
    expect(inspect(backend)).toContain("scoped to 'app:'");
    expect(backend.isConnected).toBe(true);
    await backend.close();
    expect(backend.isConnected).toBe(false);
    await backend.close();
    await rejection(backend.get('k'), 'CLOSED');
  });

  it('rejects bad config with INVALID_CONFIG naming the field', async () => {
    const { error } = await rejection(
      createRedisBackend({ url: 'http://127.0.0.1:6379' }),
      'INVALID_CONFIG',
    );
    expect(error.message).toContain('url');
    await rejection(createRedisBackend({ port: 0 }), 'INVALID_CONFIG');
    await rejection(createRedisBackend({ commandTimeoutMs: -1 }), 'INVALID_CONFIG');
    await rejection(
      createRedisBackend({ cluster: { nodes: [server.url] }, db: 2 }),
      'INVALID_CONFIG',
    );
  });

  it('applies maxMemoryBytes / maxMemoryPolicy on connect and reports them in info()', async () => {
    const own = await startRedisServer();
    const backend = await createRedisBackend({
      url: own.url,
      maxMemoryBytes: 64 * 1024 * 1024,
      maxMemoryPolicy: 'allkeys-lru',
    });
    try {
      const info = await backend.info();
      expect(info.maxMemoryBytes).toBe(64 * 1024 * 1024);
      expect(info.maxMemoryPolicy).toBe('allkeys-lru');
      // A restarted server forgot it; the backend applies it again on reconnect.
      await own.restart();
      await waitUntil(
        'maxmemory re-applied',
        async () => (await backend.info()).maxMemoryBytes === 64 * 1024 * 1024,
      );
    } finally {
      await backend.close();
      await own.stop();
    }
  });

  it('with autoPipelining on behaves the same', async () => {
    const backend = await createRedisBackend({ url: server.url, autoPipelining: true });
    try {
      const k = fresh('auto');
      const results = await Promise.all(Array.from({ length: 50 }, () => backend.incrBy(k, 1)));
      expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    } finally {
      await backend.close();
    }
  });
});

describe('validation before anything is sent', () => {
  it('bad arguments fail with VALIDATION naming the field, even with the server gone', async () => {
    const own = await startRedisServer();
    const backend = await createRedisBackend({ url: own.url });
    try {
      await own.kill();
      await waitUntil('down', () => !backend.isConnected);
      const cases: Array<[Promise<unknown>, string]> = [
        [backend.get(''), 'key'],
        [backend.set('k', 'v', { ttlMs: 0 }), 'ttlMs'],
        [backend.set('k', 'v', { ttlMs: 1.5 }), 'ttlMs'],
        [backend.set('k', 'v', { ttlMs: 10, keepTtl: true }), 'keepTtl'],
        [backend.incrBy('k', Number.NaN), 'by'],
        [backend.incrByFloat('k', Number.POSITIVE_INFINITY), 'by'],
        [backend.pexpire('k', Number.NaN), 'ttlMs'],
        [backend.zadd('k', { member: 'm', score: Number.NaN }), 'members[0].score'],
        [backend.zrangeByScore('k', 'nope' as never, 1), 'min'],
        [backend.lrange('k', 0.5, 1), 'start'],
        [backend.hset('k', {}), 'fields'],
        [backend.mset({ '': 'v' }), 'entries[0] key'],
        [backend.set('k', 1 as unknown as string), 'value'],
        [backend.xtrim('k', {}), 'maxLen'],
        [backend.xreadgroup('k', '', 'c'), 'group'],
        [backend.publish('', 'm'), 'channel'],
      ];
      for (const [call, field] of cases) {
        const { error } = await rejection(call, 'VALIDATION');
        expect((error as Error & { field?: string }).field).toBe(field);
        expect(error.message).toContain('[redbrick/');
      }
      const script = defineScript({
        name: 'redis-backend-test.one-key',
        keys: 1,
        lua: 'return 1',
        local: () => 1,
      });
      await rejection(backend.run(script, []), 'VALIDATION');
      await rejection(backend.run(script, ['k'], [Number.NaN]), 'VALIDATION');
      const iterator = backend.scan({ count: 0 })[Symbol.asyncIterator]();
      await rejection(iterator.next(), 'VALIDATION');
    } finally {
      await backend.close();
      await own.stop();
    }
  });
});

describe('blocking reads', () => {
  it('do not stall other commands, and use at most maxConnections - 2 extra connections', async () => {
    const backend = (await createRedisBackend({
      url: server.url,
      maxConnections: 3,
    })) as RedisBackend;
    const stream = fresh('blocking');
    try {
      await backend.xgroupCreate(stream, 'g', { mkStream: true });
      const first = backend.xreadgroup(stream, 'g', 'a', { blockMs: 600 });
      const second = backend.xreadgroup(stream, 'g', 'b', { blockMs: 600 });
      await sleep(50);
      const started = performance.now();
      for (let i = 0; i < 20; i++) await backend.xlen(stream);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeLessThan(300);
      expect(backend.connections.blocking).toBe(1);
      const t0 = performance.now();
      expect(await first).toEqual([]);
      expect(await second).toEqual([]);
      // one connection: the second read waited for the first
      expect(performance.now() - t0).toBeGreaterThan(500);
    } finally {
      await backend.close();
    }
  });
});

describe('scripts', () => {
  it('EVALSHA after the first call, EVAL again after SCRIPT FLUSH, script errors as SCRIPT', async () => {
    const backend = await createRedisBackend({ url: server.url });
    try {
      const script = defineScript<number>({
        name: 'redis-backend-test.add',
        keys: 1,
        lua: `--[[ redis-backend-test.add
  KEYS[1]  counter
  ARGV[1]  increment
  returns  the new value ]]
return redis.call('incrby', KEYS[1], ARGV[1])`,
        local: (r, [k], [by]) => r.incrBy(k as string, Number(by)),
        decode: (reply) => reply as number,
      });
      const k = fresh('script');
      expect(await backend.run(script, [k], [2])).toBe(2);
      expect(await server.command('SCRIPT', 'EXISTS', script.sha1)).toEqual([1]);
      await server.command('SCRIPT', 'FLUSH');
      expect(await backend.run(script, [k], [3])).toBe(5);
      const failing = defineScript({
        name: 'redis-backend-test.fails',
        keys: 0,
        lua: `return redis.error_reply('custom failure')`,
        local: () => {
          throw new Error('custom failure');
        },
      });
      const { error } = await rejection(backend.run(failing, []), 'SCRIPT');
      expect(error.message).toContain('redis-backend-test.fails');
      expect(error.message).toContain('custom failure');
      await backend.rpush(`${k}:list`, 'x');
      await rejection(backend.run(script, [`${k}:list`], [1]), 'WRONGTYPE');
    } finally {
      await backend.close();
    }
  });
});

describe('expiry events', () => {
  it('fail with KEYSPACE_EVENTS_DISABLED when events are off and CONFIG SET is not allowed', async () => {
    const own = await startRedisServer();
    try {
      await own.command(
        'ACL',
        'SETUSER',
        'app',
        'on',
        '>app-pass',
        '~*',
        '&*',
        '+@all',
        '-config|set',
      );
      const backend = await createRedisBackend({
        url: `redis://app:app-pass@127.0.0.1:${own.port}`,
      });
      try {
        const { error } = await rejection(
          backend.onExpired(() => undefined),
          'KEYSPACE_EVENTS_DISABLED',
        );
        expect(error.message).toContain('notify-keyspace-events');
        expect(error.message).toContain('Ex');
        // Once the operator turns them on, the same call works.
        await own.command('CONFIG', 'SET', 'notify-keyspace-events', 'Ex');
        const expired: string[] = [];
        const sub = await backend.onExpired((k) => expired.push(k));
        await backend.set('soon', 'v', { ttlMs: 20 });
        await waitUntil('the expiry event', () => expired.includes('soon'));
        await sub.unsubscribe();
      } finally {
        await backend.close();
      }
      const optedOut = await createRedisBackend({ url: own.url, enableKeyspaceEvents: false });
      try {
        await own.command('CONFIG', 'SET', 'notify-keyspace-events', '');
        await rejection(
          optedOut.onExpired(() => undefined),
          'KEYSPACE_EVENTS_DISABLED',
        );
      } finally {
        await optedOut.close();
      }
    } finally {
      await own.stop();
    }
  });
});

describe('admin', () => {
  it('ping, time, info and connection state', async () => {
    const backend = await createRedisBackend({ url: server.url });
    try {
      expect(await backend.ping()).toBeGreaterThanOrEqual(0);
      const t = await backend.time();
      expect(Math.abs(t - Date.now())).toBeLessThan(5000);
      const info = await backend.info();
      expect(info.backend).toBe('redis');
      expect(info.serverVersion).toMatch(/^\d+\.\d+/);
      expect(info.role).toBe('master');
      expect(info.usedMemoryBytes).toBeGreaterThan(0);
      expect(info.connectedClients).toBeGreaterThanOrEqual(1);
      expect(backend.isConnected).toBe(true);
      const states: string[] = [];
      backend.onConnectionChange((s) => states.push(s));
      await backend.close();
      expect(states).toEqual(['closed']);
      await rejection(backend.ping(), 'CLOSED');
    } finally {
      await backend.close();
    }
  });
});

describe('raw connections for libraries (BullMQ)', () => {
  it("classify a raw client's errors the way the backend does", async () => {
    const backend = await createRedisBackend({ url: server.url });
    try {
      const source = redisConnectionSource(backend);
      expect(source?.cluster).toBe(false);
      const raw = source?.createClient() as import('ioredis').Redis;
      await raw.connect();
      // A real reply error from a bad command is the caller's mistake, not an outage.
      const bad = await raw.call('incr').catch((e: unknown) => e);
      expect(source?.isUnavailable?.(bad)).toBe(false);
      raw.disconnect();
      const closed = await raw.get('k').catch((e: unknown) => e);
      expect(source?.isUnavailable?.(closed)).toBe(true);
      // What ioredis's Cluster throws when a slot keeps moving during a failover.
      expect(
        source?.isUnavailable?.(
          new Error(
            'Too many Cluster redirections. Last error: ReplyError: MOVED 9631 127.0.0.1:1',
          ),
        ),
      ).toBe(true);
      expect(source?.isUnavailable?.('not an error')).toBe(false);
    } finally {
      await backend.close();
    }
  });
});

describe('error mapping', () => {
  const context = {
    command: 'mget',
    target: 'redis://:***@127.0.0.1:6379/0',
    redactor: new Redactor(['hunter22']),
  };

  it('maps server replies to the redbrick error family', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(
      toRedbrickError(reply("CROSSSLOT Keys in request don't hash to the same slot"), context).code,
    ).toBe('CROSSSLOT');
    expect(
      toRedbrickError(
        new Error('All keys in the pipeline should belong to the same slots allocation group'),
        context,
      ).code,
    ).toBe('CROSSSLOT');
    expect(toRedbrickError(reply('WRONGTYPE Operation against a key'), context).code).toBe(
      'WRONGTYPE',
    );
    expect(
      toRedbrickError(reply('LOADING Redis is loading the dataset in memory'), context).code,
    ).toBe('BACKEND_UNAVAILABLE');
    expect(toRedbrickError(new Error('Command timed out'), context).code).toBe(
      'BACKEND_UNAVAILABLE',
    );
    expect(
      toRedbrickError(
        new Error(
          'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
        ),
        context,
      ).code,
    ).toBe('BACKEND_UNAVAILABLE');
    expect(toRedbrickError(reply('ERR syntax error'), context).code).toBe('COMMAND');
    expect(
      toRedbrickError(reply('ERR user_script:1: boom'), { ...context, script: 's' }).code,
    ).toBe('SCRIPT');
  });

  it('redacts URLs and secrets from every message and cause', () => {
    const error = toRedbrickError(
      new Error('connect to redis://admin:hunter22@10.0.0.1:6379 failed, password hunter22'),
      context,
    );
    expect(isRedbrickError(error)).toBe(true);
    const all = `${error.message}\n${String(error.cause)}\n${inspect(error, { depth: 5 })}`;
    expect(all).not.toContain('hunter22');
    expect(all).toContain('redis://admin:***@10.0.0.1');
  });
});
