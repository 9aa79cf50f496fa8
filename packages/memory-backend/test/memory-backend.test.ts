import { readFileSync } from 'node:fs';
import {
  type Backend,
  createBackend,
  defineScript,
  isRedbrickError,
  parseBackendConfig,
  RUN_NOW,
  runNowOf,
} from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, MemoryBackend } from '../src/index.js';
import { fakeClock, nextTurn, rejection, sleep } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('createMemoryBackend options', () => {
  it('is synchronous and ready at once; kind memory, prefix empty', async () => {
    const b = createMemoryBackend();
    expect(b).toBeInstanceOf(MemoryBackend);
    expect(b.kind).toBe('memory');
    expect(b.prefix).toBe('');
    expect(b.isConnected).toBe(true);
    expect(b.defaultTtlMs).toBeUndefined();
    expect(await b.set('k', 'v')).toBe(true);
    await b.close();
  });

  it("accepts core's parsed config, and createBackend() loads it", async () => {
    const parsed = parseBackendConfig({ type: 'memory', maxKeys: 10, defaultTtlMs: 5000 });
    if (parsed.type !== 'memory') throw new Error('expected a memory config');
    const direct = createMemoryBackend(parsed);
    expect(direct.defaultTtlMs).toBe(5000);
    await direct.close();
    const viaCore = await createBackend({ type: 'memory', keyPrefix: 'app', defaultTtlMs: 1000 });
    expect(viaCore.kind).toBe('memory');
    expect(viaCore.prefix).toBe('app:');
    expect(viaCore.defaultTtlMs).toBe(1000);
    await viaCore.set('k', 'v');
    expect(await viaCore.get('k')).toBe('v');
    await viaCore.close();
    expect(viaCore.isConnected).toBe(false);
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ maxKeys: 0 }, 'maxKeys'],
      [{ maxKeys: -1 }, 'maxKeys'],
      [{ maxKeys: 1.5 }, 'maxKeys'],
      [{ maxMemoryBytes: Number.NaN }, 'maxMemoryBytes'],
      [{ defaultTtlMs: -5 }, 'defaultTtlMs'],
      [{ evictionPolicy: 'lru' }, 'evictionPolicy'],
      [{ keyPrefix: '' }, 'keyPrefix'],
      [{ keyPrefix: 'a{b}' }, 'keyPrefix'],
      [{ clock: 5 }, 'clock'],
      [{ activeExpiry: 'yes' }, 'activeExpiry'],
      [{ maxkeys: 5 }, 'maxkeys'],
      [{ type: 'redis' }, 'type'],
    ];
    for (const [options, field] of cases) {
      let error: unknown;
      try {
        createMemoryBackend(options as never);
      } catch (e) {
        error = e;
      }
      expect(isRedbrickError(error, 'INVALID_CONFIG'), JSON.stringify(options)).toBe(true);
      expect((error as { field?: string }).field).toBe(field);
      expect((error as Error).message).toContain(field);
    }
    expect(() => new MemoryBackend({ keyPrefix: 'x' } as never)).toThrow(/createMemoryBackend/);
  });

  it('keyPrefix gives a prefixed view whose close() closes the backend', async () => {
    const b = createMemoryBackend({ keyPrefix: 'tenant:1', defaultTtlMs: 60_000 });
    expect(b.prefix).toBe('tenant%3A1:');
    expect(b.defaultTtlMs).toBe(60_000);
    await b.set('k', 'v');
    const child = b.scoped('child');
    expect(child.prefix).toBe('tenant%3A1:child:');
    expect(child.defaultTtlMs).toBe(60_000);
    await child.set('k', 'child value');
    expect((await collectKeys(b)).sort()).toEqual(['child:k', 'k']);
    await child.close();
    expect(b.isConnected).toBe(true);
    await b[Symbol.asyncDispose]();
    expect(b.isConnected).toBe(false);
    expect((await rejection(b.get('k'))).code).toBe('CLOSED');
    await b.close();
  });
});

async function collectKeys(b: Backend, match?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of b.scan(match === undefined ? {} : { match })) out.push(k);
  return out;
}

