import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { openDemo } from './support/demo.js';

// Faults need a server this test owns: the redis target (not memory; the cluster adds nothing here).
const targets = worldTargets({ prefix: 'demo' }).filter((t) => t.name === 'redis');

describe.each(targets)('when Redis is down ($name)', (t) => {
  it('answers 503 JSON instead of crashing or hanging, and recovers when Redis is back', async () => {
    const server = await t.target.server();
    if (!server) throw new Error('the redis target has no throwaway server (REDIS_URL is set)');
    await using world = await t.open();
    const backend = await world.client({ redis: { commandTimeoutMs: 500 } });
    await using demo = await openDemo({ ...world, backend });
    const ada = demo.client();
    await ada.login('acme', 'ada');
    expect((await ada.get('/api/me')).status).toBe(200);

    await server.kill();
    const started = Date.now();
    const down = await ada.get('/api/me');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      error: { code: 'BACKEND_UNAVAILABLE', message: expect.any(String) },
    });
    expect((await ada.post('/api/login', { tenant: 'acme', user: 'bob' })).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);

    await server.restart();
    // The server came back empty (no persistence): the old session is gone, a new login works.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await ada.post('/api/login', { tenant: 'acme', user: 'ada' })).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect((await ada.post('/api/checkout')).body.count).toBe(1);
  });
});
