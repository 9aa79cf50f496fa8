import { type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Batches, ThreadBuffer, ThreadRegistry } from '../src/index.js';

describe.each(worldTargets({ prefix: 'tr' }))(
  'ThreadBuffer, ThreadRegistry and Batches on $name',
  (repo) => {
    let world: World;
    beforeEach(async () => {
      world = await repo.open();
    });
    afterEach(() => world.close());

    it('append returns dense indexes; reads return what was written', async () => {
      const buffer = new ThreadBuffer<{ role: string; n: number; at: Date }>({
        backend: world.backend,
      });
      const at = new Date('2025-01-01T00:00:00Z');
      expect(await buffer.append('t:1', { role: 'user', n: 1, at })).toBe(0);
      expect(await buffer.append('t:1', { role: 'bot', n: 0, at })).toBe(1);
      expect(await buffer.append('t*2', { role: 'user', n: 2, at })).toBe(0);
      expect(await buffer.getThread('t:1')).toEqual([
        { role: 'user', n: 1, at },
        { role: 'bot', n: 0, at },
      ]);
      expect(await buffer.getSlot('t:1', 1)).toEqual({ role: 'bot', n: 0, at });
      expect(await buffer.getSlot('t:1', 5)).toBeUndefined();
      expect(await buffer.length('t:1')).toBe(2);
      expect(await buffer.exists('nope')).toBe(false);
      expect(await buffer.listThreads()).toEqual(['t*2', 't:1']);
      expect(await buffer.delete('t:1')).toBe(true);
      expect(await buffer.delete('t:1')).toBe(false);
      expect(await buffer.listThreads()).toEqual(['t*2']);
      expect(await buffer.clear()).toBe(1);
      expect(await buffer.listThreads()).toEqual([]);
    });

    it('concurrent appends from two clients get unique, dense indexes', async () => {
      const a = new ThreadBuffer({ backend: world.backend });
      const b = new ThreadBuffer({ backend: await world.client() });
      const indexes = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append('t', i)),
      );
      expect([...indexes].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      const slots = await a.getThread('t');
      for (const [i, index] of indexes.entries()) expect(slots[index]).toBe(i);
    });

    it('limits fail with LIMIT_EXCEEDED and write nothing', async () => {
      const buffer = new ThreadBuffer({
        backend: world.backend,
        maxSlotsPerThread: 2,
        maxThreads: 2,
      });
      await buffer.append('a', 1);
      await buffer.append('a', 2);
      await expect(buffer.append('a', 3)).rejects.toMatchObject({
        code: 'LIMIT_EXCEEDED',
        limit: 'maxSlotsPerThread',
      });
      await buffer.append('b', 1);
      await expect(buffer.append('c', 1)).rejects.toMatchObject({
        code: 'LIMIT_EXCEEDED',
        limit: 'maxThreads',
      });
      expect(await buffer.exists('c')).toBe(false);
      await buffer.delete('b');
      expect(await buffer.append('c', 1)).toBe(0);
    });

    it('TTL is refreshed on write; an expired thread frees its place', async () => {
      const buffer = new ThreadBuffer({ backend: world.backend, ttlMs: 1200, maxThreads: 1 });
      await buffer.append('a', 1);
      await world.elapse(700);
      await buffer.append('a', 2);
      await world.elapse(700);
      expect(await buffer.length('a')).toBe(2);
      await world.elapse(1500);
      expect(await buffer.exists('a')).toBe(false);
      expect(await buffer.listThreads()).toEqual([]);
      expect(await buffer.append('b', 1)).toBe(0);
    });

    it('registry: one uuid per chain, both directions, delete, listAll', async () => {
      const registry = new ThreadRegistry({ backend: world.backend });
      const other = new ThreadRegistry({ backend: await world.client() });
      const uuids = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? registry : other).getOrCreate('chain-1')),
      );
      expect(new Set(uuids).size).toBe(1);
      const [uuid] = uuids;
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(await registry.getUuid('chain-1')).toBe(uuid);
      expect(await registry.getChain(uuid ?? '')).toBe('chain-1');
      const second = await registry.getOrCreate('chain-2');
      expect(await registry.listAll()).toEqual({ 'chain-1': uuid, 'chain-2': second });
      expect(await registry.delete('chain-1')).toBe(true);
      expect(await registry.delete('chain-1')).toBe(false);
      expect(await registry.getChain(uuid ?? '')).toBeNull();
      expect(await registry.getUuid('chain-1')).toBeNull();
    });

    it('batches: enqueue, getChunk, trim, drain', async () => {
      const batches = new Batches<{ n: number }>({ backend: world.backend, tenant: 'acme' });
      for (let n = 0; n < 5; n++) await batches.enqueue('crm', 'contact', 'sync', { n });
      expect(await batches.getChunk('crm', 'contact', 'sync', 2)).toEqual([{ n: 0 }, { n: 1 }]);
      await batches.trim('crm', 'contact', 'sync', 2);
      expect(await batches.pending('crm', 'contact', 'sync')).toBe(3);
      expect(await batches.drain('crm', 'contact', 'sync', 2)).toEqual([{ n: 2 }, { n: 3 }]);
      expect(await batches.drain('crm', 'contact', 'sync')).toEqual([{ n: 4 }]);
      expect(await batches.drain('crm', 'contact', 'sync')).toEqual([]);
    });

    it('drain under concurrent enqueue from another client loses nothing', async () => {
      const producer = new Batches<number>({ backend: await world.client(), tenant: 'acme' });
      const consumer = new Batches<number>({ backend: world.backend, tenant: 'acme' });
      const drained: number[] = [];
      let done = false;
      const produce = (async () => {
        for (let i = 0; i < 300; i++) await producer.enqueue('s', 'e', 'a', i);
        done = true;
      })();
      while (!done) drained.push(...(await consumer.drain('s', 'e', 'a', 7)));
      await produce;
      drained.push(...(await consumer.drain('s', 'e', 'a', 1000)));
      expect(drained).toEqual(Array.from({ length: 300 }, (_, i) => i));
    });

    it('pendingTenants lists the tenants with pending items for a service', async () => {
      const tenants = ['acme', 'beta:{x}*', 'ünï'];
      const batches = tenants.map((tenant) => new Batches({ backend: world.backend, tenant }));
      const [acme, beta, uni] = batches as [Batches, Batches, Batches];
      expect(await acme.pendingTenants('crm')).toEqual([]);
      await acme.enqueue('crm', 'contact', 'sync', 1);
      await acme.enqueue('crm', 'deal', 'sync', 2);
      await beta.enqueue('crm', 'contact', 'sync', 3);
      await uni.enqueue('mail', 'contact', 'send', 4);
      const other = new Batches({ backend: await world.client(), tenant: 'zeta' });
      expect(await other.pendingTenants('crm')).toEqual(['acme', 'beta:{x}*']);
      expect(await other.pendingTenants('mail')).toEqual(['ünï']);
      expect(await acme.drain('crm', 'contact', 'sync')).toEqual([1]);
      expect(await acme.pendingTenants('crm')).toEqual(['acme', 'beta:{x}*']);
      expect(await acme.trim('crm', 'deal', 'sync', 5)).toBe(0);
      expect(await acme.pendingTenants('crm')).toEqual(['beta:{x}*']);
      await beta.drain('crm', 'contact', 'sync');
      expect(await acme.pendingTenants('crm')).toEqual([]);
      await acme.enqueue('crm', 'contact', 'sync', 5);
      expect(await beta.pendingTenants('crm')).toEqual(['acme']);
    });

    it('pendingTenants never drops a tenant with pending items, under concurrent enqueue and drain', async () => {
      const producers = await Promise.all(
        ['t1', 't2', 't3'].map(
          async (tenant) => new Batches<number>({ backend: await world.client(), tenant }),
        ),
      );
      const consumers = ['t1', 't2', 't3'].map(
        (tenant) => new Batches<number>({ backend: world.backend, tenant }),
      );
      const watcher = new Batches({ backend: world.backend, tenant: 'watcher' });
      let done = false;
      const produce = Promise.all(
        producers.map(async (p, i) => {
          for (let n = 0; n < 60; n++) await p.enqueue('svc', 'e', 'a', i * 1000 + n);
        }),
      ).then(() => {
        done = true;
      });
      const drained: number[] = [];
      while (!done) {
        await watcher.pendingTenants('svc');
        for (const c of consumers) drained.push(...(await c.drain('svc', 'e', 'a', 3)));
      }
      await produce;
      // Whatever is still pending must be visible, however the calls interleaved.
      const listed = await watcher.pendingTenants('svc');
      for (const [i, c] of consumers.entries()) {
        const pending = await c.pending('svc', 'e', 'a');
        expect(listed.includes(`t${i + 1}`)).toBe(pending > 0);
        drained.push(...(await c.drain('svc', 'e', 'a', 1000)));
      }
      expect(drained.length).toBe(180);
      expect(new Set(drained).size).toBe(180);
    });
  },
);
