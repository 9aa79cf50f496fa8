import { health, metricsRegistry, renderMetrics } from '@redbrick/cli';
import type { Backend } from '@redbrick/core';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { Auth, SESSION_COOKIE } from './auth.js';
import { Checkout } from './checkout.js';
import type { DemoEnv, Services } from './context.js';
import { dashboardPage } from './dashboard-page.js';
import { DEFAULT_DOCUMENTS, type DocumentSettings, Documents } from './documents.js';
import { type ErrorBody, errorResponse } from './errors.js';
import { EventBus } from './events.js';
import { Profiles } from './profiles.js';
import { type RateLimitSettings, type Requester, RequestLimits } from './rate-limits.js';
import { Reminders } from './reminders.js';
import { accountRoutes } from './routes/account.js';
import { liveRoutes } from './routes/live.js';
import { workRoutes } from './routes/work.js';
import { DEFAULT_UPSTREAM, Upstream, type UpstreamSettings } from './upstream.js';
import { UsageBoard } from './usage.js';

/** Options of {@link createDemo}. */
export interface DemoOptions {
  /** Where everything lives. The demo scopes its keys under `demo`; it does not close the backend. */
  backend: Backend;
  /** Which backend runs, shown on the dashboard. @default 'memory' */
  backendLabel?: string;
  /** Rate limits of the API. */
  rateLimits?: Partial<RateLimitSettings>;
  /** The slow upstream and its cache. */
  upstream?: Partial<UpstreamSettings>;
  /** The document pipeline. */
  documents?: Partial<DocumentSettings>;
  /** Idle lifetime of a session, in ms. @default 3_600_000 (1 hour) */
  sessionTtlMs?: number;
  /** How often reminders are polled, in ms. @default 200 */
  reminderPollMs?: number;
}

/** A built demo: the Hono app and what it runs in the background. */
export interface Demo {
  app: Hono<DemoEnv>;
  services: Services;
  /** Ends event streams, lets running jobs finish, stops the workers. Idempotent. */
  close(): Promise<void>;
}

/** Requests that count against the polling budget rather than the API budget. */
const POLL_ROUTES = new Set(['/api/stats', '/api/events']);

/**
 * Builds the demo on a backend: every service, the API routes and the
 * dashboard page. Testable without listening (`demo.app.request(...)`).
 */
export async function createDemo(options: DemoOptions): Promise<Demo> {
  const backend = options.backend.scoped('demo');
  const shutdown = new AbortController();
  const events = await EventBus.open(backend);
  const profiles = new Profiles(backend);
  const usage = new UsageBoard(backend);
  const services: Services = {
    backendLabel: options.backendLabel ?? 'memory',
    auth: new Auth(backend, profiles, options.sessionTtlMs ?? 3_600_000),
    profiles,
    limits: new RequestLimits(backend, options.rateLimits),
    events,
    checkout: new Checkout(backend),
    usage,
    reminders: new Reminders(backend, events, options.reminderPollMs),
    upstream: new Upstream(backend, { ...DEFAULT_UPSTREAM, ...options.upstream }),
    documents: new Documents(
      backend,
      { ...DEFAULT_DOCUMENTS, ...options.documents },
      { events, usage, profiles },
    ),
    shutdown: shutdown.signal,
  };

  const app = new Hono<DemoEnv>();
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) =>
    c.json<ErrorBody>(
      { error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } },
      404,
    ),
  );

  app.get('/', (c) => c.html(dashboardPage(services.backendLabel)));
  // Health and Prometheus metrics from @redbrick/cli, on the backend as given (not rate limited).
  app.get('/healthz', async (c) => {
    const report = await health(options.backend, { samples: 1 });
    return c.json(
      {
        ok: report.ok,
        backend: services.backendLabel,
        reasons: report.reasons,
        warnings: report.warnings,
        pingMs: report.latency.p50,
      },
      report.ok ? 200 : 503,
    );
  });
  const metrics = metricsRegistry(options.backend, { prefix: 'redbrick_demo_', samples: 1 });
  metrics.registerCounters('ratelimit', () => services.limits.totals());
  metrics.registerCounters('pubsub', () => ({ event_streams: events.listeners }));
  metrics.registerCounters('cache', (): Record<string, number> => {
    const { hits, misses, hitRate, staleServed, upstreamCalls } = services.upstream.stats();
    return {
      hits,
      misses,
      hit_rate: hitRate,
      stale_served: staleServed,
      upstream_calls: upstreamCalls,
    };
  });
  metrics.registerCounters(
    'queue',
    async (): Promise<Record<string, number>> => ({ ...(await services.documents.counts()) }),
  );
  app.get('/metrics', async (c) => {
    const { contentType, body } = await renderMetrics(metrics);
    return c.body(body, 200, { 'content-type': contentType });
  });

  app.use('/api/*', async (c, next) => {
    const session = await services.auth.resolve(getCookie(c, SESSION_COOKIE));
    c.set('session', session);
    const poll = POLL_ROUTES.has(c.req.path);
    const who: Requester = session
      ? { kind: 'user', tenant: session.tenant, user: session.user }
      : { kind: 'address', address: clientAddress(c.env) };
    const outcome =
      poll && session
        ? await services.limits.checkPoll(session.tenant, session.user)
        : await services.limits.check(who);
    for (const [name, value] of Object.entries(outcome.headers)) c.header(name, value);
    if (!outcome.allowed) {
      const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
      return c.json(
        {
          error: {
            code: 'RATE_LIMITED',
            message: `rate limit "${outcome.deniedBy ?? 'api'}" exceeded: retry in ${seconds} s`,
          },
          deniedBy: outcome.deniedBy ?? null,
          retryAfterMs: Number.isFinite(outcome.retryAfterMs) ? outcome.retryAfterMs : null,
        },
        429,
      );
    }
    await next();
  });

  accountRoutes(app, services);
  workRoutes(app, services);
  liveRoutes(app, services);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      shutdown.abort();
      const results = await Promise.allSettled([
        services.documents.close(),
        services.reminders.close(),
        services.upstream.close(),
      ]);
      await events.close();
      for (const result of results) {
        if (result.status === 'rejected') console.error('[demo] close failed', result.reason);
      }
    })();
    return closing;
  };
  return { app, services, close };
}

/** The client address from the Node server bindings (`unknown` under `app.request`). */
function clientAddress(env: unknown): string {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}