describe('close', () => {
  it('is idempotent and makes every call fail with CLOSED', async () => {
    const b = createMemoryBackend();
    const states: string[] = [];
    b.onConnectionChange((state) => states.push(state));
    const off = b.onConnectionChange((state) => states.push(`removed:${state}`));
    off();
    await b.set('k', 'v');
    const scan = b.scan()[Symbol.asyncIterator]();
    await Promise.all([b.close(), b.close()]);
    await b.close();
    expect(states).toEqual(['closed']);
    const calls: Array<() => Promise<unknown>> = [
      () => b.get('k'),
      () => b.set('k', 'v'),
      () => b.xadd('s', { f: 'v' }),
      () => b.publish('c', 'm'),
      () => b.subscribe('c', () => undefined),
      () => b.psubscribe('*', () => undefined),
      () => b.onExpired(() => undefined),
      () => b.run(echo, [], ['x']),
      () => b.pipeline().add('get', 'k').exec(),
      () => b.ping(),
      () => b.info(),
      () => b.time(),
      () => scan.next(),
    ];
    for (const call of calls) expect((await rejection(call())).code).toBe('CLOSED');
    expect(b.isConnected).toBe(false);
  });

  it('ends blocked reads with CLOSED and drops undelivered messages', async () => {
    const b = createMemoryBackend();
    await b.xgroupCreate('s', 'g', { mkStream: true });
    const blocked = b.xreadgroup('s', 'g', 'c', { blockMs: 60_000 });
    const got: string[] = [];
    await b.subscribe('c', (m) => got.push(m));
    await b.publish('c', 'never delivered');
    await b.close();
    expect((await rejection(blocked)).code).toBe('CLOSED');
    await nextTurn();
    expect(got).toEqual([]);
  });
});

const echo = defineScript({
  name: 'memory-backend.test.echo',
  lua: 'return ARGV[1]',
  local: (_r, _keys, [value]) => value ?? null,
});

const failing = defineScript({
  name: 'memory-backend.test.failing',
  keys: 1,
  lua: `if ARGV[1] == 'incr' then return redis.call('incr', KEYS[1]) end error('custom')`,
  local(r, [key], [how]) {
    if (how === 'incr') return r.incrBy(key as string, 1);
    if (how === 'bad-ttl') return r.set(key as string, 'v', { ttlMs: -1 });
    throw new Error('custom');
  },
});

const asyncBody = defineScript({
  name: 'memory-backend.test.async-body',
  lua: 'return 1',
  local: (async () => 1) as never,
});

describe('scripts', () => {
  it('wrap body errors in ScriptError with the cause; WRONGTYPE stays WRONGTYPE', async () => {
    const b = createMemoryBackend();
    await b.set('text', 'abc');
    await b.hset('hash', { f: 'v' });
    const notInteger = await rejection(b.run(failing, ['text'], ['incr']));
    expect(notInteger.code).toBe('SCRIPT');
    expect((notInteger as { script?: string }).script).toBe('memory-backend.test.failing');
    expect((notInteger.cause as { code?: string }).code).toBe('COMMAND');
    expect(notInteger.message).toMatch(/not an integer/);
    const wrongType = await rejection(b.run(failing, ['hash'], ['incr']));
    expect(wrongType.code).toBe('WRONGTYPE');
    const badTtl = await rejection(b.run(failing, ['k'], ['bad-ttl']));
    expect(badTtl.code).toBe('SCRIPT');
    expect((badTtl.cause as { code?: string }).code).toBe('VALIDATION');
    const thrown = await rejection(b.run(failing, ['k'], ['throw']));
    expect(thrown.code).toBe('SCRIPT');
    expect(thrown.message).toMatch(/custom/);
    const promised = await rejection(b.run(asyncBody, []));
    expect(promised.code).toBe('SCRIPT');
    expect(promised.message).toMatch(/synchronous/);
    await b.close();
  });

  it('run atomically: no other command interleaves with a local body', async () => {
    const b = createMemoryBackend();
    const transfer = defineScript<number>({
      name: 'memory-backend.test.transfer',
      keys: 2,
      lua: '',
      local(r, [from, to]) {
        const amount = Number(r.get(from as string) ?? '0');
        r.set(from as string, '0');
        r.incrBy(to as string, amount);
        return amount;
      },
    });
    await b.set('a', '100');
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 100; i++) {
      writes.push(b.incrBy('a', 1));
      writes.push(b.run(transfer, ['a', 'b']));
    }
    await Promise.all(writes);
    expect(Number(await b.get('a')) + Number(await b.get('b'))).toBe(200);
    await b.close();
  });

  it('see the backend clock through time()', async () => {
    const clock = fakeClock(1_234_567_890_123);
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    const now = defineScript<number>({
      name: 'memory-backend.test.now',
      lua: "return redis.call('time')[1]",
      local: (r) => r.time(),
    });
    expect(await b.run(now, [])).toBe(1_234_567_890_123);
    await b.close();
  });
});

