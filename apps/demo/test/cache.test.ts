import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { openDemo } from './support/demo.js';

describe.each(worldTargets({ prefix: 'demo' }))('slow upstream behind the cache on $name', (t) => {
  it('calls the upstream once for ten concurrent requests, then answers from the cache', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const ada = demo.client();
    await ada.login('acme', 'ada');
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => ada.get('/api/answers/gpus')),
    );
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(replies.map((r) => JSON.stringify(r.body.value))).size).toBe(1);
    expect(replies.filter((r) => r.body.fromUpstream)).toHaveLength(1);
    const again = await ada.get('/api/answers/gpus');
    expect(again.body).toMatchObject({ fromUpstream: false, value: replies[0]?.body.value });
    expect(again.body.ms).toBeLessThan(250);
    const stats = (await ada.get('/api/stats')).body.cache;
    expect(stats).toMatchObject({ upstreamCalls: 1 });
    expect(stats.hits).toBeGreaterThanOrEqual(1);
    expect(stats.misses).toBeGreaterThanOrEqual(1);
    expect(stats.hitRate).toBeGreaterThan(0);
    // Another tenant asking the same topic has its own entry.
    const carol = demo.client();
    await carol.login('globex', 'carol');
    expect((await carol.get('/api/answers/gpus')).body.fromUpstream).toBe(true);
  });

  it('two instances asking at once call the upstream once between them', async () => {
    await using world = await t.open();
    await using one = await openDemo(world);
    await using two = await openDemo({ ...world, backend: await world.client() });
    const a = one.client();
    const b = two.client();
    await a.login('acme', 'ada');
    await b.login('acme', 'bob');
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).get('/api/answers/embeddings')),
    );
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(replies.map((r) => JSON.stringify(r.body.value))).size).toBe(1);
    const calls =
      one.services.upstream.stats().upstreamCalls + two.services.upstream.stats().upstreamCalls;
    expect(calls).toBe(1);
  });
});
