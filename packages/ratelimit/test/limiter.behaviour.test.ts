import { escapeKeyPart, hashSlot } from '@redbrick/core';
import { testTargets } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Algorithm, RateLimiter, type RateLimiterOptions, UsageMeter } from '../src/index.js';
import { ALGORITHMS, EXACT, fresh, sleep } from './helpers.js';

/*
 * The behaviour suite: the same tests on memory, one redis-server and a
 * 3-master cluster (targets swapped by the testkit factory).
 */

const KEY_COUNT: Record<Algorithm, number> = {
  'fixed-window': 1,
  'sliding-window': 1,
  'sliding-log': 2,
  'token-bucket': 1,
  gcra: 1,
};

describe.each(testTargets())('$name', (target) => {
  let backend: Awaited<ReturnType<typeof target.make>>;
  beforeAll(async () => {
    backend = await target.make();
  });
  afterAll(async () => {
    await backend?.close();
  });

  const limiter = (options: Omit<RateLimiterOptions, 'backend'>) =>
    new RateLimiter({ backend, name: fresh('l'), denyCache: false, ...options });

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    const one = (extra: Partial<RateLimiterOptions> = {}) =>
      limiter({ algorithm, limit: 5, windowMs: 60_000, ...extra });

    it('admits the limit, then denies with a retry time', async () => {
      const l = one();
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        const d = await l.check('user:1');
        expect(d).toMatchObject({ allowed: true, limit: 5, reason: 'allowed', source: 'backend' });
        expect(d.retryAfterMs).toBe(0);
        seen.push(d.remaining);
      }
      expect(seen).toEqual([4, 3, 2, 1, 0]);
      const denied = await l.check('user:1');
      expect(denied).toMatchObject({
        allowed: false,
        remaining: 0,
        reason: 'limited',
        deniedBy: 'default',
        source: 'backend',
      });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.retryAfterMs).toBeLessThanOrEqual(2 * 60_000);
      expect(denied.resetAt).toBeGreaterThan(denied.now);
      expect(denied.rules).toHaveLength(1);
      expect(denied.rules[0]).toMatchObject({ name: 'default', algorithm, allowed: false });
      // other keys are independent
      expect((await l.check('user:2')).allowed).toBe(true);
    });

    it('weighs requests by cost and consumes nothing on a denial', async () => {
      const l = one();
      expect(await l.check('k', { cost: 3 })).toMatchObject({ allowed: true, remaining: 2 });
      expect(await l.check('k', { cost: 3 })).toMatchObject({ allowed: false, remaining: 2 });
      expect(await l.peek('k')).toMatchObject({ allowed: true, remaining: 2 });
      expect(await l.check('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('denies a cost larger than the limit without consuming anything', async () => {
      const l = one();
      await l.check('k');
      const d = await l.check('k', { cost: 6 });
      expect(d).toMatchObject({
        allowed: false,
        reason: 'cost-exceeds-limit',
        deniedBy: 'default',
      });
      expect(d.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
      expect(await l.peek('k')).toMatchObject({ remaining: 4 });
    });

    it('peeks without consuming and without creating keys', async () => {
      const l = one();
      for (let i = 0; i < 3; i++) {
        expect(await l.peek('fresh')).toMatchObject({ allowed: true, remaining: 5 });
      }
      expect(await backend.exists(...keysOf(l, 'fresh', algorithm))).toBe(0);
      await l.check('fresh', { cost: 2 });
      expect(await l.peek('fresh', { cost: 3 })).toMatchObject({ allowed: true, remaining: 3 });
      expect(await l.peek('fresh', { cost: 4 })).toMatchObject({ allowed: false, remaining: 3 });
      expect(await l.peek('fresh')).toMatchObject({ remaining: 3 });
    });

    it('records over the limit, and says whether it fitted', async () => {
      const l = one();
      const fits = [];
      for (let i = 0; i < 7; i++) fits.push((await l.record('k')).allowed);
      expect(fits).toEqual([true, true, true, true, true, false, false]);
      expect(await l.check('k')).toMatchObject({ allowed: false, remaining: 0 });
    });

    it('takes penalties and gives rewards', async () => {
      const l = one();
      expect(await l.penalty('k', 2)).toMatchObject({ allowed: true, remaining: 3 });
      expect(await l.check('k', { cost: 3 })).toMatchObject({ allowed: true, remaining: 0 });
      expect((await l.check('k')).allowed).toBe(false);
      expect(await l.reward('k', 2)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await l.check('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
      // a reward never goes past an empty state
      expect(await l.reward('k', 50)).toMatchObject({ remaining: 5 });
      expect(await l.reward('other', 3)).toMatchObject({ allowed: true, remaining: 5 });
    });

    it('blocks, unblocks and resets a key', async () => {
      const l = one();
      await l.check('k');
      await l.block('k', 30_000);
      const d = await l.check('k');
      expect(d).toMatchObject({ allowed: false, reason: 'blocked', remaining: 0 });
      expect(d.retryAfterMs).toBeGreaterThan(25_000);
      expect(d.retryAfterMs).toBeLessThanOrEqual(30_000);
      expect(await l.peek('k')).toMatchObject({ allowed: false, reason: 'blocked' });
      await l.unblock('k');
      expect(await l.check('k')).toMatchObject({ allowed: true, remaining: 3 });
      await l.block('k', 30_000);
      await l.reset('k');
      expect(await l.check('k')).toMatchObject({ allowed: true, remaining: 4 });
      await l.reset('k');
      expect(await backend.exists(...keysOf(l, 'k', algorithm))).toBe(0);
    });

    it('keeps every key of a decision in one hash slot, with a TTL', async () => {
      const l = one();
      const id = 'tenant:42/{user}';
      await l.check(id, { cost: 2 });
      await l.block(id, 10_000);
      const keys = [...keysOf(l, id, algorithm), blockKeyOf(l, id)];
      expect(keys).toHaveLength(KEY_COUNT[algorithm] + 1);
      expect(new Set(keys.map(hashSlot)).size).toBe(1);
      for (const k of keys) {
        const ttl = await backend.pttl(k);
        expect(ttl, k).toBeGreaterThan(0);
        // the sliding window counter keeps the previous window's count for one more window
        expect(ttl, k).toBeLessThanOrEqual(algorithm === 'sliding-window' ? 120_000 : 60_000);
      }
    });

    it('lets idle keys expire and admits again after the window', async () => {
      const l = one({ limit: 2, windowMs: 300 });
      await l.check('k');
      await l.check('k');
      const denied = await l.check('k');
      expect(denied.allowed).toBe(false);
      // waiting at least retryAfterMs can only make room
      await sleep(denied.retryAfterMs + 25);
      expect((await l.check('k')).allowed).toBe(true);
      const keys = keysOf(l, 'k', algorithm);
      const deadline = Date.now() + 5000;
      while ((await backend.exists(...keys)) > 0 && Date.now() < deadline) await sleep(50);
      expect(await backend.exists(...keys)).toBe(0);
    });

    it('takes a per-call limit and window (e.g. per plan)', async () => {
      const l = one();
      for (let i = 0; i < 2; i++) expect((await l.check('free', { limit: 2 })).allowed).toBe(true);
      expect(await l.check('free', { limit: 2 })).toMatchObject({ allowed: false, limit: 2 });
      for (let i = 0; i < 10; i++) {
        const d = await l.check('pro', { limit: 10, windowMs: 120_000 });
        expect(d).toMatchObject({ allowed: true, limit: 10, remaining: 9 - i });
      }
      expect(await l.check('pro', { limit: 10, windowMs: 120_000 })).toMatchObject({
        allowed: false,
      });
    });

    it('answers repeated denials from the deny cache until they expire', async () => {
      const l = one({ denyCache: true, limit: 1 });
      expect((await l.check('k')).source).toBe('backend');
      const first = await l.check('k');
      expect(first).toMatchObject({ allowed: false, source: 'backend' });
      const cached = await l.check('k');
      expect(cached).toMatchObject({ allowed: false, source: 'cache', reason: 'limited' });
      expect(cached.retryAfterMs).toBeLessThanOrEqual(first.retryAfterMs);
      // peek and a reward always ask the backend; the reward clears the cache
      expect((await l.peek('k')).source).toBe('backend');
      await l.reward('k');
      expect(await l.check('k')).toMatchObject({ allowed: true, source: 'backend' });
    });
  });

  describe('exactness from an empty state', () => {
    it.each(EXACT)('%s admits exactly the limit of many parallel calls', async (algorithm) => {
      const l = limiter({ algorithm, limit: 25, windowMs: 3_600_000 });
      const decisions = await Promise.all(Array.from({ length: 60 }, () => l.check('hot')));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    });
  });

  describe('composite limits', () => {
    it.each([
      ['burst', 3, 'hourly', 5],
      ['hourly', 3, 'burst', 5],
    ])(
      'consumes from every rule or from none; %s (limit %i) denies first',
      async (tight, tightLimit, loose, looseLimit) => {
        const rules = {
          burst: { algorithm: 'sliding-log' as const, windowMs: 60_000 },
          hourly: { algorithm: 'token-bucket' as const, windowMs: 3_600_000 },
        };
        const l = limiter({
          limits: [
            { name: 'burst', ...rules.burst, limit: tight === 'burst' ? tightLimit : looseLimit },
            {
              name: 'hourly',
              ...rules.hourly,
              limit: tight === 'hourly' ? tightLimit : looseLimit,
            },
          ],
        });
        for (let i = 0; i < 3; i++) expect((await l.check('k')).allowed).toBe(true);
        const denied = await l.check('k');
        expect(denied).toMatchObject({ allowed: false, deniedBy: tight, reason: 'limited' });
        const byName = Object.fromEntries(denied.rules.map((r) => [r.name, r]));
        expect(byName[tight]).toMatchObject({ allowed: false, remaining: 0 });
        expect(byName[loose]).toMatchObject({ allowed: true, remaining: 2 });
        // the denial consumed nothing from the other rule
        const after = await l.peek('k');
        expect(after.rules.find((r) => r.name === loose)).toMatchObject({ remaining: 2 });
        // a refund goes to every rule
        await l.reward('k', 2);
        expect((await l.check('k', { cost: 2 })).allowed).toBe(true);
        expect((await l.check('k')).deniedBy).toBe(tight);
      },
    );

    it('names the rule that frees up last when several deny', async () => {
      const l = limiter({
        limits: [
          { name: 'minute', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 },
          { name: 'day', algorithm: 'fixed-window', limit: 2, windowMs: 86_400_000 },
        ],
      });
      await l.check('k');
      await l.check('k');
      const d = await l.check('k');
      expect(d.deniedBy).toBe('day');
      expect(d.rules.every((r) => !r.allowed)).toBe(true);
      expect(d.retryAfterMs).toBeGreaterThan(60_000);
    });

    it('runs all five algorithms on one key atomically', async () => {
      const l = limiter({
        limits: ALGORITHMS.map((algorithm, i) => ({
          name: algorithm,
          algorithm,
          limit: 4 + i,
          windowMs: 60_000,
        })),
      });
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await l.check('user:{x}'));
      expect(results.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
      expect(results[4]?.deniedBy).toBe('fixed-window');
      expect(results[4]?.rules.map((r) => r.remaining)).toEqual([0, 1, 2, 3, 4]);
      const tooBig = await l.check('user:{x}', { cost: 5 });
      expect(tooBig).toMatchObject({ reason: 'cost-exceeds-limit', deniedBy: 'fixed-window' });
    });

    it('enforces a usage budget with the remaining budget in the decision', async () => {
      const meter = new UsageMeter({ backend, name: fresh('m') });
      const l = limiter({
        limits: [
          { name: 'rph', algorithm: 'gcra', limit: 100, windowMs: 3_600_000 },
          {
            name: 'monthly-tokens',
            budget: { meter, metric: 'tokens', limit: 1000, period: 'month' },
          },
          { name: 'monthly-spend', budget: { meter, metric: 'cost', limit: 0.5, period: 'month' } },
        ],
      });
      const ws = 'acme';
      const first = await l.check(ws, { estimate: { tokens: 400 } });
      expect(first.allowed).toBe(true);
      expect(first.rules[1]).toMatchObject({ kind: 'budget', remaining: 1000, limit: 1000 });
      await meter.record(ws, { tokens: 700, cost: 0.1, model: 'small' });
      expect((await l.check(ws, { estimate: { tokens: 300 } })).allowed).toBe(true);
      const over = await l.check(ws, { estimate: { tokens: 301 } });
      expect(over).toMatchObject({ allowed: false, deniedBy: 'monthly-tokens', remaining: 300 });
      expect(over.retryAfterMs).toBeGreaterThan(0);
      await meter.record(ws, { tokens: 300, cost: 0.4 });
      const spent = await l.check(ws);
      expect(spent.allowed).toBe(false);
      expect(spent.rules.map((r) => [r.name, r.allowed, r.remaining])).toEqual([
        ['rph', true, 98],
        ['monthly-tokens', false, 0],
        ['monthly-spend', false, 0],
      ]);
    });
  });

  describe('usage meter', () => {
    it('sums tokens, cost and requests per hour, day and month, per model', async () => {
      const meter = new UsageMeter({ backend, name: fresh('m') });
      // two days ago, 13:30 UTC (well inside the retention of hour buckets)
      const day0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
      const at = day0 + 13.5 * 3_600_000;
      await meter.record('ws', { tokens: 100, cost: 0.1, model: 'gpt-4o', at });
      await meter.record('ws', { tokens: 50, cost: 0.2, model: 'mini', at: at + 60 * 60_000 });
      await meter.record('ws', { tokens: 5, cost: 0, at: new Date(day0 + 86_400_000 + 3_600_000) });
      await meter.record('other', { tokens: 999, at });
      const hour = await meter.totals('ws', { from: at, to: at + 1, by: 'hour' });
      expect(hour).toMatchObject({ tokens: 100, requests: 1, by: 'hour' });
      expect(hour.cost).toBe(0.1);
      const day = await meter.totals('ws', { from: at, to: at + 1, by: 'day' });
      expect(day).toMatchObject({ tokens: 150, requests: 2, cost: 0.3 });
      expect(day.models).toEqual({
        'gpt-4o': { tokens: 100, cost: 0.1, requests: 1 },
        mini: { tokens: 50, cost: 0.2, requests: 1 },
      });
      const months = await meter.totals('ws', { from: at, to: day0 + 2 * 86_400_000, by: 'month' });
      expect(months).toMatchObject({ tokens: 155, requests: 3, cost: 0.3 });
      const range = await meter.totals('ws', { from: day0, to: day0 + 2 * 86_400_000 });
      expect(range.by).toBe('hour');
      expect(range.buckets).toHaveLength(48);
      expect(range.tokens).toBe(155);
      expect(range.buckets.filter((b) => b.requests > 0).map((b) => b.tokens)).toEqual([
        100, 50, 5,
      ]);
    });

    it('keeps bucket keys with a TTL and checks quotas', async () => {
      const meter = new UsageMeter({
        backend,
        name: fresh('m'),
        quotas: [
          { metric: 'tokens', limit: 1000, period: 'day' },
          {
            name: 'gpt-4o-requests',
            metric: 'requests',
            limit: 2,
            period: 'hour',
            model: 'gpt-4o',
          },
        ],
      });
      const now = Date.now();
      await meter.record('ws', { tokens: 600, model: 'gpt-4o' });
      const hourKey = meter.bucketKey('ws', 'hour', now);
      expect(await backend.pttl(hourKey)).toBeGreaterThan(0);
      expect(await meter.check('ws', { tokens: 400 })).toMatchObject({ allowed: true });
      expect(await meter.check('ws', { tokens: 401 })).toMatchObject({
        allowed: false,
        deniedBy: 'tokens-day',
      });
      await meter.record('ws', { tokens: 1, model: 'gpt-4o' });
      const d = await meter.check('ws');
      expect(d).toMatchObject({ allowed: false, deniedBy: 'gpt-4o-requests' });
      expect(d.rules.map((r) => r.remaining)).toEqual([399, 0]);
      const current = await meter.totals('ws', 'day');
      expect(current).toMatchObject({ tokens: 601, requests: 2 });
    });
  });
});

function keysOf(l: RateLimiter, id: string, algorithm: string): string[] {
  const base = `rl:${l.name}:{${escapeKeyPart(id)}}:default`;
  if (algorithm === 'sliding-log') return [`${base}:sl`, `${base}:sl-seq`];
  const suffix: Record<string, string> = {
    'fixed-window': 'fw',
    'sliding-window': 'sw',
    'token-bucket': 'tb',
    gcra: 'gcra',
  };
  return [`${base}:${suffix[algorithm]}`];
}

function blockKeyOf(l: RateLimiter, id: string): string {
  return `rl:${l.name}:{${escapeKeyPart(id)}}:b`;
}
