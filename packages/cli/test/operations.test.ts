import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import {
  cleanup,
  health,
  metricsRegistry,
  renderMetrics,
  setTtl,
  stats,
  watch,
} from '../src/index.js';

describe.each(worldTargets({ prefix: 'cli' }))('operations on $name', (wt) => {
  it('health reports latency, memory, keys, clients, role and notifications', async () => {
    await using w = await wt.open();
    await w.backend.set('k', 'v');
    const report = await health(w.backend, { samples: 7 });
    expect(report.ok).toBe(true);
    expect(report.reasons).toEqual([]);
    expect(report.latency.samples).toBe(7);
    expect(report.latency.p50).toBeGreaterThanOrEqual(0);
    expect(report.latency.p99).toBeGreaterThanOrEqual(report.latency.p50);
    expect(report.memory.usedBytes).toBeGreaterThan(0);
    expect(report.connectedClients).toBeGreaterThanOrEqual(1);
    expect(report.role).toBe('master');
    expect(typeof report.keyspaceEvents).toBe('string');
    expect(report.backend).toBe(w.backend.kind);
  });

  it('health is unhealthy when p99 latency is over the bound', async () => {
    await using w = await wt.open();
    const report = await health(w.backend, { samples: 3, maxLatencyMs: 0.000001 });
    expect(report.ok).toBe(false);
    expect(report.reasons[0]).toMatch(/^PING p99 .* ms is at or above 0.000001 ms$/);
  });

  it('stats counts keys per namespace with types, sampled memory and TTL buckets', async () => {
    await using w = await wt.open();
    for (let i = 0; i < 30; i++)
      await w.backend.set(`cache:${i}`, 'x'.repeat(100), { ttlMs: 30_000 });
    for (let i = 0; i < 5; i++) await w.backend.hset(`session:${i}`, { user: 'u' });
    await w.backend.rpush('queue:jobs', 'a');
    await w.backend.pexpire('session:0', 2 * 86_400_000);
    const report = await stats(w.backend, { sampleSize: 10 });
    expect(report.keys).toBe(36);
    const byName = Object.fromEntries(report.namespaces.map((n) => [n.namespace, n]));
    expect(byName.cache).toMatchObject({ keys: 30, types: { string: 30 }, sampled: 10 });
    expect(byName.cache?.ttl).toEqual({
      none: 0,
      underMinute: 30,
      underHour: 0,
      underDay: 0,
      overDay: 0,
    });
    expect(byName.cache?.estimatedBytes).toBeGreaterThanOrEqual(30 * 100);
    expect(byName.session).toMatchObject({ keys: 5, types: { hash: 5 } });
    expect(byName.session?.ttl).toMatchObject({ none: 4, overDay: 1 });
    expect(report.ttl.none).toBe(5);
    const only = await stats(w.backend, { match: 'session:*' });
    expect(only.keys).toBe(5);
  });

  it('setTtl sets and removes TTLs of matching keys only', async () => {
    await using w = await wt.open();
    await w.backend.set('a:1', 'x');
    await w.backend.set('a:2', 'x');
    await w.backend.set('b:1', 'x');
    expect(await setTtl(w.backend, { match: 'a:*', seconds: 100 })).toEqual({
      matched: 2,
      changed: 2,
    });
    expect(await w.backend.pttl('a:1')).toBeGreaterThan(90_000);
    expect(await w.backend.pttl('b:1')).toBe(-1);
    expect(await setTtl(w.backend, { match: 'a:*', persist: true })).toEqual({
      matched: 2,
      changed: 2,
    });
    expect(await w.backend.pttl('a:2')).toBe(-1);
    await expect(setTtl(w.backend, { match: 'a:*', seconds: 0 })).rejects.toThrow(
      '[redbrick/cli] seconds must be a positive integer (got 0)',
    );
  });

  it('cleanup lists on a dry run, then fixes stale locks, expired leases, orphans and missing TTLs', async () => {
    await using w = await wt.open();
    const b = w.backend;
    await b.set('lock:{report}', 'token'); // no lease TTL: stale
    await b.set('lock:{report}:fence', '7'); // fencing counter: never touched
    await b.set('lock:{live}', 'token', { ttlMs: 60_000 });
    const now = await b.time();
    await b.zadd('semaphore:{pool}', [
      { member: 'gone', score: now - 1000 },
      { member: 'live', score: now + 60_000 },
    ]);
    await b.set('session:1', 's');
    await b.sadd('sessions:index', 'session:1', 'session:2');
    await b.set('cache:x', 'no ttl');
    const options = {
      keyIndexes: ['sessions:index'],
      requireTtl: [{ match: 'cache:*', seconds: 600 }],
    };
    const dry = await cleanup(b, { ...options, dryRun: true });
    expect(dry.actions.map((a) => [a.rule, a.key])).toEqual([
      ['stale-lock', 'lock:{report}'],
      ['expired-index-entries', 'semaphore:{pool}'],
      ['orphaned-index-entries', 'sessions:index'],
      ['missing-ttl', 'cache:x'],
    ]);
    expect(await b.exists('lock:{report}')).toBe(1);
    expect(await b.pttl('cache:x')).toBe(-1);

    const done = await cleanup(b, options);
    expect(done.actions).toHaveLength(4);
    expect(await b.exists('lock:{report}')).toBe(0);
    expect(await b.get('lock:{report}:fence')).toBe('7');
    expect(await b.get('lock:{live}')).toBe('token');
    expect(await b.zrangeByScore('semaphore:{pool}', '-inf', '+inf')).toEqual(['live']);
    expect(await b.smembers('sessions:index')).toEqual(['session:1']);
    expect(await b.pttl('cache:x')).toBeGreaterThan(590_000);
    expect((await cleanup(b, options)).actions).toEqual([]);
  });

  it('watch samples the backend', async () => {
    await using w = await wt.open();
    await w.backend.set('k', 'v');
    const samples = [];
    for await (const s of watch(w.backend, { intervalMs: 50, count: 3 })) samples.push(s);
    expect(samples).toHaveLength(3);
    for (const s of samples) {
      expect(s.error).toBeUndefined();
      expect(s.latencyMs).toBeGreaterThanOrEqual(0);
      expect(s.usedMemoryBytes).toBeGreaterThan(0);
    }
  });

  it('metrics expose health figures and registered package counters in Prometheus text', async () => {
    await using w = await wt.open();
    const metrics = metricsRegistry(w.backend);
    let hits = 3;
    metrics.registerCounters('cache', () => ({ hits, misses: 1 }));
    metrics.registerCounters('ratelimit', async () => ({ allowed: 10, denied: 2 }));
    const { contentType, body } = await renderMetrics(metrics);
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('# TYPE redbrick_up gauge');
    expect(body).toMatch(/^redbrick_up 1$/m);
    expect(body).toMatch(/^redbrick_ping_p99_seconds [0-9.e-]+$/m);
    expect(body).toMatch(/^redbrick_memory_used_bytes [0-9]+$/m);
    expect(body).toContain('redbrick_package_counter{package="cache",counter="hits"} 3');
    expect(body).toContain('redbrick_package_counter{package="ratelimit",counter="denied"} 2');
    hits = 4;
    metrics.unregisterCounters('ratelimit');
    const again = (await renderMetrics(metrics.registry)).body;
    expect(again).toContain('redbrick_package_counter{package="cache",counter="hits"} 4');
    expect(again).not.toContain('ratelimit');
  });
});
