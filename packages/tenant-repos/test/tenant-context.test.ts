import { createMemoryBackend } from '@redbrick/memory-backend';
import { describe, expect, it } from 'vitest';
import { contextual, currentTenant, fields, Users, withTenant } from '../src/index.js';

describe('withTenant binds repositories to the async context', () => {
  it('code deep in a call chain gets the right tenant, also across concurrent requests', async () => {
    await using backend = createMemoryBackend();
    const users = contextual(
      ({ tenant }) => new Users({ backend, tenant, fields: { name: fields.string } }),
    );
    const deep = async (name: string) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      await users().upsert('u1', { name });
      return currentTenant().tenant;
    };
    const tenants = ['a', 'b', 'c', 'd'];
    const seen = await Promise.all(
      tenants.map((tenant) => withTenant({ tenant, user: 'u1' }, () => deep(`name of ${tenant}`))),
    );
    expect(seen).toEqual(tenants);
    for (const tenant of tenants) {
      const name = await withTenant({ tenant }, async () => (await users().get('u1'))?.name);
      expect(name).toBe(`name of ${tenant}`);
    }
    withTenant({ tenant: 'a' }, () => expect(users()).toBe(users()));
  });

  it('outside withTenant, or with a bad tenant, it is a ValidationError', () => {
    expect(() => currentTenant()).toThrow(
      expect.objectContaining({ code: 'VALIDATION', field: 'tenant' }),
    );
    expect(() => withTenant({ tenant: '' }, () => 1)).toThrow(
      expect.objectContaining({ field: 'tenant' }),
    );
    expect(() => withTenant({ tenant: 'a', user: '' }, () => 1)).toThrow(
      expect.objectContaining({ field: 'user' }),
    );
  });
});
