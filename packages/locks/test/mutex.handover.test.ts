import type { Backend } from '@redbrick/core';
import { counted, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mutex, type MutexOptions } from '../src/index.js';

/*
 * 100 waiters on one mutex, spread over 4 clients, each holding it for
 * 5 ms once. Pub/sub wake-ups (and fair mode's directed hand-off) against
 * polling every 5–10 ms (redis-semaphore polls every 10 ms by default):
 * hand-over latency (release → next holder, one clock) and the round
 * trips the server received, from INFO commandstats on the throwaway
 * server / every cluster node (EVALSHA, EVAL, subscriptions; the commands
 * the scripts run inside are reported separately). On memory: the calls
 * the services made.
 */

const WAITERS = 100;
const CLIENTS = 4;
const HOLD_MS = 5;
const POLL = { retryDelayMs: 10, maxRetryDelayMs: 10 } as const;

interface Run {
  p50Ms: number;
  p90Ms: number;
  /** Requests clients sent (scripts, subscriptions). */
  commands: number;
  /** Everything the server executed, including the commands inside scripts. */
  executed: number;
  totalMs: number;
}

const CLIENT_LEVEL = /^(evalsha|eval|s?subscribe|s?unsubscribe|client\|setname)$/;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

async function serverCommands(
  world: World,
): Promise<{ commands: number; executed: number } | undefined> {
  const nodes =
    world.name === 'redis'
      ? [await world.target.server()]
      : ((await world.target.cluster())?.servers ?? []);
  if (nodes.length === 0 || nodes.some((n) => n === undefined)) return undefined;
  let commands = 0;
  let executed = 0;
  for (const node of nodes) {
    const stats = String(await node?.command('INFO', 'commandstats'));
    for (const m of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
      const name = m[1] ?? '';
      if (name === 'info' || name === 'config|resetstat') continue;
      executed += Number(m[2]);
      if (CLIENT_LEVEL.test(name)) commands += Number(m[2]);
    }
  }
  return { commands, executed };
}

async function resetStats(world: World): Promise<void> {
  const nodes =
    world.name === 'redis'
      ? [await world.target.server()]
      : ((await world.target.cluster())?.servers ?? []);
  for (const node of nodes) await node?.command('CONFIG', 'RESETSTAT');
}

async function handOver(world: World, key: string, options: Partial<MutexOptions>): Promise<Run> {
  const clients: Backend[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(i === 0 ? world.backend : await world.client());
  const tally = clients.map((c) => counted(c));
  const mutexes = tally.map(({ backend }) => new Mutex({ backend, ...options }));
  const first = mutexes[0] as Mutex;
  const holder = await first.acquire(key, { ttlMs: 30_000 });
  await resetStats(world);
  for (const t of tally) t.calls.length = 0;

  const events: Array<{ acquiredAt: number; releasedAt: number }> = [];
  const waiting = Array.from({ length: WAITERS }, (_, i) =>
    (mutexes[i % CLIENTS] as Mutex)
      .acquire(key, { waitMs: 60_000, ttlMs: 30_000 })
      .then(async (lease) => {
        const acquiredAt = performance.now();
        await new Promise((r) => setTimeout(r, HOLD_MS));
        events.push({ acquiredAt, releasedAt: performance.now() });
        await lease.release();
      }),
  );
  // Let every waiter make its first attempt and go to sleep.
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  events.push({ acquiredAt: started, releasedAt: started });
  await holder.release();
  await Promise.all(waiting);
  const totalMs = performance.now() - started;

  const gaps: number[] = [];
  for (let i = 1; i < events.length; i++) {
    gaps.push((events[i]?.acquiredAt ?? 0) - (events[i - 1]?.releasedAt ?? 0));
  }
  gaps.sort((a, b) => a - b);
  const onServer = await serverCommands(world);
  const calls = tally.reduce((n, t) => n + t.calls.length, 0);
  return {
    p50Ms: percentile(gaps, 0.5),
    p90Ms: percentile(gaps, 0.9),
    commands: onServer?.commands ?? calls,
    executed: onServer?.executed ?? calls,
    totalMs,
  };
}

describe.each(worldTargets({ prefix: 'locks' }))('hand-over to 100 waiters on $name', (t) => {
  let world: World;
  beforeEach(async () => {
    world = await t.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('pub/sub wakes the next waiter well within the polling interval, with far fewer commands', async () => {
    const pubsub = await handOver(world, 'hot-pubsub', { wakeups: 'pubsub' });
    const fair = await handOver(world, 'hot-fair', { wakeups: 'pubsub', fair: true });
    const polling = await handOver(world, 'hot-poll', { wakeups: 'poll', ...POLL });
    const line = (what: string, r: Run) =>
      `${what}: p50 ${r.p50Ms.toFixed(2)} ms, p90 ${r.p90Ms.toFixed(2)} ms, ${r.commands} requests ` +
      `(${r.executed} commands executed), ${r.totalMs.toFixed(0)} ms total`;
    console.log(
      [
        `[${t.name}] ${WAITERS} waiters on ${CLIENTS} clients, ${HOLD_MS} ms each`,
        line('  pub/sub      ', pubsub),
        line('  pub/sub fair ', fair),
        line(`  polling ${POLL.maxRetryDelayMs} ms`, polling),
      ].join('\n'),
    );
    // Hand-over: the median is well under the (shortest) polling delay.
    for (const r of [pubsub, fair]) {
      expect(r.p50Ms).toBeLessThan(POLL.maxRetryDelayMs / 2);
      // Far fewer requests than polling: at least 3× fewer.
      expect(r.commands * 3).toBeLessThan(polling.commands);
    }
    // Fair mode wakes exactly the next waiter: about two requests per hand-over.
    expect(fair.commands).toBeLessThan(WAITERS * 5);
  }, 60_000);
});
