import { counted } from '@redbrick/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Algorithm, RateLimiter, type RateLimiterOptions, UsageMeter } from '../src/index.js';
import { ALGORITHMS, type FakeClock, fakeClock, fresh, memoryWithClock } from './helpers.js';

/*
 * Timing on the memory backend with a controlled clock: no sleeps, no
 * flakes. The backend's clock is what the scripts read as server time.
 */

function setup(options: Omit<RateLimiterOptions, 'backend'>, start?: number) {
  const clock = fakeClock(start);
  const backend = memoryWithClock(clock);
  const limiter = new RateLimiter({ backend, name: fresh('l'), clock, ...options });
  return { clock, backend, limiter };
}

interface Admission {
  t: number;
  cost: number;
}

function sumIn(admitted: readonly Admission[], from: number, to: number): number {
  let n = 0;
  for (const a of admitted) if (a.t >= from && a.t <= to) n += a.cost;
  return n;
}

/** The most units admitted in any closed interval [a, a + span] starting at an admission. */
function maxIn(admitted: readonly Admission[], span: number): number {
  let best = 0;
  for (const a of admitted) best = Math.max(best, sumIn(admitted, a.t, a.t + span));
  return best;
}

/** What each algorithm promises about any interval, given its parameters. */
function bound(algorithm: Algorithm, limit: number, windowMs: number, span: number): number {
  switch (algorithm) {
    case 'sliding-log':
      // never more than limit in any window: (t - W, t]
      return span < windowMs ? limit : Number.POSITIVE_INFINITY;
    case 'fixed-window':
    case 'sliding-window':
      return span < windowMs ? 2 * limit : Number.POSITIVE_INFINITY;
    case 'token-bucket': {
      // default refill: limit/g tokens every windowMs/g ms
      const g = gcd(limit, windowMs);
      return limit + (limit / g) * (Math.floor(span / (windowMs / g)) + 1);
    }
    case 'gcra': {
      const emissionUs = Math.round((windowMs * 1000) / limit);
      return limit + Math.floor((span * 1000) / emissionUs);
    }
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const step = fc.record({
  dt: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3000 })),
  cost: fc.integer({ min: 1, max: 4 }),
  probeRetry: fc.boolean(),
});

describe.each(ALGORITHMS)('%s on a fake clock', (algorithm) => {
  it('keeps its promise over any interval, and retryAfterMs is exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(1000, 1500, 7000),
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 10_000 }),
        async (limit, windowMs, steps, offset) => {
          const { clock, backend, limiter } = setup(
            { algorithm, limit, windowMs, denyCache: false },
            Date.UTC(2025, 0, 1) + offset,
          );
          const admitted: Admission[] = [];
          for (const s of steps) {
            clock.advance(s.dt);
            const d = await limiter.check('k', { cost: s.cost });
            if (d.allowed) admitted.push({ t: clock(), cost: s.cost });
            else if (s.cost > limit) expect(d.reason).toBe('cost-exceeds-limit');
            else {
              expect(d.reason).toBe('limited');
              expect(d.retryAfterMs).toBeGreaterThan(0);
              if (s.probeRetry) {
                // one ms early it is still denied; exactly on time it is allowed
                clock.advance(d.retryAfterMs - 1);
                expect((await limiter.peek('k', { cost: s.cost })).allowed).toBe(false);
                clock.advance(1);
                expect((await limiter.peek('k', { cost: s.cost })).allowed).toBe(true);
              }
            }
            for (const span of [windowMs - 1, Math.floor(windowMs / 2), 3 * windowMs]) {
              expect(maxIn(admitted, span)).toBeLessThanOrEqual(
                bound(algorithm, limit, windowMs, span),
              );
            }
          }
          await backend.close();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports resetAt as the moment the full limit is back', async () => {
    const { clock, limiter } = setup({ algorithm, limit: 4, windowMs: 2000, denyCache: false });
    await limiter.check('k', { cost: 3 });
    clock.advance(300);
    const d = await limiter.check('k');
    expect(d.remaining).toBe(0);
    clock.set(d.resetAt - 1);
    expect((await limiter.peek('k')).remaining).toBeLessThan(4);
    clock.set(d.resetAt);
    expect((await limiter.peek('k')).remaining).toBe(4);
  });

  it('leaves no key once the state is back to empty', async () => {
    const { clock, backend, limiter } = setup({ algorithm, limit: 3, windowMs: 1000 });
    await limiter.check('k', { cost: 2 });
    const d = await limiter.peek('k');
    clock.set(d.resetAt + 1000);
    backend.purgeExpired();
    expect((await backend.info()).keys).toBe(0);
  });
});

