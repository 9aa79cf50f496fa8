import { compareAndSetScript } from '@redbrick/core';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import type { BenchContext, Scenario, Sides } from '../harness.js';

const KEYS = 1000;
const keys = Array.from({ length: KEYS }, (_, i) => `bench:rb:${i}`);
const value = 'v'.repeat(64);

type Work = 'GET' | 'SET' | 'script (compare-and-set)';

async function sides(work: Work, ctx: BenchContext): Promise<Sides> {
  const url = ctx.redisUrl;
  if (!url) throw new Error('redis scenario without a server');
  const backend = await createRedisBackend({ type: 'redis', url });
  const raw = new Redis(url, { lazyConnect: false, enableAutoPipelining: false });
  for (const k of keys) await raw.set(k, value);
  let i = 0;
  let j = 0;
  const next = () => keys[i++ % KEYS] as string;
  const nextRaw = () => keys[j++ % KEYS] as string;
  const teardown = async () => {
    await backend.close();
    raw.disconnect();
  };
  switch (work) {
    case 'GET':
      return {
        redbrick: () => backend.get(next()),
        baseline: () => raw.get(nextRaw()),
        async check() {
          if ((await backend.get(keys[0] as string)) !== value)
            throw new Error('GET returned a wrong value');
        },
        teardown,
      };
    case 'SET':
      return {
        redbrick: () => backend.set(next(), value),
        baseline: () => raw.set(nextRaw(), value),
        teardown,
      };
    case 'script (compare-and-set)':
      // Both sides run the same Lua by EVALSHA; the value never matches, so nothing is written.
      return {
        redbrick: () => backend.run(compareAndSetScript, [next()], ['v', 'nope', 'x', '']),
        baseline: async () => {
          try {
            return await raw.evalsha(compareAndSetScript.sha1, 1, nextRaw(), 'v', 'nope', 'x', '');
          } catch {
            await raw.script('LOAD', compareAndSetScript.lua);
            return null;
          }
        },
        async check() {
          if ((await backend.get(keys[3] as string)) !== value)
            throw new Error('compare-and-set wrote on a mismatch');
        },
        teardown,
      };
  }
}

/** redis-backend next to raw ioredis sending the same commands (issue goal ≥ 0.95×). */
export const redisBackendScenarios: Scenario[] = (
  ['GET', 'SET', 'script (compare-and-set)'] as const
).flatMap((work) =>
  [1, 64].map(
    (inFlight): Scenario => ({
      package: 'redis-backend',
      name: `${work} ×${inFlight}`,
      backend: 'redis',
      baseline: 'ioredis',
      inFlight,
      target: 0.95,
      needsRedis: true,
      setup: (ctx) => sides(work, ctx),
    }),
  ),
);
