import type { Backend } from '@redbrick/core';
import { Sessions } from '@redbrick/tenant-repos';
import type { Profiles } from './profiles.js';
import { findTenant, TENANTS } from './tenants.js';

/** Name of the session cookie. Its value is `<tenant>.<session id>`. */
export const SESSION_COOKIE = 'rb_session';

/** A logged-in user, from the session cookie. */
export interface DemoSession {
  tenant: string;
  user: string;
  displayName: string;
  /** The cookie value (tenant and session id). */
  cookie: string;
}

interface SessionData {
  displayName: string;
}

/**
 * Logins backed by tenant-repos `Sessions`, one store per tenant (the
 * backend scoped to `sessions-<tenant>`), sliding idle expiry.
 */
export class Auth {
  readonly #sessions = new Map<string, Sessions<SessionData>>();
  readonly #profiles: Profiles;

  constructor(backend: Backend, profiles: Profiles, ttlMs: number) {
    this.#profiles = profiles;
    for (const tenant of TENANTS) {
      this.#sessions.set(
        tenant.id,
        new Sessions<SessionData>({ backend: backend.scoped(`sessions-${tenant.id}`), ttlMs }),
      );
    }
  }

  #store(tenant: string): Sessions<SessionData> {
    const store = this.#sessions.get(findTenant(tenant).id);
    if (!store) throw new Error(`no session store for tenant ${tenant}`);
    return store;
  }

  /** Logs a user in (unknown tenant: `404 UNKNOWN_TENANT`); returns the cookie value. */
  async login(tenant: string, user: string, displayName?: string): Promise<DemoSession> {
    const store = this.#store(tenant);
    await this.#profiles.recordLogin(tenant, user, displayName);
    const profile = await this.#profiles.profile(tenant, user);
    const name = profile?.displayName ?? user;
    const id = await store.create(user, { displayName: name });
    return { tenant, user, displayName: name, cookie: `${tenant}.${id}` };
  }

  /** The session of a cookie value, or `undefined` (unknown, expired, malformed). */
  async resolve(cookie: string | undefined): Promise<DemoSession | undefined> {
    const parsed = parseCookie(cookie);
    if (!parsed) return undefined;
    const store = this.#sessions.get(parsed.tenant);
    if (!store) return undefined;
    const session = await store.get(parsed.id);
    if (!session) return undefined;
    return {
      tenant: parsed.tenant,
      user: session.userId,
      displayName: session.data.displayName,
      cookie: `${parsed.tenant}.${parsed.id}`,
    };
  }

  /** Renames the user in the session too. */
  async rename(session: DemoSession, displayName: string): Promise<void> {
    const parsed = parseCookie(session.cookie);
    if (parsed) await this.#store(parsed.tenant).update(parsed.id, { displayName });
  }

  async logout(cookie: string | undefined): Promise<void> {
    const parsed = parseCookie(cookie);
    const store = parsed && this.#sessions.get(parsed.tenant);
    if (parsed && store) await store.destroy(parsed.id);
  }
}

function parseCookie(cookie: string | undefined): { tenant: string; id: string } | undefined {
  if (!cookie) return undefined;
  const dot = cookie.indexOf('.');
  if (dot <= 0 || dot === cookie.length - 1) return undefined;
  const id = cookie.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) return undefined;
  return { tenant: cookie.slice(0, dot), id };
}
