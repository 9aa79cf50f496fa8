import { createCache } from '@redbrick/cache';
import type { Backend } from '@redbrick/core';
import { Mutex } from '@redbrick/locks';
import { createChannel, createStream } from '@redbrick/pubsub';
import { RateLimiter } from '@redbrick/ratelimit';
import { fields, Generic, tenantScope, Users } from '@redbrick/tenant-repos';
import { sleep, until, worldTargets } from '@redbrick/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const RUNS = 25;

/** Tenant ids as users send them: any unicode, and the characters keys and globs care about. */
const tenantId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 24, unit: 'binary' }),
  fc.constantFrom(
    'a',
    'a:b',
    'a*',
    '*',
    '?',
    '[a]',
    '\\',
    '{t}',
    't}',
    '%3A',
    ':',
    't=a',
    ' ',
    '😀',
  ),
);
const tenantPair = fc.tuple(tenantId, tenantId).filter(([a, b]) => a !== b);

/** Everything one tenant uses, each package built on the tenant's scope. */
function services(backend: Backend, tenant: string, run: number) {
  const scope = tenantScope(backend, tenant);
  return {
    limiter: new RateLimiter({
      backend: scope,
      algorithm: 'fixed-window',
      limit: 1,
      windowMs: 60_000,
    }),
    mutex: new Mutex({ backend: scope, ttlMs: 10_000 }),
    stream: createStream({ backend: scope, name: `orders-${run}`, schema: z.string() }),
    channel: createChannel({ backend: scope, name: 'news', schema: z.string() }),
    users: new Users({ backend, tenant, fields: { email: fields.string }, indexed: ['email'] }),
    generic: new Generic<string>({ backend, tenant }),
    cache: createCache<string>({ backend: scope, name: 'pages' }),
  };
}

describe.each(worldTargets({ prefix: 'iso' }))('tenant isolation on $name', (target) => {
  it('fuzzed tenant ids: nothing one tenant writes is seen, counted, locked or deleted through another (ratelimit, locks, pubsub, tenant-repos, cache)', async () => {
    await using world = await target.open();
    let checks = 0;
    let runs = 0;
    const expectTrue = (what: string, value: boolean) => {
      checks++;
      expect(value, what).toBe(true);
    };
    await fc.assert(
      fc.asyncProperty(
        tenantPair,
        fc.string({ minLength: 1, maxLength: 12 }),
        async ([a, b], id) => {
          runs++;
          const A = services(world.backend, a, runs);
          const B = services(world.backend, b, runs);
          // ratelimit: A's limit of 1 is A's alone.
          expectTrue('A is admitted', (await A.limiter.check(id)).allowed);
          expectTrue('B is admitted on the same key', (await B.limiter.check(id)).allowed);
          expectTrue('A is now limited', !(await A.limiter.check(id)).allowed);
          await Promise.all([A.limiter.reset(id), B.limiter.reset(id)]);
          // locks: the same resource name is two locks.
          const leaseA = await A.mutex.tryAcquire(id);
          const leaseB = await B.mutex.tryAcquire(id);
          expectTrue('A holds its lock', leaseA !== null);
          expectTrue('B holds the lock of the same name at the same time', leaseB !== null);
          expectTrue(
            "A's holder is not visible to B",
            (await B.mutex.holder(id))?.token === leaseB?.token,
          );
          await leaseA?.release();
          await leaseB?.release();
          // pubsub streams: A's entries are not in B's stream (a stream name per run: runs reuse ids).
          await A.stream.append(id);
          expectTrue("B's stream is empty", (await B.stream.length()) === 0);
          // pubsub channels: B hears only B.
          const heard: string[] = [];
          const sub = await B.channel.subscribe((message) => void heard.push(message));
          try {
            await A.channel.publish(`from-a:${id}`);
            await B.channel.publish(`from-b:${id}`);
            await until('B hears its own message', () => heard.includes(`from-b:${id}`), 10_000);
            await sleep(5);
            expectTrue(
              'B heard nothing from A',
              heard.every((m) => m.startsWith('from-b:')),
            );
          } finally {
            await sub.unsubscribe();
          }
          // tenant-repos: same user id, same index value, same generic name.
          await A.users.upsert(id, { email: 'shared@x.io' });
          expectTrue('B has no such user', (await B.users.get(id)) === null);
          expectTrue(
            "B's index does not list A's user",
            (await B.users.findByField('email', 'shared@x.io')).length === 0,
          );
          await B.users.upsert(id, { email: 'b@x.io' });
          await A.users.delete(id);
          expectTrue("A's delete leaves B's user", (await B.users.get(id))?.email === 'b@x.io');
          await A.generic.set(id, 'a');
          expectTrue('B reads no generic value', (await B.generic.get(id)) === undefined);
          // cache: the same key is two entries, in L2 and in every process' L1.
          await A.cache.set(id, 'a');
          expectTrue('B has no cached value', (await B.cache.get(id)) === undefined);
          expectTrue(
            "B's factory runs for its own entry",
            (await B.cache.getOrSet(id, () => 'b')) === 'b',
          );
          expectTrue("A still has A's value", (await A.cache.get(id)) === 'a');
          // Clean both tenants for the next run (ids may repeat).
          await Promise.all([
            B.users.delete(id),
            A.generic.delete(id),
            A.cache.delete(id),
            B.cache.delete(id),
          ]);
          await Promise.all([A.cache.close(), B.cache.close()]);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(
      `[integration] tenant isolation on ${target.name}: operations: ${runs} fuzzed tenant pairs × 7 services of 5 packages; faults injected: 0; invariant checks: ${checks}`,
    );
    expect(checks).toBeGreaterThan(0);
  }, 60_000);
});
