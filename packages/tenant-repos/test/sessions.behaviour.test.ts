import { type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sessions } from '../src/index.js';

describe.each(worldTargets({ prefix: 'tr' }))('Sessions on $name', (repo) => {
  let world: World;
  beforeEach(async () => {
    world = await repo.open();
  });
  afterEach(() => world.close());

  it('create returns a random id; get returns the session', async () => {
    const sessions = new Sessions<{ cart: string[] }>({ backend: world.backend });
    const a = await sessions.create('u1', { cart: ['x'] });
    const b = await sessions.create('u1', { cart: [] });
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await sessions.get(a)).toMatchObject({ id: a, userId: 'u1', data: { cart: ['x'] } });
    expect(await sessions.get('missing')).toBeNull();
  });

  it('update merges data and keeps the expiry', async () => {
    const sessions = new Sessions<{ a?: number; b?: number }>({
      backend: world.backend,
      ttlMs: 60_000,
    });
    const id = await sessions.create('u1', { a: 1 });
    expect(await sessions.update(id, { b: 2 })).toBe(true);
    expect((await sessions.get(id))?.data).toEqual({ a: 1, b: 2 });
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeGreaterThan(0);
    expect(await sessions.update('missing', { b: 1 })).toBe(false);
  });

  it('sliding expiry: each get pushes the expiry back', async () => {
    const sessions = new Sessions({ backend: world.backend, ttlMs: 1200 });
    const id = await sessions.create('u1', {});
    for (let i = 0; i < 3; i++) {
      await world.elapse(700);
      expect(await sessions.get(id)).not.toBeNull();
    }
    await world.elapse(1500);
    expect(await sessions.get(id)).toBeNull();
  });

  it('absolute expiry: get does not extend, touch does', async () => {
    const sessions = new Sessions({ backend: world.backend, ttlMs: 60_000, sliding: false });
    const id = await sessions.create('u1', {});
    await sessions.get(id);
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeLessThanOrEqual(60_000);
    expect(await sessions.touch(id, 600_000)).toBe(true);
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeGreaterThan(60_000);
    expect(await sessions.touch('missing')).toBe(false);
  });

  it('destroy, listForUser and revokeAllForUser', async () => {
    const sessions = new Sessions({ backend: world.backend });
    const a = await sessions.create('u1', { n: 1 });
    const b = await sessions.create('u1', { n: 2 });
    const c = await sessions.create('u2', { n: 3 });
    expect((await sessions.listForUser('u1')).map((s) => s.id).sort()).toEqual([a, b].sort());
    expect(await sessions.destroy(a)).toBe(true);
    expect(await sessions.destroy(a)).toBe(false);
    expect((await sessions.listForUser('u1')).map((s) => s.id)).toEqual([b]);
    expect(await sessions.revokeAllForUser('u1')).toBe(1);
    expect(await sessions.get(b)).toBeNull();
    expect(await sessions.listForUser('u1')).toEqual([]);
    expect((await sessions.get(c))?.userId).toBe('u2');
  });

  it('absolute cap: sliding gets and touch never extend a session past creation + absoluteTtlMs', async () => {
    const sessions = new Sessions({ backend: world.backend, ttlMs: 1200, absoluteTtlMs: 3000 });
    const id = await sessions.create('u1', {});
    for (let i = 0; i < 3; i++) {
      await world.elapse(700);
      expect(await sessions.get(id)).not.toBeNull();
    }
    // 2.1 s in: the sliding TTL would be 1.2 s, the cap leaves at most 0.9 s.
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeLessThanOrEqual(900);
    expect(await sessions.touch(id, 600_000)).toBe(true);
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeLessThanOrEqual(900);
    await world.elapse(1000);
    expect(await sessions.get(id)).toBeNull();
    expect(await sessions.touch(id)).toBe(false);
    expect(await sessions.listForUser('u1')).toEqual([]);
  });

  it('absolute cap shorter than ttlMs: the first TTL is the cap', async () => {
    const sessions = new Sessions({
      backend: world.backend,
      ttlMs: 600_000,
      sliding: false,
      absoluteTtlMs: 60_000,
    });
    const id = await sessions.create('u1', {});
    const ttl = await world.backend.pttl(`sess:{${id}}`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await sessions.touch(id, 600_000)).toBe(true);
    expect(await world.backend.pttl(`sess:{${id}}`)).toBeLessThanOrEqual(60_000);
  });

  it('concurrent updates from two clients merge, none is lost', async () => {
    const a = new Sessions<Record<string, number>>({ backend: world.backend });
    const b = new Sessions<Record<string, number>>({ backend: await world.client() });
    const id = await a.create('u1', {});
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).update(id, { [`f${i}`]: i })),
    );
    expect(results.every(Boolean)).toBe(true);
    const data = (await a.get(id))?.data ?? {};
    expect(Object.keys(data).length).toBe(20);
    for (let i = 0; i < 20; i++) expect(data[`f${i}`]).toBe(i);
  });
});
