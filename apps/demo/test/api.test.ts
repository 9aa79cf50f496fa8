import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { openDemo } from './support/demo.js';

describe.each(worldTargets({ prefix: 'demo' }))('HTTP API on $name', (t) => {
  describe('bad requests get 4xx JSON errors', () => {
    it('invalid JSON, missing fields, unknown tenant, no session, unknown route', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world);
      const c = demo.client();
      const cases: Array<[Promise<{ status: number; body: unknown }>, number, string]> = [
        [c.call('POST', '/api/login', undefined, '{"tenant": "acme", '), 400, 'INVALID_JSON'],
        [c.call('POST', '/api/login'), 400, 'VALIDATION'],
        [c.post('/api/login', { tenant: 'acme' }), 400, 'VALIDATION'],
        [c.post('/api/login', { tenant: 'acme', user: 'no spaces allowed' }), 400, 'VALIDATION'],
        [c.post('/api/login', ['acme', 'ada']), 400, 'VALIDATION'],
        [c.post('/api/login', { tenant: 'initech', user: 'ada' }), 404, 'UNKNOWN_TENANT'],
        [c.get('/api/me'), 401, 'UNAUTHENTICATED'],
        [c.post('/api/documents', { title: 'x', text: 'y' }), 401, 'UNAUTHENTICATED'],
        [c.get('/api/nothing-here'), 404, 'NOT_FOUND'],
      ];
      for (const [reply, status, code] of cases) {
        const r = await reply;
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body).toMatchObject({ error: { code, message: expect.any(String) } });
      }
      const missing = await c.post('/api/login', { tenant: 'acme' });
      expect(missing.body.error.message).toContain('user');
      const unknown = await c.post('/api/login', { tenant: 'initech', user: 'ada' });
      expect(unknown.body.error.message).toContain('initech');

      await c.login('acme', 'ada');
      const more: Array<[Promise<{ status: number; body: unknown }>, number, string]> = [
        [c.call('POST', '/api/documents', undefined, 'not json'), 400, 'INVALID_JSON'],
        [c.post('/api/documents', { title: 'no text' }), 400, 'VALIDATION'],
        [c.post('/api/reminders', { text: 'x', inSeconds: -1 }), 400, 'VALIDATION'],
        [c.put('/api/profile', { displayName: '' }), 400, 'VALIDATION'],
        [c.put('/api/state/bad%20name', { a: 1 }), 400, 'VALIDATION'],
        [c.get('/api/answers/no%20spaces'), 400, 'VALIDATION'],
      ];
      for (const [reply, status, code] of more) {
        const r = await reply;
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body).toMatchObject({ error: { code, message: expect.any(String) } });
      }
      // The service is still up and serving.
      expect((await c.get('/api/me')).status).toBe(200);
    });
  });

  describe('sessions and tenant repos', () => {
    it('logs in with a session cookie, keeps profile, handler and shared state, logs out', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world);
      const c = demo.client();
      const login = await c.post('/api/login', { tenant: 'acme', user: 'ada', displayName: 'Ada' });
      expect(login.status).toBe(200);
      expect(login.headers.get('set-cookie')).toMatch(
        /^rb_session=acme\.[A-Za-z0-9_-]+; .*HttpOnly/,
      );

      expect((await c.put('/api/profile', { displayName: 'Ada L.' })).status).toBe(200);
      expect((await c.put('/api/state/preferences', { theme: 'dark', fontSize: 14 })).status).toBe(
        200,
      );
      await demo.services.profiles.documentDone('acme', 'ada', 'Report', 321);

      const me = await c.get('/api/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        tenant: 'acme',
        user: 'ada',
        displayName: 'Ada L.',
        profile: { displayName: 'Ada L.', logins: 1, documents: 1 },
        handlerState: { documents: 1, lastTitle: 'Report', lastTokens: 321 },
        sharedStates: { preferences: { theme: 'dark', fontSize: 14 } },
      });

      // A second login of the same user: another session, logins counted.
      const other = demo.client();
      await other.login('acme', 'ada');
      expect((await other.get('/api/me')).body.profile.logins).toBe(2);

      // The same user id in another tenant is another person.
      const globex = demo.client();
      await globex.login('globex', 'ada');
      const globexMe = await globex.get('/api/me');
      expect(globexMe.body.profile).toMatchObject({ displayName: 'ada', logins: 1 });
      expect(globexMe.body.sharedStates).toEqual({});

      expect((await c.post('/api/logout')).status).toBe(200);
      expect((await c.get('/api/me')).status).toBe(401);
      expect((await other.get('/api/me')).status).toBe(200);
      // A forged cookie for another tenant's session id gets nothing.
      const forged = demo.client();
      forged.cookie = other.cookie.replace('rb_session=acme.', 'rb_session=globex.');
      expect((await forged.get('/api/me')).status).toBe(401);
    });
  });

  describe('rate limits', () => {
    it('limits each user, answers 429 with RateLimit and Retry-After headers', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world, {
        rateLimits: { perUser: 5, perTenant: 100, windowMs: 60_000 },
      });
      const ada = demo.client();
      await ada.login('acme', 'ada'); // login is limited per address, not per user
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await ada.get('/api/ping');
        statuses.push(r.status);
        expect(r.headers.get('ratelimit-policy')).toBe('"user";q=5;w=60');
        expect(r.headers.get('ratelimit')).toMatch(/^"user";r=\d+;t=\d+$/);
        if (r.status === 429) {
          expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
          expect(r.body).toMatchObject({ error: { code: 'RATE_LIMITED' }, deniedBy: 'user' });
        }
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      // Another user of the tenant is not affected.
      const bob = demo.client();
      await bob.login('acme', 'bob');
      expect((await bob.get('/api/ping')).status).toBe(200);
      // Dashboard polling has its own budget.
      expect((await ada.get('/api/stats')).status).toBe(200);
      const stats = (await ada.get('/api/stats')).body;
      expect(stats.rateLimits).toMatchObject({ allowed: 6, denied: 2 });
      expect(stats.rateLimits.timeline).toHaveLength(60);
    });

    it('limits a tenant across its users, without charging the user for the denial', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world, {
        rateLimits: { perUser: 4, perTenant: 6, windowMs: 60_000 },
      });
      const ada = demo.client();
      const bob = demo.client();
      await ada.login('acme', 'ada');
      await bob.login('acme', 'bob');
      for (let i = 0; i < 3; i++) expect((await ada.get('/api/ping')).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await bob.get('/api/ping')).status).toBe(200);
      const denied = await ada.get('/api/ping');
      expect(denied.status).toBe(429);
      expect(denied.body.deniedBy).toBe('tenant');
      expect(denied.headers.get('ratelimit-policy')).toBe('"tenant";q=6;w=60');
      // Other tenants have their own budget.
      const globex = demo.client();
      await globex.login('globex', 'carol');
      expect((await globex.get('/api/ping')).status).toBe(200);
    });
  });

  describe('dashboard', () => {
    it('has only live panels: no "package not available" fallbacks in the page or the stats', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world);
      const page = await (await demo.app.request('/')).text();
      for (const id of ['documents-panel', 'ratelimit-panel', 'cache-panel', 'checkout-panel']) {
        expect(page).toContain(`id="${id}"`);
      }
      expect(page).not.toMatch(/unavailable|\.available|\.reason/);
      const c = demo.client();
      await c.login('acme', 'ada');
      const stats = (await c.get('/api/stats')).body;
      expect(Object.keys(stats.queue)).toEqual(['counts']);
      expect(stats.queue.counts).toMatchObject({ waiting: 0, failed: 0 });
      expect(stats.cache).not.toHaveProperty('available');
      expect(stats.cache).not.toHaveProperty('reason');
      expect(stats.cache).toMatchObject({ hits: 0, upstreamCalls: 0 });
    });
  });

  describe('health and metrics (@redbrick/cli)', () => {
    it('serves /healthz and Prometheus /metrics with the demo counters', async () => {
      await using world = await t.open();
      await using demo = await openDemo(world);
      const c = demo.client();
      const healthz = await c.get('/healthz');
      expect(healthz.status).toBe(200);
      expect(healthz.body).toMatchObject({ ok: true, backend: t.name, reasons: [] });
      await c.login('acme', 'ada');
      for (let i = 0; i < 3; i++) await c.get('/api/ping');
      const res = await demo.app.request('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toMatch(/^redbrick_demo_up 1$/m);
      expect(text).toMatch(/^redbrick_demo_ping_p50_seconds [\d.e-]+$/m);
      expect(text).toContain(
        'redbrick_demo_package_counter{package="ratelimit",counter="allowed"} 3',
      );
      expect(text).toContain(
        'redbrick_demo_package_counter{package="ratelimit",counter="denied"} 0',
      );
    });
  });
});
