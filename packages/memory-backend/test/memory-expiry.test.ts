import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineScript } from '@redbrick/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBackend, MemoryBackend } from '../src/index.js';
import { fakeClock, nextTurn, rejection, sleep } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('expiry with a fake clock', () => {
  it('a key lives until the clock is past its expiry time, then expires on access', async () => {
    const clock = fakeClock();
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    const expired: string[] = [];
    await b.onExpired((key) => expired.push(key));
    await b.set('k', 'v', { ttlMs: 1000 });
    clock.advance(999);
    expect(await b.pttl('k')).toBe(1);
    clock.advance(1);
    // Redis: expired once now > expiry time, so at exactly the expiry time the key is still there
    expect(await b.pttl('k')).toBe(0);
    expect(await b.get('k')).toBe('v');
    clock.advance(1);
    expect(await b.get('k')).toBeNull();
    expect(await b.pttl('k')).toBe(-2);
    await nextTurn();
    expect(expired).toEqual(['k']);
    const info = await b.info();
    expect(info.expiredKeys).toBe(1);
    expect(info.keys).toBe(0);
    expect(info.expiringKeys).toBe(0);
    await b.close();
  });

  it('time stands still while a script runs: a key does not expire half-way through one (as in Redis)', async () => {
    const clock = fakeClock();
    let reads = 0;
    const b = createMemoryBackend({
      clock: () => {
        reads++;
        return clock.now();
      },
      activeExpiry: false,
    });
    await b.set('k', 'v', { ttlMs: 10 });
    const script = defineScript({
      name: 'test.frozen-clock',
      lua: 'return 0',
      local: (r) => {
        const before = r.pttl('k');
        clock.advance(1_000); // the fake clock moves on mid-script
        return [before, r.pttl('k'), r.get('k') ?? 'gone', r.time() - clock.now()];
      },
    });
    reads = 0;
    expect(await b.run(script, [])).toEqual([10, 10, 'v', -1_000]);
    expect(reads).toBe(1); // one clock read for the whole body
    // outside the script the time has moved on
    expect(await b.get('k')).toBeNull();
    expect(await b.pttl('k')).toBe(-2);
    // a script that throws leaves the clock running
    const failing = defineScript({
      name: 'test.frozen-clock-throws',
      lua: 'return 0',
      local: (r) => {
        r.time();
        throw new Error('boom');
      },
    });
    await expect(b.run(failing, [])).rejects.toMatchObject({ code: 'SCRIPT' });
    await b.set('j', 'v', { ttlMs: 5 });
    clock.advance(6);
    expect(await b.get('j')).toBeNull();
    await b.close();
  });

  it('PTTL reads the clock once and agrees with the expiry check at the boundary', async () => {
    const clock = fakeClock();
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    await b.set('k', 'v', { ttlMs: 3 });
    clock.advance(3);
    expect(await b.pttl('k')).toBe(0);
    clock.advance(1);
    expect(await b.pttl('k')).toBe(-2);
    expect((await b.info()).expiredKeys).toBe(1);
    await b.close();
  });

  it('purgeExpired removes every key past its time and fires their events in expiry order', async () => {
    const clock = fakeClock();
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    const expired: string[] = [];
    await b.onExpired((key) => expired.push(key));
    for (let t = 100; t >= 1; t--) await b.set(`k${t}`, 'v', { ttlMs: t });
    await b.set('forever', 'v');
    clock.advance(50);
    expect(b.purgeExpired()).toBe(49);
    await nextTurn();
    expect(expired).toEqual(Array.from({ length: 49 }, (_, i) => `k${i + 1}`));
    expect((await b.info()).keys).toBe(52);
    clock.advance(1000);
    expect(b.purgeExpired()).toBe(51);
    expect(await b.get('forever')).toBe('v');
    await b.close();
  });

  it('TTLs and idle times follow the fake clock', async () => {
    const clock = fakeClock();
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    await b.xgroupCreate('s', 'g', { mkStream: true });
    const id = await b.xadd('s', { f: 'v' });
    expect(id).toBe(`${clock.now()}-0`);
    await b.xreadgroup('s', 'g', 'c');
    clock.advance(5000);
    expect((await b.xpendingRange('s', 'g'))[0]?.idleMs).toBe(5000);
    expect(await b.time()).toBe(clock.now());
    await b.close();
  });

  it('refreshing a TTL many times keeps one expiry record', async () => {
    const clock = fakeClock();
    const b = createMemoryBackend({ clock: clock.now });
    for (let i = 0; i < 10_000; i++) {
      await b.set('k', String(i), { ttlMs: 60_000 + i });
    }
    expect((await b.info()).expiringKeys).toBe(1);
    await b.persist('k');
    expect((await b.info()).expiringKeys).toBe(0);
    await b.close();
  });
});

