import { type Backend, isRedbrickError } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { testTargets } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OutagePolicy, type RateLimitDecision, RateLimiter } from '../src/index.js';
import { fresh, sleep } from './helpers.js';

/*
 * Real faults on a throwaway redis-server: killed (SIGKILL) mid-run, then
 * restarted; and paused (CLIENT PAUSE). Every policy answers as documented,
 * no call hangs, and normal limiting resumes once Redis is back.
 */

const redis = testTargets().find((t) => t.name === 'redis');
const COMMAND_TIMEOUT_MS = 500;
/** Generous: a call may wait for the command timeout plus a reconnect attempt. */
const NO_HANG_MS = 4 * COMMAND_TIMEOUT_MS + 1000;

async function timed<T>(
  promise: Promise<T>,
): Promise<{ value: T | undefined; error: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { value, error: undefined, ms: performance.now() - started };
  } catch (error) {
    return { value: undefined, error, ms: performance.now() - started };
  }
}

describe.runIf(redis)('outage policies against a killed and a paused redis-server', () => {
  const target = redis as NonNullable<typeof redis>;
  let backend: Backend;
  const insuranceBackend = createMemoryBackend();

  beforeAll(async () => {
    backend = await target.make({
      redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: COMMAND_TIMEOUT_MS },
    });
  });
  afterAll(async () => {
    const server = await target.server();
    if (server && !server.running) await server.restart();
    await backend?.close();
    await insuranceBackend.close();
  });

  const make = (onUnavailable: OutagePolicy) =>
    new RateLimiter({
      backend,
      name: fresh('o'),
      algorithm: 'sliding-log',
      limit: 3,
      windowMs: 60_000,
      onUnavailable,
    });

  async function waitForBackend(limiter: RateLimiter, key: string): Promise<RateLimitDecision> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const d = await limiter.peek(key);
      if (d.source === 'backend') return d;
      if (Date.now() > deadline) throw new Error('redis did not come back');
      await sleep(100);
    }
  }

  it('killed: each policy answers, nothing hangs, limiting resumes after the restart', async () => {
    const server = await target.server();
    if (!server) throw new Error('the redis target has no throwaway server');
    const open = make('fail-open');
    const closed = make('fail-closed');
    const thrower = make('throw');
    const insured = make({ insurance: insuranceBackend });

    for (const l of [open, closed, thrower, insured]) {
      expect(await l.check('k')).toMatchObject({ allowed: true, source: 'backend', remaining: 2 });
    }

    await server.kill();

    const o = await timed(open.check('k'));
    expect(o.ms).toBeLessThan(NO_HANG_MS);
    expect(o.value).toMatchObject({ allowed: true, source: 'fail-open', reason: 'allowed' });
    expect(isRedbrickError(o.value?.error, 'BACKEND_UNAVAILABLE')).toBe(true);

    const c = await timed(closed.check('k'));
    expect(c.ms).toBeLessThan(NO_HANG_MS);
    expect(c.value).toMatchObject({
      allowed: false,
      source: 'fail-closed',
      reason: 'backend-unavailable',
      retryAfterMs: 1000,
    });

    const t = await timed(thrower.check('k'));
    expect(t.ms).toBeLessThan(NO_HANG_MS);
    expect(isRedbrickError(t.error, 'BACKEND_UNAVAILABLE')).toBe(true);

    // the insurance limiter limits for real, in this process
    const insuredDecisions: RateLimitDecision[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await timed(insured.check('k'));
      expect(r.ms).toBeLessThan(NO_HANG_MS);
      insuredDecisions.push(r.value as RateLimitDecision);
    }
    expect(insuredDecisions.map((d) => [d.source, d.allowed])).toEqual([
      ['insurance', true],
      ['insurance', true],
      ['insurance', true],
      ['insurance', false],
    ]);
    // peek, record and reward follow the policy too; block and reset throw
    expect((await insured.peek('k')).source).toBe('insurance');
    expect((await open.record('k')).source).toBe('fail-open');
    expect((await closed.reward('k')).source).toBe('fail-closed');
    const blocked = await timed(open.block('k', 1000));
    expect(isRedbrickError(blocked.error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(blocked.ms).toBeLessThan(NO_HANG_MS);

    await server.restart();

    // the server came back empty (no persistence): limits start over
    for (const l of [open, closed, thrower, insured]) {
      expect(await waitForBackend(l, 'k')).toMatchObject({ remaining: 3 });
      const admitted = [];
      for (let i = 0; i < 4; i++) admitted.push((await l.check('k')).allowed);
      expect(admitted).toEqual([true, true, true, false]);
    }
  });

  it('killed while calls are in flight: every call settles in time, none is lost', async () => {
    const server = await target.server();
    if (!server) throw new Error('the redis target has no throwaway server');
    const limiter = new RateLimiter({
      backend,
      name: fresh('o'),
      algorithm: 'gcra',
      limit: 1_000_000,
      windowMs: 1000,
      onUnavailable: 'fail-closed',
      denyCache: false,
    });
    const seen = new Map<string, number>();
    let slowest = 0;
    let stop = false;
    const lane = async () => {
      while (!stop) {
        const r = await timed(limiter.check('busy'));
        slowest = Math.max(slowest, r.ms);
        if (r.error) throw r.error;
        const source = (r.value as RateLimitDecision).source;
        seen.set(source, (seen.get(source) ?? 0) + 1);
        if (source !== 'backend') await sleep(20);
      }
    };
    const lanes = Array.from({ length: 8 }, lane);
    await sleep(200);
    await server.kill(); // while calls are on the wire
    await sleep(1000);
    await server.restart();
    await waitForBackend(limiter, 'busy');
    await sleep(200);
    stop = true;
    await Promise.all(lanes);
    expect(slowest).toBeLessThan(NO_HANG_MS);
    expect(seen.get('backend')).toBeGreaterThan(0);
    expect(seen.get('fail-closed')).toBeGreaterThan(0);
    expect([...seen.keys()].sort()).toEqual(['backend', 'fail-closed']);
  });

  it('paused: calls give up after the command timeout and the policy answers', async () => {
    const server = await target.server();
    if (!server) throw new Error('the redis target has no throwaway server');
    const closed = make('fail-closed');
    expect((await closed.check('p')).source).toBe('backend');
    await server.pause(2000);
    const c = await timed(closed.check('p'));
    expect(c.ms).toBeLessThan(NO_HANG_MS);
    expect(c.value).toMatchObject({ allowed: false, source: 'fail-closed' });
    // once the pause is over, decisions come from Redis again
    expect(await waitForBackend(closed, 'p')).toMatchObject({ source: 'backend' });
    expect((await closed.check('p')).source).toBe('backend');
  });
});
