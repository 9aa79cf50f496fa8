import { isRedbrickError } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, type RateLimiterOptions, UsageMeter } from '../src/index.js';

/*
 * Bad input is rejected with a ValidationError naming the field, before any
 * I/O: the backend here is closed, so any command would fail with CLOSED
 * instead.
 */

const backend = createMemoryBackend();
beforeAll(async () => {
  await backend.close();
});

function expectField(fn: () => unknown, field: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(isRedbrickError(thrown, 'VALIDATION'), String(thrown)).toBe(true);
  expect(thrown).toMatchObject({ name: 'ValidationError', field });
  expect((thrown as Error).message).toMatch(/^\[redbrick\/ratelimit\]/);
}

async function expectRejectsField(promise: Promise<unknown>, field: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRedbrickError(error, 'VALIDATION'), String(error)).toBe(true);
  expect(error).toMatchObject({ field });
}

const make = (options: Partial<RateLimiterOptions>) =>
  new RateLimiter({ backend, limit: 5, windowMs: 1000, ...options } as RateLimiterOptions);

describe('RateLimiter options', () => {
  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: -1 }, 'limit'],
    [{ limit: 2.5 }, 'limit'],
    [{ limit: Number.NaN }, 'limit'],
    [{ limit: undefined }, 'limit'],
    [{ windowMs: 0 }, 'windowMs'],
    [{ windowMs: -5 }, 'windowMs'],
    [{ windowMs: Number.POSITIVE_INFINITY }, 'windowMs'],
    [{ algorithm: 'leaky' }, 'algorithm'],
    [{ algorithm: 'token-bucket', refillAmount: 0 }, 'refillAmount'],
    [{ algorithm: 'token-bucket', refillIntervalMs: 0 }, 'refillIntervalMs'],
    [{ algorithm: 'gcra', burst: 0 }, 'burst'],
    [{ algorithm: 'sliding-log', limit: 2_000_000 }, 'limit'],
    [{ algorithm: 'sliding-window', limit: 1_000_000_000, windowMs: 31_536_000_000 }, 'limit'],
    [{ name: 'has space' }, 'name'],
    [{ name: '{tag}' }, 'name'],
    [{ denyCache: { maxKeys: 0 } }, 'denyCache.maxKeys'],
    [{ onUnavailable: 'maybe' }, 'onUnavailable'],
    [{ onUnavailable: { insurance: 42 } }, 'onUnavailable.insurance'],
    [{ unavailableRetryAfterMs: 0 }, 'unavailableRetryAfterMs'],
  ] as Array<[Record<string, unknown>, string]>)('%o → %s', (options, field) => {
    expectField(() => make(options as Partial<RateLimiterOptions>), field);
  });

  it('rejects bad composite rules', () => {
    expectField(() => new RateLimiter({ backend, limits: [] }), 'limits');
    expectField(
      () =>
        new RateLimiter({
          backend,
          limits: [
            { limit: 1, windowMs: 1000 },
            { name: 'b', limit: 1, windowMs: 1000 },
          ],
        }),
      'limits[0].name',
    );
    expectField(
      () =>
        new RateLimiter({
          backend,
          limits: [
            { name: 'a', limit: 1, windowMs: 1000 },
            { name: 'a', limit: 2, windowMs: 1000 },
          ],
        }),
      'limits',
    );
    expectField(
      () =>
        new RateLimiter({
          backend,
          limits: [
            { name: 'a', limit: 1, windowMs: 1000 },
            { name: 'b', limit: 1, windowMs: 0 },
          ],
        }),
      'limits[1].windowMs',
    );
    expectField(() => new RateLimiter({ backend, limit: 1, windowMs: 1000, limits: [] }), 'limits');
    const meter = new UsageMeter({ backend });
    expectField(
      () =>
        new RateLimiter({
          backend,
          limits: [{ name: 'b', budget: { meter, metric: 'tokens', limit: 0, period: 'month' } }],
        }),
      'limits[0].budget.limit',
    );
    expectField(
      () =>
        new RateLimiter({
          backend,
          limits: [
            {
              name: 'b',
              budget: { meter, metric: 'tokens', limit: 10, period: 'week' as 'month' },
            },
          ],
        }),
      'limits[0].budget.period',
    );
  });
});

