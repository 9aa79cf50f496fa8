import { createCache } from '@redbrick/cache';
import { type Backend, createBackend, isRedbrickError } from '@redbrick/core';
import { Mutex, Semaphore } from '@redbrick/locks';
import { createChannel, createStream } from '@redbrick/pubsub';
import { createQueue, type Queue } from '@redbrick/queue';
import { RateLimiter } from '@redbrick/ratelimit';
import { fields, Generic, ThreadBuffer, Users } from '@redbrick/tenant-repos';
import { worldTargets } from '@redbrick/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const RUNS = 30;

// Bad values a caller can really send (from JSON bodies, query strings, untyped JS).
const notAString = fc.oneof(
  fc.constantFrom(null, undefined, 0, 42, true, Number.NaN),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
const badKey = fc.oneof(fc.constant(''), notAString);
// `null` is not here: the options below read `null` like `undefined` (the default).
const badPositiveInt = fc.oneof(
  fc.constantFrom(0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.5),
  fc.integer({ max: 0 }),
  fc.double({ noInteger: true }),
  fc.constantFrom('10', '', true, {}),
);
// `Infinity` is a valid `waitMs` (wait until aborted).
const badNonNegativeInt = fc.oneof(
  fc.constantFrom(-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY, -0.5),
  fc.integer({ max: -1 }),
  fc
    .double({ noInteger: true, noDefaultInfinity: true })
    .filter((d) => d !== Number.POSITIVE_INFINITY),
  fc.constantFrom('10', true, {}),
);
const badName = fc.oneof(fc.constant(''), notAString);

/** One queue per world, made on first use and closed after the edges ran (BullMQ holds connections). */
const queues = new Map<Backend, Queue<{ n: number }>>();
function queueOn(backend: Backend): Queue<{ n: number }> {
  let queue = queues.get(backend);
  if (!queue) {
    queue = createQueue({ backend, name: 'q', schema: z.object({ n: z.number().int() }) });
    queues.set(backend, queue);
  }
  return queue;
}

/** One public entry point, called with a bad value. */
interface Edge {
  name: string;
  bad: fc.Arbitrary<unknown>;
  call(backend: Backend, bad: unknown): unknown;
}

// `as never` hands the untyped value over exactly as plain JavaScript would.
const EDGES: Edge[] = [
  // core
  {
    name: 'createBackend(config)',
    bad: fc.oneof(
      fc.constantFrom(
        { type: 'nope' },
        { type: 'memory', maxKeys: -1 },
        { type: 'redis', url: 'http://x' },
        { type: 'memory', extra: 1 },
      ),
    ),
    call: (_b, v) => createBackend(v as never),
  },
  { name: 'backend.set(key)', bad: badKey, call: (b, v) => b.set(v as never, 'x') },
  {
    name: 'backend.set(…, { ttlMs })',
    bad: badPositiveInt,
    call: (b, v) => b.set('k', 'x', { ttlMs: v as never }),
  },
  {
    name: 'backend.incrBy(…, by)',
    bad: fc.constantFrom(1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null),
    call: (b, v) => b.incrBy('n', v as never),
  },
  // ratelimit
  {
    name: 'new RateLimiter({ limit })',
    bad: badPositiveInt,
    call: (b, v) => new RateLimiter({ backend: b, limit: v as never, windowMs: 1000 }),
  },
  {
    name: 'new RateLimiter({ windowMs })',
    bad: badPositiveInt,
    call: (b, v) => new RateLimiter({ backend: b, limit: 5, windowMs: v as never }),
  },
  {
    name: 'limiter.check(key)',
    bad: badKey,
    call: (b, v) => new RateLimiter({ backend: b, limit: 5, windowMs: 1000 }).check(v as never),
  },
  {
    name: 'limiter.check(…, { cost })',
    bad: badPositiveInt.filter((v) => v !== 0),
    call: (b, v) =>
      new RateLimiter({ backend: b, limit: 5, windowMs: 1000 }).check('k', { cost: v as never }),
  },
  {
    name: 'limiter.block(…, ms)',
    bad: badPositiveInt,
    call: (b, v) =>
      new RateLimiter({ backend: b, limit: 5, windowMs: 1000 }).block('k', v as never),
  },
  // locks
  {
    name: 'new Mutex({ ttlMs })',
    bad: badPositiveInt,
    call: (b, v) => new Mutex({ backend: b, ttlMs: v as never }),
  },
  {
    name: 'mutex.acquire(key)',
    bad: badKey,
    call: (b, v) => new Mutex({ backend: b }).acquire(v as never),
  },
  {
    name: 'mutex.acquire(…, { ttlMs })',
    bad: badPositiveInt,
    call: (b, v) => new Mutex({ backend: b }).acquire('k', { ttlMs: v as never }),
  },
  {
    name: 'mutex.acquire(…, { waitMs })',
    bad: badNonNegativeInt,
    call: (b, v) => new Mutex({ backend: b }).acquire('k', { waitMs: v as never }),
  },
  {
    name: 'new Semaphore({ permits })',
    bad: badPositiveInt,
    call: (b, v) => new Semaphore({ backend: b, permits: v as never }),
  },
  // pubsub
  {
    name: 'createStream({ name })',
    bad: badName,
    call: (b, v) => createStream({ backend: b, name: v as never }),
  },
  {
    name: 'stream.append(message) against its schema',
    bad: fc.oneof(fc.string(), fc.constant(null), fc.double({ noInteger: true })),
    call: (b, v) =>
      createStream({ backend: b, name: 's', schema: z.number().int() }).append(v as never),
  },
  {
    name: 'stream.consume(group)',
    bad: badName,
    call: (b, v) =>
      createStream({ backend: b, name: 's' }).consume(v as never, 'c', () => undefined),
  },
  {
    name: 'createChannel({ name })',
    bad: badName,
    call: (b, v) => createChannel({ backend: b, name: v as never }),
  },
  {
    name: 'channel.publish(message) against its schema',
    bad: fc.oneof(fc.integer(), fc.constant(null), fc.constant({})),
    call: (b, v) =>
      createChannel({ backend: b, name: 'c', schema: z.string() }).publish(v as never),
  },
  // cache
  {
    name: 'createCache({ ttlMs })',
    bad: badPositiveInt,
    call: (b, v) => createCache({ backend: b, l1: false, ttlMs: v as never }),
  },
  {
    name: 'cache.set(key)',
    bad: badKey,
    call: (b, v) => createCache({ backend: b, l1: false }).set(v as never, 1),
  },
  {
    name: 'cache.set(…, { ttlMs })',
    bad: badPositiveInt,
    call: (b, v) => createCache({ backend: b, l1: false }).set('k', 1, { ttlMs: v as never }),
  },
  {
    name: 'cache.getOrSet(…, factory)',
    bad: fc.oneof(
      notAString.filter((v) => typeof v !== 'function'),
      fc.string(),
    ),
    call: (b, v) => createCache({ backend: b, l1: false }).getOrSet('k', v as never),
  },
  // queue
  {
    name: 'createQueue({ name })',
    bad: fc.oneof(badName, fc.constantFrom('a b', 'x:y', '{q}', 'a'.repeat(101))),
    call: (b, v) => createQueue({ backend: b, name: v as never }),
  },
  {
    name: 'queue.enqueue(data) against its schema',
    bad: fc.oneof(
      fc.constant({}),
      fc.constant({ n: 'one' }),
      fc.constant({ n: 1.5 }),
      fc.constant(null),
    ),
    call: (b, v) => queueOn(b).enqueue(v as never),
  },
  {
    name: 'queue.enqueue(…, { priority })',
    bad: fc.oneof(fc.constantFrom(-1, 1.5, Number.NaN, 2_097_153, '1')),
    call: (b, v) => queueOn(b).enqueue({ n: 1 }, { priority: v as never }),
  },
  {
    name: 'queue.enqueue(…, { delayMs })',
    bad: badNonNegativeInt,
    call: (b, v) => queueOn(b).enqueue({ n: 1 }, { delayMs: v as never }),
  },
  // tenant-repos
  {
    name: 'new Users({ tenant })',
    bad: fc.oneof(badKey, fc.string({ minLength: 513, maxLength: 600 })),
    call: (b, v) => new Users({ backend: b, tenant: v as never, fields: { email: fields.string } }),
  },
  {
    name: 'users.upsert(userId)',
    bad: badKey,
    call: (b, v) =>
      new Users({ backend: b, tenant: 't', fields: { email: fields.string } }).upsert(v as never, {
        email: 'a',
      }),
  },
  {
    name: 'users.upsert(…, values) with wrong field types',
    // Not here: `{ email: 5 }` on a `fields.string` field is stored as "5" (see the README).
    bad: fc.constantFrom({ age: 'old' }, { age: Number.NaN }, { age: '7' }, { nope: 1 }),
    call: (b, v) =>
      new Users({
        backend: b,
        tenant: 't',
        fields: { email: fields.string, age: fields.number },
      }).upsert('u', v as never),
  },
  {
    name: 'generic.set(name)',
    bad: badKey,
    call: (b, v) => new Generic({ backend: b, tenant: 't' }).set(v as never, 'x'),
  },
  {
    name: 'generic.set(…, { ttlMs })',
    bad: fc.constantFrom(-1, 1.5, Number.NaN, '5'),
    call: (b, v) => new Generic({ backend: b, tenant: 't' }).set('n', 'x', { ttlMs: v as never }),
  },
  {
    name: 'threadBuffer.append(threadId)',
    bad: badKey,
    call: (b, v) => new ThreadBuffer({ backend: b }).append(v as never, { text: 'x' }),
  },
];

async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error ?? new Error('threw a nullish value');
  }
}

