import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { RateLimiter } from '@redbrick/ratelimit';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchContext, Op, Scenario, Sides } from '../harness.js';

const KEYS = 1000;
// High enough that no bench decision is denied: both sides do the full work of an admission.
const LIMIT = 1_000_000_000;
const WINDOW_MS = 3_600_000;

/** The plainest Redis limiter: INCR + PEXPIRE on first hit, by EVALSHA (issue 11's floor). */
const INCR_LUA = `local v = redis.call('incr', KEYS[1])
if v == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return v`;

function cycle(prefix: string): () => string {
  let i = 0;
  return () => `${prefix}:${i++ % KEYS}`;
}

/** Spot check on the same backend: a limit of 3 admits exactly 3 of 5 calls. */
async function checkDenies(backend: Backend): Promise<void> {
  const limiter = new RateLimiter({
    backend,
    algorithm: 'fixed-window',
    limit: 3,
    windowMs: WINDOW_MS,
  });
  const key = `bench:spot:${Date.now()}:${Math.random()}`;
  let allowed = 0;
  for (let i = 0; i < 5; i++) if ((await limiter.check(key)).allowed) allowed++;
  if (allowed !== 3) throw new Error(`limiter admitted ${allowed} of 5 with limit 3`);
}

async function redisSides(
  baseline: 'rate-limiter-flexible' | 'EVALSHA',
  ctx: BenchContext,
): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('ratelimit scenario without a server');
  const backend = await createRedisBackend({ type: 'redis', url });
  const limiter = new RateLimiter({
    backend,
    algorithm: 'fixed-window',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    denyCache: false,
  });
  const raw = new Redis(url, { enableAutoPipelining: false });
  const ours = cycle('rb');
  const theirs = cycle('peer');
  let other: Op;
  if (baseline === 'rate-limiter-flexible') {
    const rlf = new RateLimiterRedis({
      storeClient: raw,
      points: LIMIT,
      duration: WINDOW_MS / 1000,
      keyPrefix: 'rlf',
    });
    other = () => rlf.consume(theirs());
  } else {
    const sha = String(await raw.script('LOAD', INCR_LUA));
    other = () => raw.evalsha(sha, 1, theirs(), WINDOW_MS);
  }
  return {
    redbrick: () => limiter.check(ours()),
    baseline: other,
    check: () => checkDenies(backend),
    async teardown() {
      await backend.close();
      raw.disconnect();
    },
  };
}

/** Issue 11: decisions/s vs rate-limiter-flexible (Redis, memory) and raw EVALSHA of an INCR script. */
export const ratelimitScenarios: Scenario[] = [
  ...(['rate-limiter-flexible', 'EVALSHA'] as const).flatMap((baseline) =>
    [1, 64].map(
      (inFlight): Scenario => ({
        package: 'ratelimit',
        name: `fixed-window check ×${inFlight}`,
        backend: 'redis',
        baseline:
          baseline === 'EVALSHA' ? 'raw EVALSHA (INCR script)' : 'rate-limiter-flexible (Redis)',
        inFlight,
        target: baseline === 'EVALSHA' ? 0.8 : 1.0,
        needsRedis: true,
        setup: (ctx) => redisSides(baseline, ctx),
      }),
    ),
  ),
  {
    package: 'ratelimit',
    name: 'fixed-window check',
    backend: 'memory',
    baseline: 'rate-limiter-flexible (memory)',
    inFlight: 1,
    batch: 20,
    target: 1.0,
    async setup() {
      const backend = createMemoryBackend();
      const limiter = new RateLimiter({
        backend,
        algorithm: 'fixed-window',
        limit: LIMIT,
        windowMs: WINDOW_MS,
        denyCache: false,
      });
      const rlf = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_MS / 1000 });
      const ours = cycle('rb');
      const theirs = cycle('peer');
      return {
        redbrick: () => limiter.check(ours()),
        baseline: () => rlf.consume(theirs()),
        check: () => checkDenies(backend),
        teardown: () => backend.close(),
      };
    },
  },
];
