import { type World, worldTargets } from '@redbrick/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fields, Users } from '../src/index.js';

const spec = {
  i: fields.number,
  s: fields.string,
  b: fields.boolean,
  d: fields.date,
  obj: fields.json,
};
const schema = z.object({
  i: z.number().int(),
  s: z.string(),
  b: z.boolean(),
  d: z.date(),
  obj: z.json(),
});

/** Everything the schema allows, weighted towards the values type-guessing gets wrong. */
const record = fc.record(
  {
    i: fc.oneof(fc.constantFrom(0, 1, -1), fc.integer(), fc.maxSafeInteger()),
    s: fc.oneof(
      fc.constantFrom('1', '0', '123', 'true', 'false', 'null', '', '1e3', ' 7', '2024-01-01'),
      fc.integer().map(String),
      fc.string({ unit: 'binary' }),
    ),
    b: fc.boolean(),
    d: fc.date({ noInvalidDate: true }),
    // "__proto__" keys are refused on write (core's json codec bug, see the test below)
    obj: fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')),
  },
  { requiredKeys: [] },
);

describe.each(worldTargets({ prefix: 'tr' }))('round-trip fidelity on $name', (repo) => {
  let world: World;
  beforeAll(async () => {
    world = await repo.open();
  });
  afterAll(() => world.close());

  it('any value the schema allows reads back equal', async () => {
    const users = new Users({ backend: world.backend, tenant: 'rt', fields: spec, schema });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(record, async (value) => {
        const id = `u${n++}`;
        await users.upsert(id, value);
        const back = await users.get(id);
        if (Object.keys(value).length === 0) expect(back).toBeNull();
        else expect(back).toEqual(value);
        await users.delete(id);
      }),
      { numRuns: repo.name === 'memory' ? 300 : 100 },
    );
  });

  it('a json value with a "__proto__" key is refused, not stored to come back wrong', async () => {
    const users = new Users({ backend: world.backend, tenant: 'rt', fields: spec });
    const value = JSON.parse('{"a":[{"__proto__":{"admin":true}}]}') as unknown;
    await expect(users.upsert('p', { obj: value })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'obj',
    });
    expect(await users.exists('p')).toBe(false);
  });
});