async function keysOf(backend: Backend): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of backend.scan()) keys.push(k);
  return keys;
}

describe.each(worldTargets({ prefix: 'bad' }))('bad input on $name', (target) => {
  it(`fuzzed bad values at ${EDGES.length} public edges of 7 packages: a RedbrickError naming the package, no crash, nothing written`, async () => {
    await using world = await target.open();
    let calls = 0;
    let checks = 0;
    const wrong: string[] = [];
    // Made with valid options before the bad calls: what creating a queue writes (BullMQ's meta
    // key) is not the bad calls' doing.
    await queueOn(world.backend).ready();
    const before = new Set(await keysOf(world.backend));
    for (const edge of EDGES) {
      await fc.assert(
        fc.asyncProperty(edge.bad, async (bad) => {
          calls++;
          const error = await outcome(() => edge.call(world.backend, bad));
          checks += 2;
          if (!isRedbrickError(error) || !['VALIDATION', 'INVALID_CONFIG'].includes(error.code)) {
            wrong.push(
              `${edge.name} with ${String(bad)}: ${error === undefined ? 'accepted' : String(error)}`,
            );
            return;
          }
          if (!/^\[redbrick\/[a-z-]+\] /.test(error.message)) {
            wrong.push(`${edge.name}: message does not name the package: ${error.message}`);
          }
        }),
        { numRuns: RUNS },
      );
    }
    const queue = queues.get(world.backend);
    queues.delete(world.backend);
    await queue?.close();
    const written = (await keysOf(world.backend)).filter((k) => !before.has(k));
    checks++;
    console.log(
      `[integration] bad input on ${target.name}: operations: ${calls} calls with fuzzed bad values at ${EDGES.length} edges; faults injected: 0; invariant checks: ${checks} (${wrong.length} broken); keys written: ${written.length}`,
    );
    expect(wrong).toEqual([]);
    expect(written).toEqual([]);
  }, 60_000);
});
