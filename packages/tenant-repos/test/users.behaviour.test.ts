import type { Backend } from '@redbrick/core';
import { counted, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fields, Users } from '../src/index.js';

const spec = {
  name: fields.string,
  email: fields.string,
  plan: fields.string,
  age: fields.number,
  code: fields.string,
  active: fields.boolean,
  joined: fields.date,
  tags: fields.json,
  credits: fields.number,
};

describe.each(worldTargets({ prefix: 'tr' }))('Users on $name', (repo) => {
  let world: World;
  let users: Users<typeof spec>;
  beforeEach(async () => {
    world = await repo.open();
    users = new Users({
      backend: world.backend,
      tenant: 'acme',
      fields: spec,
      indexed: ['email', 'plan'],
    });
  });
  afterEach(() => world.close());

  it('round-trips every field kind without guessing types', async () => {
    const joined = new Date('2024-02-29T12:34:56.789Z');
    await users.upsert('u1', {
      name: 'Ada',
      age: 1,
      code: '123',
      active: false,
      joined,
      tags: ['a', { b: 1 }],
    });
    expect(await users.get('u1')).toEqual({
      name: 'Ada',
      age: 1,
      code: '123',
      active: false,
      joined,
      tags: ['a', { b: 1 }],
    });
    const raw = await world.backend.scoped('t=acme').hgetall('users:{acme}:u:u1');
    expect(raw.active).toBe('0');
    expect(raw.joined).toBe('2024-02-29T12:34:56.789Z');
    expect(raw.age).toBe('1');
  });

  it('upsert merges, and undefined deletes a field', async () => {
    await users.upsert('u1', { name: 'Ada', age: 36 });
    await users.upsert('u1', { email: 'ada@x.io' });
    expect(await users.get('u1')).toEqual({ name: 'Ada', age: 36, email: 'ada@x.io' });
    await users.upsert('u1', { age: undefined });
    expect(await users.get('u1')).toEqual({ name: 'Ada', email: 'ada@x.io' });
  });

  it('get, exists and delete', async () => {
    expect(await users.get('nobody')).toBeNull();
    expect(await users.exists('u1')).toBe(false);
    await users.upsert('u1', { name: 'Ada' });
    expect(await users.exists('u1')).toBe(true);
    expect(await users.delete('u1')).toBe(true);
    expect(await users.delete('u1')).toBe(false);
    expect(await users.get('u1')).toBeNull();
  });

  it('updateField changes one field of an existing user only', async () => {
    expect(await users.updateField('u1', 'name', 'X')).toBe(false);
    expect(await users.exists('u1')).toBe(false);
    await users.upsert('u1', { name: 'Ada', age: 3 });
    expect(await users.updateField('u1', 'active', true)).toBe(true);
    expect(await users.get('u1')).toEqual({ name: 'Ada', age: 3, active: true });
  });

  it('incrementField adds to number fields, atomically under concurrency', async () => {
    expect(await users.incrementField('u1', 'credits', 5)).toBeNull();
    await users.upsert('u1', { name: 'Ada' });
    expect(await users.incrementField('u1', 'credits', 2.5)).toBe(2.5);
    const other = new Users({
      backend: await world.client(),
      tenant: 'acme',
      fields: spec,
      indexed: ['email', 'plan'],
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? users : other).incrementField('u1', 'credits')),
    );
    expect((await users.get('u1'))?.credits).toBe(22.5);
    await expect(users.incrementField('u1', 'name')).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'name',
    });
  });

  it('appendToList appends to a json list field', async () => {
    expect(await users.appendToList('u1', 'tags', ['x'])).toBeNull();
    await users.upsert('u1', { name: 'Ada' });
    expect(await users.appendToList('u1', 'tags', ['x', 'y'])).toBe(2);
    expect(await users.appendToList('u1', 'tags', [{ z: 1 }])).toBe(3);
    expect((await users.get('u1'))?.tags).toEqual(['x', 'y', { z: 1 }]);
  });

  it('findByField on an indexed field reads the index, not every key', async () => {
    await users.upsert('u1', { email: 'a@x.io', plan: 'pro' });
    await users.upsert('u2', { email: 'b@x.io', plan: 'pro' });
    await users.upsert('u3', { email: 'c@x.io', plan: 'free' });
    const probe = counted(world.backend);
    const viaIndex = new Users({
      backend: probe.backend,
      tenant: 'acme',
      fields: spec,
      indexed: ['email', 'plan'],
    });
    expect((await viaIndex.findByField('plan', 'pro')).map(([id]) => id)).toEqual(['u1', 'u2']);
    expect(probe.calls).not.toContain('scan');
    expect(probe.calls).toContain('smembers');

    await users.updateField('u2', 'plan', 'free');
    expect((await users.findByField('plan', 'pro')).map(([id]) => id)).toEqual(['u1']);
    expect((await users.findByField('plan', 'free')).map(([id]) => id)).toEqual(['u2', 'u3']);
    await users.upsert('u1', { plan: undefined });
    expect(await users.findByField('plan', 'pro')).toEqual([]);
    await users.delete('u3');
    expect((await users.findByField('plan', 'free')).map(([id]) => id)).toEqual(['u2']);
    const [hit] = await users.findByField('email', 'b@x.io');
    expect(hit).toEqual(['u2', { email: 'b@x.io', plan: 'free' }]);
  });

  it('findByField on an undeclared field scans (slow path) and still matches exactly', async () => {
    await users.upsert('u1', { code: '1', age: 1 });
    await users.upsert('u2', { code: '01', age: 1 });
    expect((await users.findByField('code', '1')).map(([id]) => id)).toEqual(['u1']);
    expect((await users.findByField('age', 1)).map(([id]) => id)).toEqual(['u1', 'u2']);
  });

  it('the index stays right under concurrent updates from two clients', async () => {
    const other = new Users({
      backend: await world.client(),
      tenant: 'acme',
      fields: spec,
      indexed: ['email', 'plan'],
    });
    await users.upsert('u1', { plan: 'p0' });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? users : other).updateField('u1', 'plan', `p${i % 3}`),
      ),
    );
    const final = (await users.get('u1'))?.plan;
    for (const p of ['p0', 'p1', 'p2']) {
      const ids = (await users.findByField('plan', p)).map(([id]) => id);
      expect(ids).toEqual(p === final ? ['u1'] : []);
      // the raw index holds the user under the final value only
      const raw = await world.backend.scoped('t=acme').smembers(`users:{acme}:idx:plan:=${p}`);
      expect(raw).toEqual(p === final ? ['u1'] : []);
    }
  });

  it('TTL: absent, null and 0 mean no expiry; a positive TTL expires; writes refresh it', async () => {
    const scope = world.backend.scoped('t=acme');
    await users.upsert('forever', { name: 'a' });
    expect(await scope.pttl('users:{acme}:u:forever')).toBe(-1);
    const ttl = new Users({ backend: world.backend, tenant: 'acme', fields: spec, ttlMs: 60_000 });
    await ttl.upsert('t1', { name: 'a' });
    const pttl = await scope.pttl('users:{acme}:u:t1');
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await ttl.upsert('t1', { name: 'b' }, { ttlMs: 0 });
    expect(await scope.pttl('users:{acme}:u:t1')).toBe(-1);
    await ttl.upsert('t2', { name: 'b' }, { ttlMs: null });
    expect(await scope.pttl('users:{acme}:u:t2')).toBe(-1);
    await users.upsert('short', { name: 'x' }, { ttlMs: 300 });
    await world.elapse(600);
    expect(await users.get('short')).toBeNull();
    expect(await users.exists('short')).toBe(false);
  });

  it('an expired user is never found through a stale index entry', async () => {
    await users.upsert('gone', { email: 'g@x.io' }, { ttlMs: 300 });
    await world.elapse(600);
    expect(await users.findByField('email', 'g@x.io')).toEqual([]);
    await users.upsert('gone', { email: 'h@x.io' });
    expect(await users.findByField('email', 'g@x.io')).toEqual([]);
    expect((await users.findByField('email', 'h@x.io')).map(([id]) => id)).toEqual(['gone']);
  });

  it('a zod schema checks writes and reads', async () => {
    const strict = new Users({
      backend: world.backend,
      tenant: 'acme',
      fields: spec,
      schema: z.object({ age: z.number().int().min(0), email: z.email() }),
    });
    await strict.upsert('s1', { age: 4, email: 'a@b.io' });
    await expect(strict.upsert('s1', { age: -1 })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'age',
    });
    await expect(strict.upsert('s1', { email: 'nope' })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'email',
    });
    // foreign data written without the schema is reported on read, not returned wrong
    await users.upsert('s2', { age: 2.5 });
    await expect(strict.get('s2')).rejects.toMatchObject({ code: 'VALIDATION' });
    await world.backend.scoped('t=acme').hset('users:{acme}:u:s3', { active: 'yes' });
    await expect(users.get('s3')).rejects.toMatchObject({ code: 'VALIDATION', field: 'active' });
  });

  it('a zod schema per field checks writes and reads of that field', async () => {
    const checked = new Users({
      backend: world.backend,
      tenant: 'acme',
      fields: {
        age: { ...fields.number, schema: z.number().int().min(0) },
        email: { ...fields.string, schema: z.email() },
        note: fields.string,
      },
      indexed: ['email'],
    });
    await checked.upsert('p1', { age: 3, email: 'a@b.io', note: 'anything' });
    expect(await checked.get('p1')).toEqual({ age: 3, email: 'a@b.io', note: 'anything' });
    await expect(checked.upsert('p1', { age: 1.5 })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'age',
    });
    await expect(checked.updateField('p1', 'email', 'nope')).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'email',
    });
    expect(await checked.get('p1')).toEqual({ age: 3, email: 'a@b.io', note: 'anything' });
    // written by a repository without the field schema: reported on read
    await users.upsert('p2', { age: 2.5 });
    await expect(checked.get('p2')).rejects.toMatchObject({ code: 'VALIDATION', field: 'age' });
  });
});

