import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { type DemoEnv, requireSession, type Services } from '../context.js';
import type { DemoEvent } from '../events.js';

/** How often an idle event stream sends a keep-alive, in ms. */
const KEEPALIVE_MS = 15_000;

/** What the dashboard polls (stats) and streams (events). */
export function liveRoutes(app: Hono<DemoEnv>, s: Services): void {
  app.get('/api/stats', async (c) => {
    const { tenant } = requireSession(c);
    const [queue, usage, checkout, recent] = await Promise.all([
      s.documents.counts().then((counts) => ({ counts })),
      s.usage.board(tenant),
      s.checkout.count(tenant),
      s.events.recent(tenant),
    ]);
    return c.json({
      backend: s.backendLabel,
      tenant,
      streams: s.events.listeners,
      queue,
      cache: s.upstream.stats(),
      rateLimits: { ...s.limits.tally(tenant), settings: s.limits.settings },
      checkout: { count: checkout },
      usage,
      recent,
    });
  });

  app.get('/api/events', (c) => {
    const { tenant } = requireSession(c);
    return streamSSE(c, async (stream) => {
      const send = (event: DemoEvent) =>
        stream.writeSSE({ event: 'demo', data: JSON.stringify(event) }).catch(() => undefined);
      await stream.writeSSE({
        event: 'hello',
        data: JSON.stringify({ tenant, backend: s.backendLabel }),
      });
      let stopListening = () => {};
      await new Promise<void>((resolve) => {
        if (s.shutdown.aborted) return resolve();
        stopListening = s.events.listen((event) => {
          if (event.tenant === tenant) void send(event);
        });
        const keepalive = setInterval(() => {
          stream.writeSSE({ event: 'ping', data: String(Date.now()) }).catch(() => resolve());
        }, KEEPALIVE_MS);
        const done = () => {
          clearInterval(keepalive);
          resolve();
        };
        stream.onAbort(done);
        s.shutdown.addEventListener('abort', done, { once: true });
      });
      stopListening();
    });
  });
}
