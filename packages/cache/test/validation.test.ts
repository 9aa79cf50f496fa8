import { createBackend, isRedbrickError } from '@redbrick/core';
import { afterAll, describe, expect, it } from 'vitest';
import { cached, createCache } from '../src/index.js';

/*
 * Bad input at the API edge: a ValidationError (code VALIDATION) whose
 * message starts with [redbrick/cache], names the field and what is
 * allowed — and nothing is written. Validation never reaches the backend,
 * so one memory backend covers it.
 */

const backend = await createBackend({ type: 'memory' });
afterAll(() => backend.close());

function expectValidation(fn: () => unknown, field: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isRedbrickError(error, 'VALIDATION'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(/^\[redbrick\/cache\] /);
  expect((error as Error).message).toMatch(field);
}

async function expectRejected(promise: Promise<unknown>, field: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRedbrickError(error, 'VALIDATION'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(/^\[redbrick\/cache\] /);
  expect((error as Error).message).toMatch(field);
}

describe('createCache options', () => {
  it.each([
    [{ backend: undefined }, /backend/],
    [{ backend, name: '' }, /name must be a non-empty string/],
    [{ backend, ttlMs: 0 }, /ttlMs must be an integer ≥ 1/],
    [{ backend, ttlMs: 1.5 }, /ttlMs/],
    [{ backend, graceMs: -1 }, /graceMs must be an integer ≥ 0/],
    [{ backend, softTimeoutMs: 0 }, /softTimeoutMs/],
    [{ backend, hardTimeoutMs: Number.NaN }, /hardTimeoutMs/],
    [{ backend, backendTimeoutMs: -5 }, /backendTimeoutMs/],
    [{ backend, singleFlight: 'cluster' }, /singleFlight must be 'process' or 'distributed'/],
    [{ backend, l1: { maxEntries: 0 } }, /l1\.maxEntries/],
    [{ backend, l1: { maxBytes: -1 } }, /l1\.maxBytes/],
    [{ backend, l1: 'big' }, /l1 must be false/],
    [{ backend, invalidation: 'yes' }, /invalidation must be a boolean/],
  ])('%o is rejected', (options, field) => {
    expectValidation(() => createCache(options as never), field);
  });

  it('rejects a missing options object', () => {
    expectValidation(() => createCache(undefined as never), /options must be an object/);
  });
});

describe('calls', () => {
  const cache = createCache<number>({ backend, name: 'validation' });

  it('rejects bad keys, TTLs, tags, meta and values, writing nothing', async () => {
    await expectRejected(cache.get(''), /key must be a non-empty string/);
    await expectRejected(cache.set('k', 1, { ttlMs: -1 }), /ttlMs/);
    await expectRejected(cache.set('k', 1, { tags: [''] }), /tags\[0\]/);
    await expectRejected(cache.set('k', 1, { tags: 'x' as never }), /tags must be an array/);
    await expectRejected(cache.set('k', 1, { meta: [] as never }), /meta must be a plain object/);
    await expectRejected(cache.set('k', undefined as never), /must not be undefined/);
    await expectRejected(cache.set('k', (() => 1) as never), /cannot be stored/);
    expect(await cache.get('k')).toBeUndefined();
    await expectRejected(cache.getOrSet('k', 'nope' as never), /factory must be a function/);
    await expectRejected(
      cache.getOrSet('k', async () => undefined as never),
      /must not be undefined/,
    );
    await expectRejected(cache.getMany(['a', ''] as never), /keys\[1\]/);
    await expectRejected(cache.deleteMany('a' as never), /keys must be an array/);
    await expectRejected(cache.invalidateTags([1] as never), /tags\[0\]/);
  });

  it('setMany validates every item before writing any', async () => {
    await expectRejected(
      cache.setMany([
        { key: 'm1', value: 1 },
        { key: 'm2', value: 2, ttlMs: 0 },
      ]),
      /items\[1\]\.ttlMs/,
    );
    await expectRejected(
      cache.setMany([
        { key: 'm1', value: 1 },
        { key: 'm2', value: undefined as never },
      ]),
      /must not be undefined/,
    );
    expect(await cache.getMany(['m1', 'm2'])).toEqual([undefined, undefined]);
    await expectRejected(cache.setMany({} as never), /items must be an array/);
  });

  it('rejects bad namespaces, patterns, events and cached() options', async () => {
    expectValidation(() => cache.namespace(''), /namespace must be a non-empty string/);
    await expectRejected(cache.clearNamespace(7 as never), /namespace/);
    await expectRejected(
      (async () => {
        for await (const _ of cache.keys('')) break;
      })(),
      /pattern must be a non-empty glob string/,
    );
    expectValidation(() => cache.on('nope' as never, () => {}), /event must be/);
    expectValidation(() => cache.on('hit', 5 as never), /listener must be a function/);
    expectValidation(
      () => cached('x' as never, { cache, key: () => 'k' }),
      /fn must be a function/,
    );
    expectValidation(
      () => cached(async () => 1, { cache, key: 'k' as never }),
      /key must be a function/,
    );
  });
});