describe.each(worldTargets({ prefix: 'tr' }))('Users under endless contention on $name', (repo) => {
  it('gives up with CONFLICT after its attempts, having written nothing', async () => {
    await using world = await repo.open();
    const options = { tenant: 'acme', fields: spec, indexed: ['email'] as const };
    const rival = new Users({ ...options, backend: await world.client() });
    await rival.upsert('u1', { email: 'start@x' });
    let rivalWrites = 0;
    // Every time this writer has read the indexed field, a rival writer on another connection
    // changes it (real writes on the real backend), so every optimistic attempt is stale.
    const meddle = (b: Backend): Backend =>
      new Proxy(b, {
        get(target, prop) {
          if (prop === 'scoped') {
            return (...parts: Parameters<Backend['scoped']>) => meddle(target.scoped(...parts));
          }
          if (prop === 'hmget') {
            return async (...args: Parameters<Backend['hmget']>) => {
              const read = await target.hmget(...args);
              await rival.upsert('u1', { email: `rival-${rivalWrites++}@x` });
              return read;
            };
          }
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const users = new Users({ ...options, backend: meddle(world.backend) });
    const failure = await users.upsert('u1', { email: 'mine@x' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'CONFLICT' });
    expect(String((failure as Error).message)).toMatch(/kept changing.*nothing was written/);
    expect(rivalWrites).toBeGreaterThan(10);
    expect(await users.findByField('email', 'mine@x')).toEqual([]);
    expect((await rival.get('u1'))?.email).toBe(`rival-${rivalWrites - 1}@x`);
  });
});

describe.each(worldTargets({ prefix: 'tr' }))('Users under real contention on $name', (repo) => {
  it('writers racing on one indexed field either win or fail with CONFLICT; the index stays exact', {
    timeout: 60_000,
  }, async () => {
    await using world = await repo.open();
    const options = { tenant: 'acme', fields: spec, indexed: ['email'] as const };
    // Four clients (four connections on Redis), 200 concurrent writers of the same user's email.
    const clients = await Promise.all(
      Array.from(
        { length: 4 },
        async () => new Users({ ...options, backend: await world.client() }),
      ),
    );
    await clients[0]?.upsert('u1', { email: 'start@x' });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (clients[i % clients.length] as (typeof clients)[number])
          .upsert('u1', { email: `w${i}@x` })
          .then(
            () => ({ i, code: 'OK' }),
            (error: unknown) => ({ i, code: String((error as { code?: unknown }).code) }),
          ),
      ),
    );
    const codes = new Set(outcomes.map((o) => o.code));
    const conflicts = outcomes.filter((o) => o.code === 'CONFLICT').length;
    // Only two outcomes: written, or CONFLICT (never VALIDATION or another code).
    expect(
      [...codes].filter((c) => c !== 'OK' && c !== 'CONFLICT'),
      JSON.stringify(outcomes),
    ).toEqual([]);
    expect(conflicts, `${conflicts} of 200 writers gave up`).toBeGreaterThan(0);
    const users = clients[0] as (typeof clients)[number];
    const final = (await users.get('u1'))?.email;
    // The stored value is one a winner wrote, and it is the only index entry of the user.
    const winners = new Set(outcomes.filter((o) => o.code === 'OK').map((o) => `w${o.i}@x`));
    expect(winners.has(String(final))).toBe(true);
    expect(await users.findByField('email', String(final))).toHaveLength(1);
    for (const other of ['start@x', ...[...winners].filter((w) => w !== final).slice(0, 20)]) {
      expect(await users.findByField('email', other)).toEqual([]);
    }
  });
});
