import { type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Generic, HandlerState, SharedState, Tables } from '../src/index.js';

describe.each(worldTargets({ prefix: 'tr' }))(
  'HandlerState, SharedState and Generic on $name',
  (repo) => {
    let world: World;
    beforeEach(async () => {
      world = await repo.open();
    });
    afterEach(() => world.close());

    it('handler state: set replaces, upsert merges keeping fields, updateField sets one', async () => {
      const state = new HandlerState<{ step: number; done: boolean; notes: string; at: Date }>({
        backend: world.backend,
        tenant: 'acme',
      });
      expect(await state.get('u1', 'onboarding')).toBeNull();
      const at = new Date('2025-05-05T05:05:05.005Z');
      await state.set('u1', 'onboarding', { step: 1, done: false, notes: '1', at });
      await state.upsert('u1', 'onboarding', { step: 2 });
      expect(await state.get('u1', 'onboarding')).toEqual({ step: 2, done: false, notes: '1', at });
      await state.updateField('u1', 'onboarding', 'done', true);
      expect((await state.get('u1', 'onboarding'))?.done).toBe(true);
      await state.set('u1', 'onboarding', { step: 9, done: false, notes: '', at });
      expect(await state.get('u1', 'onboarding')).toEqual({ step: 9, done: false, notes: '', at });
      expect(await state.get('u1', 'billing')).toBeNull();
      expect(await state.delete('u1', 'onboarding')).toBe(true);
      expect(await state.get('u1', 'onboarding')).toBeNull();
    });

    it('handler state TTL: applied with the write, null/0 clears it', async () => {
      const state = new HandlerState({ backend: world.backend, tenant: 'acme', ttlMs: 400 });
      await state.set('u1', 'h', { a: 1 });
      await state.upsert('u1', 'h', { b: 2 }, { ttlMs: null });
      await world.elapse(800);
      expect(await state.get('u1', 'h')).toEqual({ a: 1, b: 2 });
      await state.upsert('u1', 'h', { c: 3 });
      await world.elapse(800);
      expect(await state.get('u1', 'h')).toBeNull();
    });

    it('generic values are per tenant, with TTL in the same SET', async () => {
      const a = new Generic<{ n: number }>({ backend: world.backend, tenant: 'a' });
      const b = new Generic<{ n: number }>({ backend: world.backend, tenant: 'b' });
      await a.set('cfg', { n: 1 });
      expect(await a.get('cfg')).toEqual({ n: 1 });
      expect(await b.get('cfg')).toBeUndefined();
      expect(await b.exists('cfg')).toBe(false);
      await a.set('tmp', { n: 2 }, { ttlMs: 400 });
      await a.set('cfg', { n: 3 }, { ttlMs: 0 });
      await world.elapse(800);
      expect(await a.get('tmp')).toBeUndefined();
      expect(await a.get('cfg')).toEqual({ n: 3 });
      expect(await a.delete('cfg')).toBe(true);
      expect(await a.exists('cfg')).toBe(false);
    });

    it('shared state: set/get/setField/getField/listStates/delete/clearAll', async () => {
      const shared = new SharedState({ backend: world.backend, tenant: 'acme' });
      await shared.set('u1', 'cart', { items: ['a'], total: 1 });
      await shared.setField('u1', 'cart', 'total', 2);
      await shared.setField('u1', 'prefs:ui*', 'dark', true);
      await shared.set('u2', 'cart', { items: [] });
      expect(await shared.get('u1', 'cart')).toEqual({ items: ['a'], total: 2 });
      expect(await shared.getField('u1', 'prefs:ui*', 'dark')).toBe(true);
      expect(await shared.getField('u1', 'cart', 'nope')).toBeUndefined();
      expect(await shared.listStates('u1')).toEqual(['cart', 'prefs:ui*']);
      await shared.set('u1', 'cart', { total: 0 });
      expect(await shared.get('u1', 'cart')).toEqual({ total: 0 });
      expect(await shared.delete('u1', 'cart')).toBe(true);
      expect(await shared.delete('u1', 'cart')).toBe(false);
      expect(await shared.listStates('u1')).toEqual(['prefs:ui*']);
      await shared.set('u1', 'x', { a: 1 });
      expect(await shared.clearAll('u1')).toBe(2);
      expect(await shared.listStates('u1')).toEqual([]);
      expect(await shared.get('u2', 'cart')).toEqual({ items: [] });
    });

    it('shared state TTL: an expired state leaves the list', async () => {
      const shared = new SharedState({ backend: world.backend, tenant: 'acme', ttlMs: 400 });
      await shared.set('u1', 'short', { a: 1 });
      await shared.set('u1', 'long', { a: 1 }, { ttlMs: null });
      await world.elapse(800);
      expect(await shared.listStates('u1')).toEqual(['long']);
      expect(await shared.get('u1', 'short')).toBeNull();
    });

    it('tables: rows by table and pk, deleteAllByPk across tables', async () => {
      const tables = new Tables({ backend: world.backend, tenant: 'acme' });
      await tables.set('orders', 'c:1', { total: 10, paid: false });
      await tables.set('invoices', 'c:1', { number: '007' });
      await tables.set('orders', 'c:2', { total: 5 });
      await tables.updateField('orders', 'c:1', 'paid', true);
      expect(await tables.get('orders', 'c:1')).toEqual({ total: 10, paid: true });
      expect(await tables.get('invoices', 'c:1')).toEqual({ number: '007' });
      expect(await tables.get('orders', 'missing')).toBeNull();
      expect(await tables.deleteAllByPk('c:1')).toBe(2);
      expect(await tables.get('orders', 'c:1')).toBeNull();
      expect(await tables.get('invoices', 'c:1')).toBeNull();
      expect(await tables.get('orders', 'c:2')).toEqual({ total: 5 });
      expect(await tables.delete('orders', 'c:2')).toBe(true);
      expect(await tables.delete('orders', 'c:2')).toBe(false);
    });
  },
);