describe('active expiry', () => {
  it('fires onExpired promptly without anyone touching the key', async () => {
    const b = createMemoryBackend();
    const heard: Array<{ key: string; at: number }> = [];
    await b.onExpired((key) => heard.push({ key, at: Date.now() }));
    const start = Date.now();
    await b.set('soon', 'v', { ttlMs: 50 });
    await b.set('later', 'v', { ttlMs: 120 });
    await b.set('never', 'v', { ttlMs: 60_000 });
    const deadline = Date.now() + 5_000;
    while (heard.length < 2 && Date.now() < deadline) await sleep(5);
    expect(heard.map((h) => h.key)).toEqual(['soon', 'later']);
    // generous bound: "promptly" means milliseconds, this only guards against missing timers
    expect((heard[0]?.at ?? 0) - start).toBeGreaterThanOrEqual(50);
    expect((heard[0]?.at ?? Number.POSITIVE_INFINITY) - start).toBeLessThan(2_000);
    const info = await b.info();
    expect(info.keys).toBe(1);
    expect(info.expiredKeys).toBe(2);
    await b.close();
  });

  it('expires thousands of keys due at the same time, in batches', async () => {
    const b = createMemoryBackend();
    let count = 0;
    await b.onExpired(() => {
      count++;
    });
    for (let i = 0; i < 5_000; i++) await b.set(`k${i}`, 'v', { ttlMs: 20 });
    const deadline = Date.now() + 5_000;
    while (count < 5_000 && Date.now() < deadline) await sleep(10);
    expect(count).toBe(5_000);
    expect((await b.info()).keys).toBe(0);
    await b.close();
  });

  it('DEL, PEXPIRE 0, overwrite and eviction are not expiry events', async () => {
    const b = createMemoryBackend();
    const heard: string[] = [];
    await b.onExpired((key) => heard.push(key));
    await b.set('deleted', 'v', { ttlMs: 30 });
    await b.del('deleted');
    await b.set('zeroed', 'v', { ttlMs: 30 });
    await b.pexpire('zeroed', 0);
    await b.set('overwritten', 'v', { ttlMs: 30 });
    await b.set('overwritten', 'w');
    const small = createMemoryBackend({ maxKeys: 2 });
    const heardSmall: string[] = [];
    await small.onExpired((key) => heardSmall.push(key));
    await small.set('evicted', 'v', { ttlMs: 30 });
    await small.set('x', 'x');
    await small.set('y', 'y'); // evicts 'evicted'
    await sleep(80);
    b.purgeExpired();
    small.purgeExpired();
    await nextTurn();
    expect(heard).toEqual([]);
    expect(heardSmall).toEqual([]);
    expect((await small.info()).evictedKeys).toBe(1);
    expect(await b.get('overwritten')).toBe('w');
    await b.close();
    await small.close();
  });

  it('the expiry timer is unref()ed and cleared by close()', async () => {
    const setSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const b = createMemoryBackend();
    await b.set('k', 'v', { ttlMs: 3_600_000 });
    const timers = setSpy.mock.results.map((r) => r.value as NodeJS.Timeout);
    expect(timers.length).toBeGreaterThan(0);
    for (const timer of timers) expect(timer.hasRef()).toBe(false);
    // no ref'd timer keeps the process alive
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    await b.close();
    for (const timer of timers) expect(clearSpy).toHaveBeenCalledWith(timer);
    await b.close();
  });

  it('a process with keys still expiring exits on its own', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    expect(existsSync(dist), 'build the package first (pnpm build)').toBe(true);
    const code = `import(${JSON.stringify(dist)}).then(async ({ createMemoryBackend }) => {
      const b = createMemoryBackend();
      await b.set('k', 'v', { ttlMs: 3600000 });
      await b.onExpired(() => {});
      await b.psubscribe('*', () => {});
      console.log('ready');
    });`;
    const started = Date.now();
    const exit = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', reject);
      child.on('exit', (exitCode) => {
        clearTimeout(kill);
        resolve({ code: exitCode, out });
      });
    });
    expect(exit.out.trim()).toBe('ready');
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(14_000);
  });

  it('after close nothing expires, nothing is delivered, and purgeExpired fails', async () => {
    const clock = fakeClock();
    const b = new MemoryBackend({ clock: clock.now });
    const heard: string[] = [];
    await b.onExpired((key) => heard.push(key));
    await b.set('k', 'v', { ttlMs: 10 });
    clock.advance(100);
    await b.close();
    expect(() => b.purgeExpired()).toThrow(/closed/);
    await sleep(30);
    expect(heard).toEqual([]);
    expect((await rejection(b.get('k'))).code).toBe('CLOSED');
  });
});