describe("RUN_NOW (core's synchronous script capability)", () => {
  it('returns what run resolves to, at once, and throws what run rejects with', async () => {
    const b = createMemoryBackend();
    const incr = defineScript<number>({
      name: 'test.run-now.incr',
      keys: 1,
      lua: "return redis.call('incrby', KEYS[1], ARGV[1])",
      local: (r, [k = ''], [by = '1']) => r.incrBy(k, Number(by)),
      decode: (reply) => Number(reply),
    });
    const runNow = runNowOf(b);
    expect(runNow).toBeTypeOf('function');
    expect(runNow?.(incr, ['n'], [2])).toBe(2);
    expect(await b.run(incr, ['n'], [3])).toBe(5);
    expect(runNow?.(incr, ['n'], ['4'])).toBe(9);
    const boom = defineScript({
      name: 'test.run-now.boom',
      lua: 'return 0',
      local: () => {
        throw new Error('boom');
      },
    });
    let thrown: unknown;
    try {
      runNow?.(boom, []);
    } catch (error) {
      thrown = error;
    }
    expect(isRedbrickError(thrown, 'SCRIPT')).toBe(true);
    await expect(b.run(boom, [])).rejects.toMatchObject({ code: 'SCRIPT' });
    expect(() => runNow?.(incr, [])).toThrow(/takes 1 key/);
    // a scoped view has no synchronous runner: it would skip the prefix
    expect(runNowOf(b.scoped('app:'))).toBeUndefined();
    expect(b[RUN_NOW]).toBeTypeOf('function');
    await b.close();
    expect(() => runNow?.(incr, ['n'])).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});

describe('pipelines', () => {
  it('run a blocking read inside the batch and continue after it', async () => {
    const b = createMemoryBackend();
    await b.xgroupCreate('s', 'g', { mkStream: true });
    const pending = b
      .pipeline()
      .add('set', 'before', '1')
      .add('xreadgroup', 's', 'g', 'c', { blockMs: 5_000 })
      .add('get', 'before')
      .exec();
    await sleep(20);
    await b.xadd('s', { f: 'v' });
    const results = await pending;
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect((results[1] as { value: unknown[] }).value).toHaveLength(1);
    await b.close();
  });

  it('reject unknown commands when queued and can be reused after exec', async () => {
    const b = createMemoryBackend();
    const p = b.pipeline();
    expect(() => (p.add as (c: string) => unknown)('flushall')).toThrow(/unknown command/);
    p.add('set', 'k', '1');
    expect(await p.exec()).toEqual([{ ok: true, value: true }]);
    expect(p.length).toBe(0);
    p.add('get', 'k');
    expect(await p.exec()).toEqual([{ ok: true, value: '1' }]);
    await b.close();
  });
});

describe('pub/sub', () => {
  it('counts every subscribe / psubscribe registration, like one client each', async () => {
    const b = createMemoryBackend();
    const got: string[] = [];
    const s1 = await b.subscribe('ch', (m) => got.push(`1:${m}`));
    const s2 = await b.subscribe('ch', (m) => got.push(`2:${m}`));
    const s3 = await b.psubscribe('c?', (m) => got.push(`p:${m}`));
    expect(await b.publish('ch', 'x')).toBe(3);
    await nextTurn();
    expect(got.sort()).toEqual(['1:x', '2:x', 'p:x']);
    await s2.unsubscribe();
    expect(await b.publish('ch', 'y')).toBe(2);
    await s1.unsubscribe();
    await s3.unsubscribe();
    expect(await b.publish('ch', 'z')).toBe(0);
    await b.close();
  });

  it('does not deliver what was published before an unsubscribe but not yet delivered', async () => {
    const b = createMemoryBackend();
    const got: string[] = [];
    const sub = await b.subscribe('ch', (m) => got.push(m));
    expect(await b.publish('ch', 'in flight')).toBe(1);
    await sub.unsubscribe();
    await nextTurn();
    expect(got).toEqual([]);
    await b.close();
  });

  it('rejects an invalid listener', async () => {
    const b = createMemoryBackend();
    expect((await rejection(b.subscribe('c', 'nope' as never))).code).toBe('VALIDATION');
    expect((await rejection(b.onExpired(undefined as never))).field).toBe('listener');
    await b.close();
  });
});

describe('scan', () => {
  it('yields to the event loop between steps', async () => {
    const b = createMemoryBackend();
    for (let i = 0; i < 1000; i++) await b.set(`k${i}`, 'v');
    // Counts turns of the event loop (check phases) while the scan runs: a scan that
    // never yielded would finish inside one turn.
    let turns = 0;
    let running = true;
    const spin = () => {
      if (!running) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    let seen = 0;
    for await (const _ of b.scan({ count: 10 })) seen++;
    running = false;
    expect(seen).toBe(1000);
    expect(turns).toBeGreaterThan(50);
    await b.close();
  });

  it('validates its options', async () => {
    const b = createMemoryBackend();
    expect((await rejection(collectKeys(b, 5 as never))).field).toBe('match');
    const iterate = async (options: object) => {
      for await (const _ of b.scan(options)) {
        // drain
      }
    };
    expect((await rejection(iterate({ count: 0 }))).field).toBe('count');
    expect((await rejection(iterate({ type: 'bogus' }))).field).toBe('type');
    await b.close();
  });
});

describe('blocking reads', () => {
  it('serves blocked consumers first come, first served', async () => {
    const b = createMemoryBackend();
    await b.xgroupCreate('s', 'g', { mkStream: true });
    const first = b.xreadgroup('s', 'g', 'first', { blockMs: 5_000, count: 1 });
    const second = b.xreadgroup('s', 'g', 'second', { blockMs: 5_000, count: 1 });
    const a = await b.xadd('s', { n: '1' });
    expect((await first).map((e) => e.id)).toEqual([a]);
    const c = await b.xadd('s', { n: '2' });
    expect((await second).map((e) => e.id)).toEqual([c]);
    await b.close();
  });

  it('a script adding several entries wakes readers after it finished', async () => {
    const b = createMemoryBackend();
    await b.xgroupCreate('s', 'g', { mkStream: true });
    const reader = b.xreadgroup('s', 'g', 'c', { blockMs: 5_000 });
    const addTwo = defineScript({
      name: 'memory-backend.test.add-two',
      keys: 1,
      lua: '',
      local(r, [key]) {
        r.xadd(key as string, { n: '1' });
        r.xadd(key as string, { n: '2' });
        return 1;
      },
    });
    await b.run(addTwo, ['s']);
    expect((await reader).map((e) => e.fields.n)).toEqual(['1', '2']);
    await b.close();
  });
});

describe('info', () => {
  it('reports keys, TTLs, memory, counters and the package version', async () => {
    const b = createMemoryBackend({ maxMemoryBytes: 1_000_000, evictionPolicy: 'volatile-lru' });
    await b.set('a', 'v');
    await b.set('b', 'v', { ttlMs: 60_000 });
    await b.hset('h', { f: 'v' });
    const info = await b.info();
    expect(info).toMatchObject({
      backend: 'memory',
      serverVersion: pkg.version,
      keys: 3,
      expiringKeys: 1,
      maxMemoryBytes: 1_000_000,
      maxMemoryPolicy: 'volatile-lru',
      connectedClients: 1,
      role: 'master',
      keyspaceEvents: 'Ex',
      evictedKeys: 0,
      expiredKeys: 0,
    });
    expect(info.usedMemoryBytes).toBeGreaterThan(0);
    expect(info.opsPerSec).toBeGreaterThanOrEqual(0);
    expect(Number(info.raw.total_commands_processed)).toBeGreaterThanOrEqual(4);
    await b.del('a', 'b', 'h');
    expect((await b.info()).usedMemoryBytes).toBe(0);
    expect(await b.ping()).toBeLessThan(1_000);
    await b.close();
  });
});