describe('RateLimiter calls', () => {
  const limiter = make({});

  it.each([
    ['', 'key'],
    [undefined, 'key'],
    [42, 'key'],
  ])('key %o', async (key, field) => {
    await expectRejectsField(limiter.check(key as string), field);
    await expectRejectsField(limiter.peek(key as string), field);
    await expectRejectsField(limiter.record(key as string), field);
    await expectRejectsField(limiter.reset(key as string), field);
    await expectRejectsField(limiter.block(key as string, 1000), field);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -1, 1.5, 2e9])(
    'cost %s',
    async (cost) => {
      await expectRejectsField(limiter.check('k', { cost }), 'cost');
      await expectRejectsField(limiter.peek('k', { cost }), 'cost');
      await expectRejectsField(limiter.record('k', { cost }), 'cost');
      await expectRejectsField(limiter.penalty('k', cost), 'points');
      await expectRejectsField(limiter.reward('k', cost), 'points');
    },
  );

  it('per-call limit, window, estimate and block duration', async () => {
    await expectRejectsField(limiter.check('k', { limit: 0 }), 'limit');
    await expectRejectsField(limiter.check('k', { windowMs: 0 }), 'windowMs');
    await expectRejectsField(limiter.check('k', { estimate: { tokens: -1 } }), 'estimate.tokens');
    await expectRejectsField(
      limiter.check('k', { estimate: { cost: Number.NaN } }),
      'estimate.cost',
    );
    await expectRejectsField(limiter.block('k', 0), 'ms');
    await expectRejectsField(limiter.block('k', Number.NaN), 'ms');
    const composite = new RateLimiter({
      backend,
      limits: [
        { name: 'a', limit: 1, windowMs: 1000 },
        { name: 'b', limit: 2, windowMs: 2000 },
      ],
    });
    await expectRejectsField(composite.check('k', { limit: 3 }), 'limit');
  });

  it('a sliding-log record or penalty larger than the limit (one entry per unit)', async () => {
    const log = make({ algorithm: 'sliding-log', limit: 5 });
    await expectRejectsField(log.record('k', { cost: 6 }), 'cost');
    await expectRejectsField(log.penalty('k', 6), 'points');
  });
});

describe('UsageMeter', () => {
  const meter = new UsageMeter({ backend });

  it('rejects bad usage before any I/O', async () => {
    await expectRejectsField(meter.record('', { tokens: 1 }), 'workspace');
    await expectRejectsField(meter.record('w', { tokens: -1 }), 'tokens');
    await expectRejectsField(meter.record('w', { tokens: 1.5 }), 'tokens');
    await expectRejectsField(meter.record('w', { cost: Number.NaN }), 'cost');
    await expectRejectsField(meter.record('w', { cost: -0.5 }), 'cost');
    await expectRejectsField(meter.record('w', { requests: -1 }), 'requests');
    await expectRejectsField(meter.record('w', { model: '' }), 'model');
    await expectRejectsField(meter.record('w', { at: Number.NaN }), 'at');
    await expectRejectsField(meter.totals('w', 'week' as 'day'), 'range');
    await expectRejectsField(meter.totals('w', { from: 10, to: 5 }), 'range.to');
    await expectRejectsField(
      meter.totals('w', { from: 0, to: Date.UTC(2025, 0, 1), by: 'hour' }),
      'range',
    );
    await expectRejectsField(meter.check('w'), 'quotas');
  });

  it('rejects bad options and quotas', () => {
    expectField(() => new UsageMeter({ backend, name: 'a b' }), 'name');
    expectField(() => new UsageMeter({ backend, retention: { hourMs: -1 } }), 'retention.hourMs');
    expectField(
      () =>
        new UsageMeter({
          backend,
          quotas: [{ metric: 'tokens', limit: -5, period: 'day' }],
        }),
      'quotas[0].limit',
    );
    expectField(
      () =>
        new UsageMeter({
          backend,
          quotas: [{ metric: 'coins' as 'cost', limit: 5, period: 'day' }],
        }),
      'quotas[0].metric',
    );
  });
});