describe('algorithm specifics', () => {
  it('fixed window: opens at the first request and resets windowMs later', async () => {
    const { clock, limiter } = setup({ algorithm: 'fixed-window', limit: 2, windowMs: 1000 });
    const t0 = clock();
    await limiter.check('k');
    clock.advance(600);
    await limiter.check('k');
    const denied = await limiter.check('k');
    expect(denied).toMatchObject({ allowed: false, resetAt: t0 + 1000, retryAfterMs: 400 });
    clock.advance(400);
    expect(await limiter.check('k')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('sliding window: weighs the previous window by the part still covered', async () => {
    const start = Date.UTC(2025, 0, 1);
    const { clock, limiter } = setup(
      { algorithm: 'sliding-window', limit: 10, windowMs: 1000, denyCache: false },
      start,
    );
    for (let i = 0; i < 10; i++) await limiter.check('k');
    expect((await limiter.check('k')).allowed).toBe(false);
    clock.set(start + 1250); // 10 × 750/1000 = 7.5 still counted
    expect(await limiter.peek('k')).toMatchObject({ remaining: 2 });
    expect((await limiter.check('k', { cost: 2 })).allowed).toBe(true);
    const denied = await limiter.check('k');
    // needs 10 × (1000 − e)/1000 ≤ 7, i.e. e ≥ 300: 50 ms from now
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 50 });
    clock.set(start + 2000);
    expect(await limiter.peek('k')).toMatchObject({ remaining: 8 });
    clock.set(start + 3000);
    expect(await limiter.peek('k')).toMatchObject({ remaining: 10 });
  });

  it('sliding log: a unit leaves exactly windowMs after it was admitted', async () => {
    const { clock, limiter } = setup({ algorithm: 'sliding-log', limit: 3, windowMs: 1000 });
    const t0 = clock();
    await limiter.check('k');
    clock.advance(200);
    await limiter.check('k', { cost: 2 });
    clock.advance(100);
    const denied = await limiter.check('k', { cost: 2 });
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 900, resetAt: t0 + 1200 });
    clock.set(t0 + 1000);
    expect(await limiter.check('k')).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('token bucket: refills refillAmount every refillIntervalMs', async () => {
    const { clock, limiter } = setup({
      algorithm: 'token-bucket',
      limit: 10,
      windowMs: 1000,
      refillAmount: 2,
      refillIntervalMs: 500,
      denyCache: false,
    });
    expect((await limiter.check('k', { cost: 10 })).allowed).toBe(true);
    const denied = await limiter.check('k', { cost: 3 });
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    clock.advance(499);
    expect((await limiter.peek('k')).remaining).toBe(0);
    clock.advance(1);
    expect((await limiter.peek('k')).remaining).toBe(2);
    clock.advance(10_000);
    expect((await limiter.peek('k')).remaining).toBe(10);
  });

  it('token bucket: the default refill is the steadiest whole-token rate', async () => {
    const { clock, limiter } = setup({ algorithm: 'token-bucket', limit: 10, windowMs: 1000 });
    expect(limiter.rules[0]).toMatchObject({ limit: 10, windowMs: 1000 });
    await limiter.check('k', { cost: 10 });
    clock.advance(100);
    expect((await limiter.peek('k')).remaining).toBe(1);
  });

  it('GCRA: admits the burst, then one request per emission interval', async () => {
    const { clock, limiter } = setup({
      algorithm: 'gcra',
      limit: 10,
      windowMs: 1000,
      burst: 3,
      denyCache: false,
    });
    for (let i = 0; i < 3; i++) expect((await limiter.check('k')).allowed).toBe(true);
    const denied = await limiter.check('k');
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 100 });
    clock.advance(100);
    expect((await limiter.check('k')).allowed).toBe(true);
    expect((await limiter.check('k')).allowed).toBe(false);
    clock.advance(1000);
    expect(await limiter.peek('k')).toMatchObject({ remaining: 3 });
  });

  it('GCRA: sub-millisecond emission intervals stay exact', async () => {
    const { limiter } = setup({ algorithm: 'gcra', limit: 3000, windowMs: 1000 });
    const decisions = [];
    for (let i = 0; i < 3001; i++) decisions.push(await limiter.check('k'));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3000);
  });
});

