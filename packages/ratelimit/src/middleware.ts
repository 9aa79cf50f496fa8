import type { RateLimitDecision } from './decision.js';
import { rateLimitHeaders } from './headers.js';
import type { RateLimiter } from './rate-limiter.js';

type Awaitable<T> = T | Promise<T>;

/** Options shared by the HTTP middlewares. */
export interface RateLimitHttpOptions<Req> {
  /**
   * The limiter key of a request: IP, user id, API key… Returning
   * `undefined` lets the request through unlimited.
   * @default `ip:<client address>` (Node, Express, Fastify)
   */
  key?: (req: Req) => Awaitable<string | undefined>;
  /** Units a request costs. @default 1 */
  cost?: number | ((req: Req) => Awaitable<number>);
  /** Send the `RateLimit-Policy` / `RateLimit` headers on every response (`Retry-After` is always sent on a denial). @default true */
  headers?: boolean;
  /** Status of a denial. @default 429 */
  statusCode?: number;
  /** Body of a denial (objects are sent as JSON). @default `{ error: 'Too Many Requests', reason, retryAfterMs }` */
  body?: (decision: RateLimitDecision) => unknown;
  /** Requests to leave alone (health checks…). */
  skip?: (req: Req) => Awaitable<boolean>;
}

/** The parts of a Node `IncomingMessage` the middleware reads. */
export interface NodeRequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | null;
}

/** The parts of a Node `ServerResponse` the middleware writes. */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** The parts of an Express request the middleware reads. */
export interface ExpressRequestLike extends NodeRequestLike {
  ip?: string | undefined;
}

/** The parts of a Fastify request the hook reads. */
export interface FastifyRequestLike {
  ip?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** The parts of a Fastify reply the hook writes. */
export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload?: unknown): unknown;
}

/** The parts of a Hono context the middleware uses. */
export interface HonoContextLike {
  req: { header(name: string): string | undefined };
  header(name: string, value: string): void;
  json(object: unknown, status?: number): Response;
}

interface Outcome {
  /** Undefined when the request was not limited (skipped, or no key). */
  decision: RateLimitDecision | undefined;
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

function defaultBody(decision: RateLimitDecision): unknown {
  return {
    error: 'Too Many Requests',
    reason: decision.reason,
    retryAfterMs: Number.isFinite(decision.retryAfterMs) ? decision.retryAfterMs : null,
  };
}

async function decide<Req>(
  limiter: RateLimiter,
  req: Req,
  options: RateLimitHttpOptions<Req>,
  defaultKey: (req: Req) => string | undefined,
): Promise<Outcome> {
  const none: Outcome = { decision: undefined, headers: {}, body: undefined, status: 200 };
  if (options.skip && (await options.skip(req))) return none;
  const id = options.key ? await options.key(req) : defaultKey(req);
  if (id === undefined || id === '') return none;
  const cost = typeof options.cost === 'function' ? await options.cost(req) : (options.cost ?? 1);
  const decision = await limiter.check(id, { cost });
  const headers = rateLimitHeaders(decision);
  if (options.headers === false) {
    delete headers['RateLimit-Policy'];
    delete headers.RateLimit;
  }
  if (decision.allowed) return { decision, headers, body: undefined, status: 200 };
  return {
    decision,
    headers,
    body: (options.body ?? defaultBody)(decision),
    status: options.statusCode ?? 429,
  };
}

function nodeIp(req: NodeRequestLike): string | undefined {
  const ip = req.socket?.remoteAddress;
  return ip ? `ip:${ip}` : undefined;
}

function writeNode(res: NodeResponseLike, outcome: Outcome): boolean {
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  if (!outcome.decision || outcome.decision.allowed) return true;
  res.statusCode = outcome.status;
  if (typeof outcome.body === 'string') {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(outcome.body);
  } else {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(outcome.body));
  }
  return false;
}

/**
 * Rate limiting for a plain Node `http` server. Resolves `true` when the
 * request may proceed (the headers are set), `false` when the denial has
 * been sent.
 *
 * @example
 * const limit = rateLimitNode(limiter);
 * http.createServer(async (req, res) => {
 *   if (!(await limit(req, res))) return;
 *   res.end('ok');
 * });
 */
export function rateLimitNode<Req extends NodeRequestLike>(
  limiter: RateLimiter,
  options: RateLimitHttpOptions<Req> = {},
): (req: Req, res: NodeResponseLike) => Promise<boolean> {
  return async (req, res) => writeNode(res, await decide(limiter, req, options, nodeIp));
}

/**
 * Express (or Connect) middleware: calls `next()` when allowed, answers
 * 429 otherwise; errors go to `next(error)`.
 *
 * @example
 * app.use(rateLimitExpress(limiter, { key: (req) => req.get('x-api-key') }));
 */
export function rateLimitExpress<Req extends ExpressRequestLike>(
  limiter: RateLimiter,
  options: RateLimitHttpOptions<Req> = {},
): (req: Req, res: NodeResponseLike, next: (error?: unknown) => void) => void {
  const ip = (req: Req) => (req.ip ? `ip:${req.ip}` : nodeIp(req));
  return (req, res, next) => {
    decide(limiter, req, options, ip).then(
      (outcome) => {
        if (writeNode(res, outcome)) next();
      },
      (error: unknown) => next(error),
    );
  };
}

/**
 * A Fastify `onRequest` hook: sets the headers, and answers 429 on a denial.
 *
 * @example
 * fastify.addHook('onRequest', rateLimitFastify(limiter));
 */
export function rateLimitFastify<Req extends FastifyRequestLike, Reply extends FastifyReplyLike>(
  limiter: RateLimiter,
  options: RateLimitHttpOptions<Req> = {},
): (request: Req, reply: Reply) => Promise<Reply | undefined> {
  const ip = (req: Req) => (req.ip ? `ip:${req.ip}` : undefined);
  return async (request, reply) => {
    const outcome = await decide(limiter, request, options, ip);
    for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
    if (!outcome.decision || outcome.decision.allowed) return undefined;
    reply.code(outcome.status);
    await reply.send(outcome.body);
    return reply;
  };
}

/**
 * Hono middleware. Hono has no portable client address, so `key` is
 * required (e.g. from a header, or `getConnInfo(c).remote.address`).
 *
 * @example
 * app.use(rateLimitHono(limiter, { key: (c) => c.req.header('x-api-key') }));
 */
export function rateLimitHono<C extends HonoContextLike>(
  limiter: RateLimiter,
  options: RateLimitHttpOptions<C> & { key: (c: C) => Awaitable<string | undefined> },
): (c: C, next: () => Promise<void>) => Promise<Response | undefined> {
  return async (c, next) => {
    const outcome = await decide(limiter, c, options, () => undefined);
    for (const [name, value] of Object.entries(outcome.headers)) c.header(name, value);
    if (!outcome.decision || outcome.decision.allowed) {
      await next();
      return undefined;
    }
    return c.json(outcome.body, outcome.status);
  };
}
