import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../src/index.js';
import { rejection } from './helpers.js';

describe('eviction at maxKeys', () => {
  it('allkeys-lru evicts the least recently used key; reads and writes count as use', async () => {
    const b = createMemoryBackend({ maxKeys: 3 });
    await b.set('a', '1');
    await b.set('b', '2');
    await b.set('c', '3');
    await b.get('a'); // a is now more recent than b
    await b.set('d', '4');
    expect(await b.exists('a', 'b', 'c', 'd')).toBe(3);
    expect(await b.get('b')).toBeNull();
    await b.hset('h', { f: 'v' }); // evicts c (a and d were used later)
    expect(await b.get('c')).toBeNull();
    expect(await b.get('a')).toBe('1');
    const info = await b.info();
    expect(info.evictedKeys).toBe(2);
    expect(info.keys).toBe(3);
    expect(info.maxMemoryPolicy).toBe('allkeys-lru');
    await b.close();
  });

  it('writing an existing key at the limit evicts nothing', async () => {
    const b = createMemoryBackend({ maxKeys: 2 });
    await b.set('a', '1');
    await b.set('b', '2');
    await b.set('a', '3');
    await b.incrBy('b', 5);
    expect(await b.mget('a', 'b')).toEqual(['3', '7']);
    expect((await b.info()).evictedKeys).toBe(0);
    await b.close();
  });

  it('exists, type and pttl do not count as use (like Redis)', async () => {
    const b = createMemoryBackend({ maxKeys: 2 });
    await b.set('a', '1');
    await b.set('b', '2');
    await b.exists('a');
    await b.type('a');
    await b.pttl('a');
    await b.set('c', '3');
    expect(await b.get('a')).toBeNull();
    expect(await b.get('b')).toBe('2');
    await b.close();
  });

  it('volatile-lru evicts only keys with a TTL, then refuses', async () => {
    const b = createMemoryBackend({ maxKeys: 3, evictionPolicy: 'volatile-lru' });
    await b.set('persistent', 'p');
    await b.set('v1', '1', { ttlMs: 60_000 });
    await b.set('v2', '2', { ttlMs: 60_000 });
    await b.get('v1');
    await b.set('x', 'x'); // evicts v2, the least recently used volatile key
    expect(await b.exists('persistent', 'v1', 'v2', 'x')).toBe(3);
    expect(await b.get('v2')).toBeNull();
    await b.set('y', 'y'); // evicts v1
    expect(await b.get('v1')).toBeNull();
    const oom = await rejection(b.set('z', 'z'));
    expect(oom.code).toBe('COMMAND');
    expect(oom.message).toMatch(/OOM/);
    expect(await b.mget('persistent', 'x', 'y')).toEqual(['p', 'x', 'y']);
    await b.close();
  });

  it('noeviction refuses writes that would add a key, allows the rest', async () => {
    const b = createMemoryBackend({ maxKeys: 2, evictionPolicy: 'noeviction' });
    await b.set('a', '1');
    await b.set('b', '2');
    const oom = await rejection(b.set('c', '3'));
    expect(oom.code).toBe('COMMAND');
    expect(oom.message).toMatch(/OOM command not allowed/);
    expect(oom.message).toMatch(/maxKeys \(2\)/);
    await expect(b.rpush('list', 'x')).rejects.toMatchObject({ code: 'COMMAND' });
    expect(await b.set('a', 'updated')).toBe(true);
    expect(await b.get('c')).toBeNull();
    expect(await b.del('a')).toBe(1);
    expect(await b.set('c', '3')).toBe(true);
    expect((await b.info()).evictedKeys).toBe(0);
    await b.close();
  });

  it('expired keys are removed before anything is evicted', async () => {
    let now = 1_000_000;
    const b = createMemoryBackend({ maxKeys: 2, clock: () => now, activeExpiry: false });
    await b.set('old', '1', { ttlMs: 10 });
    await b.set('keep', '2');
    now += 100;
    await b.set('new', '3');
    expect(await b.mget('keep', 'new')).toEqual(['2', '3']);
    const info = await b.info();
    expect(info.evictedKeys).toBe(0);
    expect(info.expiredKeys).toBe(1);
    await b.close();
  });
});

describe('eviction at maxMemoryBytes', () => {
  it('keeps the estimated size under the budget, evicting the oldest keys first', async () => {
    const budget = 20_000;
    const b = createMemoryBackend({ maxMemoryBytes: budget });
    const value = 'x'.repeat(1000); // about 2 KB each
    for (let i = 0; i < 50; i++) {
      await b.set(`k${i}`, value);
      expect((await b.info()).usedMemoryBytes).toBeLessThanOrEqual(budget);
    }
    const info = await b.info();
    expect(info.evictedKeys).toBeGreaterThan(30);
    expect(info.maxMemoryBytes).toBe(budget);
    expect(await b.get('k49')).toBe(value);
    expect(await b.get('k0')).toBeNull();
    await b.close();
  });

  it('counts collection growth: a growing hash pushes other keys out', async () => {
    const b = createMemoryBackend({ maxMemoryBytes: 10_000 });
    await b.set('victim', 'v');
    for (let i = 0; i < 200; i++) await b.hset('big', { [`field-${i}`]: 'value' });
    expect(await b.exists('victim')).toBe(0);
    expect((await b.info()).usedMemoryBytes).toBeLessThanOrEqual(10_000);
    await b.close();
  });

  it('noeviction refuses a write over the budget and keeps the data', async () => {
    const b = createMemoryBackend({ maxMemoryBytes: 5_000, evictionPolicy: 'noeviction' });
    await b.set('a', 'x'.repeat(1000));
    const oom = await rejection(b.set('b', 'y'.repeat(2000)));
    expect(oom.code).toBe('COMMAND');
    expect(oom.message).toMatch(/OOM command not allowed when used memory > 'maxmemory'/);
    expect(await b.get('a')).toBe('x'.repeat(1000));
    expect(await b.exists('b')).toBe(0);
    await b.close();
  });

  it('a value larger than the whole budget fails with OOM after evicting what it can', async () => {
    const b = createMemoryBackend({ maxMemoryBytes: 1_000 });
    await b.set('small', 's');
    const oom = await rejection(b.set('huge', 'h'.repeat(10_000)));
    expect(oom.message).toMatch(/OOM/);
    expect(await b.exists('huge')).toBe(0);
    await b.close();
  });

  it('without limits nothing is evicted and the policy reads noeviction', async () => {
    const b = createMemoryBackend();
    for (let i = 0; i < 1000; i++) await b.set(`k${i}`, 'v');
    const info = await b.info();
    expect(info.keys).toBe(1000);
    expect(info.evictedKeys).toBe(0);
    expect(info.maxMemoryBytes).toBe(0);
    expect(info.maxMemoryPolicy).toBe('noeviction');
    await b.close();
  });
});