describe('deny cache on a fake clock', () => {
  function counting(clock: FakeClock) {
    const backend = memoryWithClock(clock);
    // every script run counts, `run` or the synchronous runner the limiter uses in process
    const { backend: spied, calls } = counted(backend);
    return { backend: spied, runs: () => calls.filter((call) => call.startsWith('run ')).length };
  }

  it('answers a denied key without a round trip until the denial expires', async () => {
    const clock = fakeClock();
    const { backend, runs } = counting(clock);
    const limiter = new RateLimiter({
      backend,
      algorithm: 'fixed-window',
      limit: 2,
      windowMs: 1000,
      clock,
    });
    await limiter.check('k');
    await limiter.check('k');
    const denied = await limiter.check('k');
    expect(denied.source).toBe('backend');
    expect(runs()).toBe(3);
    for (let i = 0; i < 5; i++) {
      clock.advance(100);
      const d = await limiter.check('k');
      expect(d).toMatchObject({ allowed: false, source: 'cache', retryAfterMs: 900 - i * 100 });
    }
    expect(runs()).toBe(3);
    clock.advance(500);
    expect(await limiter.check('k')).toMatchObject({ allowed: true, source: 'backend' });
    expect(runs()).toBe(4);
  });

  it('a denial for a large cost does not answer a smaller one', async () => {
    const clock = fakeClock();
    const { backend, runs } = counting(clock);
    const limiter = new RateLimiter({ backend, limit: 3, windowMs: 1000, clock });
    await limiter.check('k', { cost: 2 });
    expect(await limiter.check('k', { cost: 2 })).toMatchObject({ allowed: false });
    expect(await limiter.check('k', { cost: 3 })).toMatchObject({ source: 'cache' });
    expect(await limiter.check('k', { cost: 1 })).toMatchObject({
      allowed: true,
      source: 'backend',
    });
    expect(runs()).toBe(3);
  });

  it('a blocked key is cached for every cost; unblock clears it', async () => {
    const clock = fakeClock();
    const { backend, runs } = counting(clock);
    const limiter = new RateLimiter({ backend, limit: 5, windowMs: 1000, clock });
    await limiter.block('k', 5000);
    expect(await limiter.check('k', { cost: 3 })).toMatchObject({ reason: 'blocked' });
    expect(await limiter.check('k', { cost: 1 })).toMatchObject({
      reason: 'blocked',
      source: 'cache',
    });
    expect(runs()).toBe(1);
    await limiter.unblock('k');
    expect(await limiter.check('k')).toMatchObject({ allowed: true, source: 'backend' });
  });

  it('does not cache a budget denial (it depends on the estimate)', async () => {
    const clock = fakeClock();
    const { backend, runs } = counting(clock);
    const meter = new UsageMeter({ backend, clock });
    const limiter = new RateLimiter({
      backend,
      clock,
      limits: [
        { name: 'rate', limit: 100, windowMs: 1000 },
        { name: 'tokens', budget: { meter, metric: 'tokens', limit: 100, period: 'day' } },
      ],
    });
    await meter.record('ws', { tokens: 90 });
    const before = runs();
    expect(await limiter.check('ws', { estimate: { tokens: 20 } })).toMatchObject({
      allowed: false,
      deniedBy: 'tokens',
    });
    expect(await limiter.check('ws', { estimate: { tokens: 5 } })).toMatchObject({
      allowed: true,
      source: 'backend',
    });
    expect(runs() - before).toBe(2);
  });

  it('is bounded and can be switched off', async () => {
    const clock = fakeClock();
    const { backend, runs } = counting(clock);
    const small = new RateLimiter({
      backend,
      limit: 1,
      windowMs: 60_000,
      clock,
      denyCache: { maxKeys: 2 },
    });
    for (const k of ['a', 'b', 'c']) {
      await small.check(k);
      await small.check(k);
    }
    const before = runs();
    await small.check('a'); // evicted: asks the backend
    await small.check('c'); // cached
    expect(runs() - before).toBe(1);
    const off = new RateLimiter({ backend, limit: 1, windowMs: 60_000, clock, denyCache: false });
    await off.check('x');
    const b2 = runs();
    await off.check('x');
    await off.check('x');
    expect(runs() - b2).toBe(2);
  });
});
