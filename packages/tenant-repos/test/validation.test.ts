import { createMemoryBackend } from '@redbrick/memory-backend';
import { counted } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import {
  Batches,
  fields,
  Generic,
  HandlerState,
  SessionStore,
  Sessions,
  SharedState,
  type StoreCallback,
  ThreadBuffer,
  ThreadRegistry,
  Triggers,
  Users,
} from '../src/index.js';

const spec = { name: fields.string, n: fields.number, tags: fields.json };

/** Runs `act` against a counted backend: it must fail with VALIDATION naming `field`, before any I/O. */
async function rejects(
  act: (backend: ReturnType<typeof counted>['backend']) => unknown,
  field: string,
): Promise<void> {
  const root = createMemoryBackend();
  const { backend, calls } = counted(root);
  try {
    await expect((async () => act(backend))()).rejects.toMatchObject({ code: 'VALIDATION', field });
    expect(calls).toEqual([]);
  } finally {
    await root.close();
  }
}

const badIds: unknown[] = ['', 42, null, undefined, 'x'.repeat(513)];

describe('bad input is a ValidationError naming the field, before any I/O', () => {
  it.each(badIds)('tenant %s', async (tenant) => {
    await rejects(
      (backend) => new Users({ backend, tenant: tenant as string, fields: spec }),
      'tenant',
    );
    await rejects((backend) => new Batches({ backend, tenant: tenant as string }), 'tenant');
  });

  it.each(badIds)('user id %s', async (userId) => {
    await rejects(
      (b) => new Users({ backend: b, tenant: 't', fields: spec }).get(userId as string),
      'userId',
    );
    await rejects(
      (b) => new Users({ backend: b, tenant: 't', fields: spec }).upsert(userId as string, {}),
      'userId',
    );
    await rejects(
      (b) => new Users({ backend: b, tenant: 't', fields: spec }).delete(userId as string),
      'userId',
    );
    await rejects((b) => new Sessions({ backend: b }).create(userId as string, {}), 'userId');
  });

  it('non-finite and mistyped numbers', async () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      await rejects(
        (b) => new Users({ backend: b, tenant: 't', fields: spec }).upsert('u', { n }),
        'n',
      );
      await rejects(
        (b) => new Users({ backend: b, tenant: 't', fields: spec }).incrementField('u', 'n', n),
        'by',
      );
    }
  });

  it('unknown fields and wrong field kinds', async () => {
    const users = (b: ReturnType<typeof counted>['backend']) =>
      new Users({ backend: b, tenant: 't', fields: spec });
    await rejects((b) => users(b).upsert('u', { nope: 1 } as never), 'nope');
    await rejects((b) => users(b).incrementField('u', 'name'), 'name');
    await rejects((b) => users(b).appendToList('u', 'n', [1]), 'n');
    await rejects(
      (b) => new Users({ backend: b, tenant: 't', fields: spec, indexed: ['zzz' as 'name'] }),
      'indexed',
    );
  });

  it.each([-1, 1.5, Number.NaN, '10' as unknown as number])('bad TTL %s', async (ttlMs) => {
    await rejects((b) => new Users({ backend: b, tenant: 't', fields: spec, ttlMs }), 'ttlMs');
    await rejects(
      (b) => new Users({ backend: b, tenant: 't', fields: spec }).upsert('u', { n: 1 }, { ttlMs }),
      'ttlMs',
    );
    await rejects((b) => new ThreadBuffer({ backend: b, ttlMs }), 'ttlMs');
    await rejects((b) => new Sessions({ backend: b, ttlMs }), 'ttlMs');
  });

  it('thread buffer, registry and batch arguments', async () => {
    await rejects((b) => new ThreadBuffer({ backend: b }).append('', 1), 'threadId');
    await rejects((b) => new ThreadBuffer({ backend: b }).getSlot('t', -1), 'index');
    await rejects((b) => new ThreadBuffer({ backend: b, maxThreads: -1 }), 'maxThreads');
    await rejects(
      (b) => new ThreadBuffer({ backend: b, maxSlotsPerThread: 1.5 }),
      'maxSlotsPerThread',
    );
    await rejects((b) => new ThreadRegistry({ backend: b }).getOrCreate(''), 'chain');
    await rejects(
      (b) => new Batches({ backend: b, tenant: 't' }).enqueue('', 'e', 'a', 1),
      'service',
    );
    await rejects((b) => new Batches({ backend: b, tenant: 't' }).drain('s', 'e', 'a', 0), 'max');
    await rejects((b) => new Sessions({ backend: b, ttlMs: 0 }), 'ttlMs');
  });

  it('triggers, state repositories and generic values', async () => {
    await rejects((b) => new Triggers({ backend: b }).schedule('', 'id', { inMs: 1 }), 'action');
    await rejects((b) => new Triggers({ backend: b }).schedule('a', '', { inMs: 1 }), 'id');
    await rejects((b) => new Triggers({ backend: b }).schedule('a', 'id', { inMs: -1 }), 'inMs');
    await rejects(
      (b) => new Triggers({ backend: b }).schedule('a', 'id', { inMs: Number.NaN }),
      'inMs',
    );
    await rejects((b) => new Triggers({ backend: b, pollMs: 0 }), 'pollMs');
    await rejects((b) => new HandlerState({ backend: b, tenant: '' }), 'tenant');
    await rejects((b) => new HandlerState({ backend: b, tenant: 't' }).set('u', '', {}), 'handler');
    await rejects(
      (b) => new HandlerState({ backend: b, tenant: 't' }).set('u', 'h', {}, { ttlMs: -5 }),
      'ttlMs',
    );
    await rejects((b) => new SharedState({ backend: b, tenant: 't' }).get('', 'n'), 'userId');
    await rejects(
      (b) => new SharedState({ backend: b, tenant: 't' }).setField('u', 'n', '', 1),
      'field',
    );
    await rejects((b) => new Generic({ backend: b, tenant: 't' }).set('', 1), 'name');
    await rejects(
      (b) => new Generic({ backend: b, tenant: 't' }).set('k', 1, { ttlMs: 0.5 }),
      'ttlMs',
    );
  });

  it('sessions, the express-session store and pendingTenants', async () => {
    const viaCallback = (run: (cb: StoreCallback<unknown>) => void) =>
      new Promise((resolve, reject) => run((e, v) => (e ? reject(e) : resolve(v))));
    await rejects((b) => new Sessions({ backend: b, absoluteTtlMs: -1 }), 'absoluteTtlMs');
    await rejects((b) => new Sessions({ backend: b, absoluteTtlMs: 1.5 }), 'absoluteTtlMs');
    await rejects((b) => new Sessions({ backend: b, sliding: 'yes' as never }), 'sliding');
    await rejects((b) => new Sessions({ backend: b }).touch('id', 0), 'ttlMs');
    await rejects((b) => new SessionStore({ backend: b, ttlMs: 0 }), 'ttlMs');
    await rejects((b) => new SessionStore({ backend: b, session: {} as never }), 'session');
    await rejects((b) => viaCallback((cb) => new SessionStore({ backend: b }).get('', cb)), 'sid');
    await rejects(
      (b) => viaCallback((cb) => new SessionStore({ backend: b }).set('s', null as never, cb)),
      'session',
    );
    await rejects(
      (b) => viaCallback((cb) => new SessionStore({ backend: b }).touch('s', 5 as never, cb)),
      'session',
    );
    await rejects((b) => new Batches({ backend: b, tenant: 't' }).pendingTenants(''), 'service');
  });
});
