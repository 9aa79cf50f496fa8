import { type World, worldTargets } from '@redbrick/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batches, fields, Generic, SharedState, Users } from '../src/index.js';

const spec = { name: fields.string, plan: fields.string };

/** Ids built from the characters that break naive key building, plus unicode. */
const id = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ':',
        '*',
        '?',
        '[',
        ']',
        '{',
        '}',
        '\\',
        '%',
        '%3A',
        't',
        '=',
        'ü',
        '租户',
        '🙂',
      ),
      fc.string({ unit: 'grapheme', maxLength: 3 }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''))
  .filter((s) => s.length > 0 && s.length <= 512);

describe.each(worldTargets({ prefix: 'tr' }))('tenant isolation on $name', (repo) => {
  let world: World;
  beforeAll(async () => {
    world = await repo.open();
  });
  afterAll(() => world.close());

  it('no tenant reads, lists or deletes another tenant’s data', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(id, { minLength: 2, maxLength: 3 }),
        fc.uniqueArray(id, { minLength: 1, maxLength: 3 }),
        async (tenants, userIds) => {
          // every run in its own sub-scope, so runs do not see each other
          const backend = world.backend.scoped(`run${run++}`);
          const repos = tenants.map(
            (tenant) => new Users({ backend, tenant, fields: spec, indexed: ['plan'] }),
          );
          const batches = tenants.map((tenant) => new Batches<string>({ backend, tenant }));
          const generic = tenants.map((tenant) => new Generic<string>({ backend, tenant }));
          const shared = tenants.map((tenant) => new SharedState({ backend, tenant }));
          for (const [t, users] of repos.entries()) {
            for (const u of userIds) await users.upsert(u, { name: `${t}/${u}`, plan: 'same' });
            await batches[t]?.enqueue('svc', 'e', 'a', `item of ${t}`);
            await generic[t]?.set(userIds[0] ?? 'x', `value of ${t}`);
            for (const u of userIds) await shared[t]?.set(u, 'cart', { owner: t });
          }
          for (const [t, users] of repos.entries()) {
            for (const u of userIds) expect((await users.get(u))?.name).toBe(`${t}/${u}`);
            const indexed = await users.findByField('plan', 'same');
            expect(indexed.map(([, r]) => r.name)).toEqual(
              userIds.map((u) => `${t}/${u}`).sort(byId(userIds, t)),
            );
            // the slow path scans: it must only see this tenant's users
            const scanned = await users.findByField('name', `${t}/${userIds[0]}`);
            expect(scanned.map(([u]) => u)).toEqual([userIds[0]]);
            expect(await batches[t]?.getChunk('svc', 'e', 'a', 10)).toEqual([`item of ${t}`]);
            expect(await generic[t]?.get(userIds[0] ?? 'x')).toBe(`value of ${t}`);
            for (const u of userIds) expect(await shared[t]?.listStates(u)).toEqual(['cart']);
          }
          // the first tenant deletes everything it has; the others keep theirs
          const [first, ...others] = repos;
          for (const u of userIds) expect(await first?.delete(u)).toBe(true);
          await batches[0]?.drain('svc', 'e', 'a', 10);
          await generic[0]?.delete(userIds[0] ?? 'x');
          for (const u of userIds) expect(await shared[0]?.clearAll(u)).toBe(1);
          for (const [i, users] of others.entries()) {
            const t = i + 1;
            for (const u of userIds) expect((await users.get(u))?.name).toBe(`${t}/${u}`);
            expect(await batches[t]?.pending('svc', 'e', 'a')).toBe(1);
            expect(await generic[t]?.get(userIds[0] ?? 'x')).toBe(`value of ${t}`);
            for (const u of userIds) expect(await shared[t]?.get(u, 'cart')).toEqual({ owner: t });
          }
          // and nothing of the first tenant is left under any key
          expect(await first?.findByField('plan', 'same')).toEqual([]);
          // clean up this run
          const keys: string[] = [];
          for await (const k of backend.scan()) keys.push(k);
          if (keys.length > 0) for (const k of keys) await backend.del(k);
        },
      ),
      { numRuns: repo.name === 'memory' ? 200 : 40 },
    );
  });
});

/** Sort names the way findByField returns users: by user id. */
function byId(userIds: string[], t: number) {
  const order = new Map<string, string>(userIds.map((u) => [`${t}/${u}`, u]));
  return (a: string, b: string) => {
    const x = order.get(a) ?? '';
    const y = order.get(b) ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  };
}
