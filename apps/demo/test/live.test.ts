import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { sleep, until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import type { DemoEvent } from '../src/events.js';
import { openDemo } from './support/demo.js';
import { readSse } from './support/sse.js';

describe.each(worldTargets({ prefix: 'demo' }))('live features on $name', (t) => {
  it('checkout stays correct under concurrent clicks on two instances', async () => {
    await using world = await t.open();
    await using one = await openDemo(world);
    // A second instance of the service on its own connection to the same data.
    await using two = await openDemo({ ...world, backend: await world.client() });
    const a = one.client();
    const b = two.client();
    await a.login('acme', 'ada');
    await b.login('acme', 'bob');
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).post('/api/checkout')),
    );
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const counts = replies.map((r) => r.body.count as number).sort((x, y) => x - y);
    expect(counts).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const fences = replies.map((r) => r.body.fence as number);
    expect(new Set(fences).size).toBe(12);
    expect((await a.get('/api/stats')).body.checkout.count).toBe(12);
    // Another tenant has its own counter.
    const g = one.client();
    await g.login('globex', 'carol');
    expect((await g.post('/api/checkout')).body.count).toBe(1);
  });

  it('streams the tenant’s events over SSE, and only that tenant’s', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const ada = demo.client();
    const carol = demo.client();
    await ada.login('acme', 'ada');
    await carol.login('globex', 'carol');
    const res = await demo.app.request('/api/events', { headers: { cookie: ada.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const stream = readSse(res);
    const hello = await stream.next((e) => e.event === 'hello');
    expect(JSON.parse(hello.data)).toEqual({ tenant: 'acme', backend: t.name });
    await carol.post('/api/checkout');
    await ada.post('/api/checkout');
    const event = await stream.next((e) => e.event === 'demo' && e.data.includes('"checkout"'));
    const parsed = JSON.parse(event.data) as DemoEvent;
    expect(parsed).toMatchObject({
      tenant: 'acme',
      type: 'checkout',
      data: { user: 'ada', count: 1 },
    });
    await sleep(200);
    // Nothing of the other tenant came through (carol's checkout was published first).
    const received = stream.seen();
    expect(received.every((e) => e.event !== 'demo' || JSON.parse(e.data).tenant === 'acme')).toBe(
      true,
    );
    // Recent events are kept for a reloaded page, newest first.
    const recent = (await ada.get('/api/stats')).body.recent as DemoEvent[];
    expect(recent.map((e) => e.type)).toEqual(['checkout', 'login']);
    // Shutting the demo down ends the stream (graceful shutdown does not hang on it).
    await demo.close();
    await stream.ended;
  });

  it('fires a reminder after N seconds through a trigger', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const fired: DemoEvent[] = [];
    demo.services.events.listen((e) => {
      if (e.type === 'reminder') fired.push(e);
    });
    const ada = demo.client();
    await ada.login('acme', 'ada');
    const started = Date.now();
    const r = await ada.post('/api/reminders', { text: 'stand up', inSeconds: 1 });
    expect(r.status).toBe(202);
    const deadline = Date.now() + 10_000;
    while (fired.length === 0 && Date.now() < deadline) {
      await sleep(50);
    }
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ tenant: 'acme', data: { user: 'ada', text: 'stand up' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await sleep(300);
    expect(fired).toHaveLength(1);
  });

  it('meters usage per workspace with the remaining monthly budget', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const ada = demo.client();
    await ada.login('globex', 'ada'); // globex: 5,000 tokens a month per workspace
    expect((await ada.get('/api/usage')).body).toEqual({ workspaces: [] });
    await demo.services.usage.record('globex', 'research', 1200);
    await demo.services.usage.record('globex', 'research', 300);
    await demo.services.usage.record('globex', 'support', 6000);
    await demo.services.usage.record('acme', 'research', 999);
    const usage = (await ada.get('/api/usage')).body.workspaces;
    expect(usage).toEqual([
      {
        workspace: 'research',
        tokens: 1500,
        cost: 0.003,
        requests: 2,
        budget: 5000,
        remaining: 3500,
      },
      { workspace: 'support', tokens: 6000, cost: 0.012, requests: 1, budget: 5000, remaining: 0 },
    ]);
  });

  it('a client that goes away stops its event stream', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const server = serve({ fetch: demo.app.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      const { port } = server.address() as AddressInfo;
      const ada = demo.client();
      await ada.login('acme', 'ada');
      const gone = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/api/events`, {
        headers: { cookie: ada.cookie },
        signal: gone.signal,
      });
      await readSse(res).next((e) => e.event === 'hello');
      expect((await ada.get('/api/stats')).body.streams).toBe(1);
      gone.abort();
      await until('the stream to stop', () => demo.services.events.listeners === 0, 5_000);
      expect((await ada.get('/api/stats')).body.streams).toBe(0);
    } finally {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
    }
  });
});
