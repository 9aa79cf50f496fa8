import type { Hono } from 'hono';
import type { DemoEnv } from '../../src/context.js';

/** A response, with its JSON body parsed. */
export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON fields
  body: any;
}

/**
 * A tiny browser stand-in over `app.request` (no listening socket): keeps the
 * session cookie between calls, sends JSON.
 */
export class Client {
  cookie = '';
  constructor(readonly app: Hono<DemoEnv>) {}

  async call(method: string, path: string, body?: unknown, raw?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    let payload: string | undefined = raw;
    if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const res = await this.app.request(path, { method, headers, body: payload });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0] ?? '';
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (the dashboard page)
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  get(path: string): Promise<Reply> {
    return this.call('GET', path);
  }
  post(path: string, body?: unknown): Promise<Reply> {
    return this.call('POST', path, body);
  }
  put(path: string, body?: unknown): Promise<Reply> {
    return this.call('PUT', path, body);
  }

  async login(tenant: string, user: string): Promise<Reply> {
    const reply = await this.post('/api/login', { tenant, user });
    if (reply.status !== 200) throw new Error(`login failed: ${JSON.stringify(reply.body)}`);
    return reply;
  }
}
