import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type FastifyReplyLike,
  type HonoContextLike,
  type RateLimitDecision,
  RateLimiter,
  rateLimitExpress,
  rateLimitFastify,
  rateLimitHeaders,
  rateLimitHono,
  rateLimitNode,
} from '../src/index.js';
import { fresh } from './helpers.js';

/*
 * The middlewares against a real Node `http` server and real HTTP requests.
 * Express middleware gets Node's req/res (which Express extends); Fastify
 * and Hono get thin adapters over Node's req/res that expose exactly the
 * structural surface the middleware declares — no framework installed.
 */

const backend = createMemoryBackend();
afterAll(async () => {
  await backend.close();
});

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<string> {
  server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

const limiter = () =>
  new RateLimiter({
    backend,
    name: fresh('http'),
    algorithm: 'fixed-window',
    limit: 2,
    windowMs: 60_000,
  });

async function hit(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function expectAllowed(r: Awaited<ReturnType<typeof hit>>, remaining: number) {
  expect(r.status).toBe(200);
  expect(r.body).toBe('ok');
  expect(r.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60');
  expect(r.headers.get('ratelimit')).toBe(`"default";r=${remaining};t=60`);
  expect(r.headers.get('retry-after')).toBeNull();
}

function expectDenied(r: Awaited<ReturnType<typeof hit>>) {
  expect(r.status).toBe(429);
  expect(r.headers.get('retry-after')).toBe('60');
  expect(r.headers.get('ratelimit')).toBe('"default";r=0;t=60');
  expect(JSON.parse(r.body)).toMatchObject({ error: 'Too Many Requests', reason: 'limited' });
}

describe('Node http', () => {
  it('limits by client address and sets the IETF headers', async () => {
    const limit = rateLimitNode(limiter());
    const url = await serve(async (req, res) => {
      if (!(await limit(req, res))) return;
      res.end('ok');
    });
    expectAllowed(await hit(url), 1);
    expectAllowed(await hit(url), 0);
    expectDenied(await hit(url));
  });

  it('takes a key function, a cost function and skip', async () => {
    const limit = rateLimitNode(limiter(), {
      key: (req) => (req.headers['x-api-key'] as string | undefined) ?? undefined,
      cost: (req) => (req.headers['x-heavy'] ? 2 : 1),
      skip: (req) => req.headers['x-health'] === '1',
      headers: false,
    });
    const url = await serve(async (req, res) => {
      if (!(await limit(req, res))) return;
      res.end('ok');
    });
    const heavy = await hit(url, { 'x-api-key': 'a', 'x-heavy': '1' });
    expect(heavy.status).toBe(200);
    expect(heavy.headers.get('ratelimit')).toBeNull();
    expect((await hit(url, { 'x-api-key': 'a' })).status).toBe(429);
    expect((await hit(url, { 'x-api-key': 'b' })).status).toBe(200);
    expect((await hit(url, { 'x-api-key': 'a', 'x-health': '1' })).status).toBe(200);
    // no key: not limited
    for (let i = 0; i < 3; i++) expect((await hit(url)).status).toBe(200);
  });
});

describe('Express', () => {
  it('calls next when allowed and answers 429 otherwise', async () => {
    const mw = rateLimitExpress(limiter(), {
      body: (d) => `slow down, retry in ${Math.ceil(d.retryAfterMs / 1000)} s`,
    });
    let nexts = 0;
    const url = await serve((req, res) => {
      mw(req, res, (error?: unknown) => {
        nexts += 1;
        if (error) throw error;
        res.end('ok');
      });
    });
    expectAllowed(await hit(url), 1);
    expectAllowed(await hit(url), 0);
    const denied = await hit(url);
    expect(denied.status).toBe(429);
    expect(denied.body).toBe('slow down, retry in 60 s');
    expect(denied.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(nexts).toBe(2);
  });

  it('passes limiter errors to next(error)', async () => {
    const closed = createMemoryBackend();
    await closed.close();
    const mw = rateLimitExpress(
      new RateLimiter({ backend: closed, limit: 1, windowMs: 1000, onUnavailable: 'throw' }),
    );
    const seen: unknown[] = [];
    const url = await serve((req, res) => {
      mw(req, res, (error?: unknown) => {
        seen.push(error);
        res.statusCode = 503;
        res.end();
      });
    });
    expect((await hit(url)).status).toBe(503);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ code: 'CLOSED' });
  });
});

/** A Fastify-shaped reply over Node's response. */
function fastifyReply(res: ServerResponse): FastifyReplyLike & { sent: boolean } {
  const reply = {
    sent: false,
    code(status: number) {
      res.statusCode = status;
      return reply;
    },
    header(name: string, value: string) {
      res.setHeader(name, value);
      return reply;
    },
    send(payload?: unknown) {
      reply.sent = true;
      res.setHeader('content-type', 'application/json');
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      return reply;
    },
  };
  return reply;
}

describe('Fastify', () => {
  it('is an onRequest hook that replies 429 on a denial', async () => {
    const hook = rateLimitFastify(limiter());
    const url = await serve(async (req, res) => {
      const reply = fastifyReply(res);
      const request = { ip: req.socket.remoteAddress, headers: req.headers };
      const returned = await hook(request, reply);
      if (reply.sent) {
        expect(returned).toBe(reply);
        return;
      }
      res.end('ok');
    });
    expectAllowed(await hit(url), 1);
    expectAllowed(await hit(url), 0);
    expectDenied(await hit(url));
  });
});

/** A Hono-shaped context over Node's request and response. */
function honoContext(req: IncomingMessage, res: ServerResponse): HonoContextLike {
  return {
    req: { header: (name) => req.headers[name.toLowerCase()] as string | undefined },
    header: (name, value) => {
      res.setHeader(name, value);
    },
    json: (object, status = 200) => Response.json(object, { status }),
  };
}

describe('Hono', () => {
  it('runs next when allowed and returns the 429 response otherwise', async () => {
    const mw = rateLimitHono(limiter(), { key: (c) => c.req.header('x-user') });
    const url = await serve(async (req, res) => {
      const response = await mw(honoContext(req, res), async () => {
        res.end('ok');
      });
      if (response) {
        res.statusCode = response.status;
        res.end(await response.text());
      }
    });
    expectAllowed(await hit(url, { 'x-user': 'u1' }), 1);
    expectAllowed(await hit(url, { 'x-user': 'u1' }), 0);
    expectDenied(await hit(url, { 'x-user': 'u1' }));
    expectAllowed(await hit(url, { 'x-user': 'u2' }), 1);
  });
});

describe('rateLimitHeaders', () => {
  const base: RateLimitDecision = {
    allowed: true,
    limit: 10,
    remaining: 7,
    resetAt: 1_000_500,
    retryAfterMs: 0,
    reason: 'allowed',
    deniedBy: undefined,
    source: 'backend',
    cost: 1,
    now: 1_000_000,
    rules: [
      {
        name: 'second',
        kind: 'rate',
        algorithm: 'gcra',
        allowed: true,
        limit: 10,
        remaining: 7,
        resetAt: 1_000_500,
        retryAfterMs: 0,
        windowMs: 1000,
      },
      {
        name: 'month-spend',
        kind: 'budget',
        algorithm: 'budget',
        allowed: true,
        limit: 12.5,
        remaining: 3.25,
        resetAt: 2_000_000,
        retryAfterMs: 0,
        windowMs: undefined,
      },
      {
        name: 'tokens',
        kind: 'budget',
        algorithm: 'budget',
        allowed: true,
        limit: 1000,
        remaining: 10,
        resetAt: 1_086_400,
        retryAfterMs: 0,
        windowMs: undefined,
      },
    ],
  };

  it('lists every whole-number rule, with its window when it has one', () => {
    expect(rateLimitHeaders(base)).toEqual({
      'RateLimit-Policy': '"second";q=10;w=1, "tokens";q=1000',
      RateLimit: '"second";r=7;t=1, "tokens";r=10;t=87',
    });
    expect(rateLimitHeaders(base, { policy: false })).not.toHaveProperty('RateLimit-Policy');
  });

  it('adds Retry-After (whole seconds, at least 1) only to retryable denials', () => {
    const denied = { ...base, allowed: false, reason: 'limited' as const, retryAfterMs: 1200 };
    expect(rateLimitHeaders(denied)['Retry-After']).toBe('2');
    expect(rateLimitHeaders({ ...denied, retryAfterMs: 3 })['Retry-After']).toBe('1');
    const never = { ...denied, reason: 'cost-exceeds-limit' as const, retryAfterMs: Infinity };
    expect(rateLimitHeaders(never)).not.toHaveProperty('Retry-After');
  });
});
