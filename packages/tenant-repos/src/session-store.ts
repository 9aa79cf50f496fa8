import { EventEmitter } from 'node:events';
import { type Backend, key, tag, ValidationError } from '@redbrick/core';
import { assertId, PKG, resolveTtl } from './validate.js';

/** The cookie part of an express-session session, as far as the store reads it. */
export interface StoredCookie {
  /** When the cookie expires: a `Date`, or its ISO string once the session went through JSON. */
  expires?: Date | string | null;
  /** Remaining lifetime in ms (express-session's `Cookie` computes it from `expires`). */
  maxAge?: number | null;
  [field: string]: unknown;
}

/** An express-session session as the store sees it: JSON-serialisable data plus its cookie. */
export interface StoredSession {
  cookie?: StoredCookie;
  [field: string]: unknown;
}

/** A node-style callback, as express-session passes them. */
export type StoreCallback<T = void> = (error?: unknown, value?: T) => void;

/**
 * The `Cookie` and `Session` classes of express-session (pass the module itself:
 * `import session from 'express-session'`). Only used by {@link SessionStore.createSession}.
 */
export interface ExpressSessionClasses {
  Cookie: new (...args: never[]) => object;
  Session: new (...args: never[]) => object;
}

export interface SessionStoreOptions {
  /** The backend (scope it with `backend.scoped()` to keep several stores apart). */
  backend: Backend;
  /**
   * Lifetime in ms of a session whose cookie has neither `expires` nor `maxAge` (a browser-session
   * cookie). A positive integer. @default 86_400_000 (1 day)
   */
  ttlMs?: number;
  /**
   * The express-session module (or any object with its `Cookie` and `Session` classes). Needed
   * only when express-session uses the store: it calls the store's `createSession`, which builds
   * its own `Session` and `Cookie` objects. This package does not depend on express-session.
   */
  session?: ExpressSessionClasses;
}

/** Where the store keeps sessions. */
export const sessionStoreKeys = {
  /** String: one session as JSON, with the cookie's lifetime as TTL. */
  session: (sid: string) => key('xsess', tag(sid)),
  /** Sorted set: sid → expiry (client clock, ms), for `all`, `length` and `clear`. */
  index: () => key('xsess', 'index'),
};

/** The request fields express-session's store helpers read and write. */
interface StoreRequest {
  sessionID?: string;
  session?: unknown;
  sessionStore?: unknown;
}

/**
 * An `express-session` compatible store on any redbrick backend: `get`, `set`, `destroy`,
 * `touch`, `all`, `length`, `clear`, plus the helpers express-session expects from its own
 * `Store` base class (`load`, `regenerate`, `createSession`). Emits `disconnect` when the backend
 * loses its connection and `connect` when it is back, so express-session skips sessions instead
 * of hanging while Redis is down.
 *
 * A session's TTL comes from its cookie: `expires - now` when the cookie has an expiry date,
 * else `cookie.maxAge`, else `ttlMs`. A session whose cookie already expired is deleted.
 */
export class SessionStore extends EventEmitter {
  readonly #backend: Backend;
  readonly #ttlMs: number;
  readonly #classes: ExpressSessionClasses | undefined;
  readonly #unwatch: () => void;
  /** Set by express-session on the store it is given. */
  generate?: (req: StoreRequest) => void;

  constructor(options: SessionStoreOptions) {
    super();
    this.#backend = options.backend;
    const ttl = resolveTtl(options.ttlMs, 86_400_000);
    if (ttl === 0) {
      throw new ValidationError(
        `[redbrick/${PKG}] SessionStore needs a positive ttlMs (a positive integer number of milliseconds)`,
        { field: 'ttlMs' },
      );
    }
    this.#ttlMs = ttl;
    if (
      options.session !== undefined &&
      (typeof options.session?.Cookie !== 'function' ||
        typeof options.session?.Session !== 'function')
    ) {
      throw new ValidationError(
        `[redbrick/${PKG}] session must be the express-session module (with its Cookie and Session classes)`,
        { field: 'session' },
      );
    }
    this.#classes = options.session;
    let up = this.#backend.isConnected;
    this.#unwatch = this.#backend.onConnectionChange((state) => {
      if (state === 'ready' && !up) {
        up = true;
        this.emit('connect');
      } else if (state !== 'ready' && up) {
        up = false;
        this.emit('disconnect');
      }
    });
  }

  /** Reads a session; `undefined` when there is none. */
  get(sid: string, callback: StoreCallback<StoredSession | null>): void {
    settle(this.#get(sid), callback);
  }

  /** Writes a session with the TTL its cookie gives (deletes it when the cookie already expired). */
  set(sid: string, session: StoredSession, callback?: StoreCallback): void {
    settle(this.#set(sid, session), callback);
  }

  /** Deletes a session. */
  destroy(sid: string, callback?: StoreCallback): void {
    settle(this.#destroy(sid), callback);
  }

  /** Resets a session's TTL from its cookie without rewriting it. */
  touch(sid: string, session: StoredSession, callback?: StoreCallback): void {
    settle(this.#touch(sid, session), callback);
  }

  /** Every live session of this store, by sid. Reads each one: O(sessions). */
  all(callback: StoreCallback<Record<string, StoredSession>>): void {
    settle(this.#all(), callback);
  }

  /** How many live sessions the store holds. Reads each one: O(sessions). */
  length(callback: StoreCallback<number>): void {
    settle(
      this.#all().then((all) => Object.keys(all).length),
      callback,
    );
  }

  /** Deletes every session of this store. */
  clear(callback?: StoreCallback): void {
    settle(this.#clear(), callback);
  }

  /** Loads a session into a fresh express-session `Session` (express-session's `Store#load`). */
  load(sid: string, callback: StoreCallback<object>): void {
    this.get(sid, (error, session) => {
      if (error) return callback(error);
      if (!session) return callback();
      callback(undefined, this.createSession({ sessionID: sid, sessionStore: this }, session));
    });
  }

  /** Destroys the request's session and generates a new one (express-session's `Store#regenerate`). */
  regenerate(req: StoreRequest, callback: StoreCallback): void {
    this.destroy(req.sessionID ?? '', (error) => {
      this.generate?.(req);
      callback(error);
    });
  }

  /**
   * Turns stored data into express-session's `Session` with a real `Cookie`, like
   * express-session's `Store#createSession` (needs the `session` option).
   */
  createSession(req: StoreRequest, stored: StoredSession): object {
    const classes = this.#classes;
    if (classes === undefined) {
      throw new ValidationError(
        `[redbrick/${PKG}] SessionStore.createSession needs the session option (pass the express-session module)`,
        { field: 'session' },
      );
    }
    const Cookie = classes.Cookie as unknown as new (
      options: unknown,
    ) => StoredCookie & {
      originalMaxAge?: unknown;
    };
    const Session = classes.Session as unknown as new (req: unknown, data: unknown) => object;
    const cookieData = (stored.cookie ?? {}) as StoredCookie & { originalMaxAge?: unknown };
    const expires = cookieData.expires;
    const originalMaxAge = cookieData.originalMaxAge;
    const cookie = new Cookie(cookieData);
    if (typeof expires === 'string') cookie.expires = new Date(expires);
    cookie.originalMaxAge = originalMaxAge;
    const session = new Session(req, { ...stored, cookie });
    req.session = session;
    return session;
  }

  /** Stops watching the backend's connection (does not close the backend). */
  close(): void {
    this.#unwatch();
  }

  async #get(sid: string): Promise<StoredSession | null> {
    assertSid(sid);
    const stored = await this.#backend.get(sessionStoreKeys.session(sid));
    if (stored === null) return null;
    try {
      return JSON.parse(stored) as StoredSession;
    } catch (cause) {
      throw new ValidationError(`[redbrick/${PKG}] stored session ${sid} is not valid JSON`, {
        field: 'stored value',
        cause,
      });
    }
  }

  async #set(sid: string, session: StoredSession): Promise<void> {
    assertSid(sid);
    const ttl = this.#ttlFor(session);
    if (ttl <= 0) return this.#destroy(sid);
    const stored = JSON.stringify(session);
    if (typeof stored !== 'string') {
      throw new ValidationError(`[redbrick/${PKG}] session must be JSON-serialisable`, {
        field: 'session',
      });
    }
    const results = await this.#backend
      .pipeline()
      .add('set', sessionStoreKeys.session(sid), stored, { ttlMs: ttl })
      .add('zadd', sessionStoreKeys.index(), { member: sid, score: Date.now() + ttl })
      .exec();
    for (const r of results) if (!r.ok) throw r.error;
  }

  async #touch(sid: string, session: StoredSession): Promise<void> {
    assertSid(sid);
    const ttl = this.#ttlFor(session);
    if (ttl <= 0) return this.#destroy(sid);
    if (await this.#backend.pexpire(sessionStoreKeys.session(sid), ttl)) {
      await this.#backend.zadd(
        sessionStoreKeys.index(),
        { member: sid, score: Date.now() + ttl },
        { xx: true },
      );
    } else {
      await this.#backend.zrem(sessionStoreKeys.index(), sid);
    }
  }

  async #destroy(sid: string): Promise<void> {
    assertSid(sid);
    const results = await this.#backend
      .pipeline()
      .add('del', sessionStoreKeys.session(sid))
      .add('zrem', sessionStoreKeys.index(), sid)
      .exec();
    for (const r of results) if (!r.ok) throw r.error;
  }

  async #all(): Promise<Record<string, StoredSession>> {
    const index = sessionStoreKeys.index();
    await this.#backend.zremRangeByScore(index, '-inf', Date.now());
    const sids = await this.#backend.zrangeByScore(index, '-inf', '+inf');
    const out: Record<string, StoredSession> = {};
    if (sids.length === 0) return out;
    const pipe = this.#backend.pipeline();
    for (const sid of sids) pipe.add('get', sessionStoreKeys.session(sid));
    const results = await pipe.exec();
    const gone: string[] = [];
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      const sid = sids[i] as string;
      if (typeof r.value === 'string') out[sid] = JSON.parse(r.value) as StoredSession;
      else gone.push(sid);
    });
    if (gone.length > 0) await this.#backend.zrem(index, ...gone);
    return out;
  }

  async #clear(): Promise<void> {
    const index = sessionStoreKeys.index();
    const sids = await this.#backend.zrangeByScore(index, '-inf', '+inf');
    const pipe = this.#backend.pipeline();
    for (const sid of sids) pipe.add('del', sessionStoreKeys.session(sid));
    if (sids.length > 0) pipe.add('zrem', index, ...sids);
    if (pipe.length === 0) return;
    for (const r of await pipe.exec()) if (!r.ok) throw r.error;
  }

  /** The session's TTL in ms from its cookie: `expires - now`, else `maxAge`, else `ttlMs`. */
  #ttlFor(session: StoredSession): number {
    if (typeof session !== 'object' || session === null) {
      throw new ValidationError(`[redbrick/${PKG}] session must be an object`, {
        field: 'session',
      });
    }
    const cookie = session.cookie;
    if (cookie?.expires !== undefined && cookie.expires !== null) {
      const at = new Date(cookie.expires).getTime();
      if (Number.isFinite(at)) return Math.min(Math.ceil(at - Date.now()), MAX_TTL_MS);
    }
    if (typeof cookie?.maxAge === 'number' && Number.isFinite(cookie.maxAge)) {
      return Math.min(Math.ceil(cookie.maxAge), MAX_TTL_MS);
    }
    return this.#ttlMs;
  }
}

/** Longest TTL handed to the backend: 100 years (a `maxAge` of `Infinity` becomes this). */
const MAX_TTL_MS = 100 * 365 * 86_400_000;

function assertSid(sid: unknown): asserts sid is string {
  assertId(sid, 'sid');
}

/** Calls `callback` with the outcome, outside the promise chain (a throwing callback is not swallowed). */
function settle<T>(promise: Promise<T>, callback: StoreCallback<T> | undefined): void {
  promise.then(
    (value) => {
      if (callback) queueMicrotask(() => callback(null, value));
    },
    (error: unknown) => {
      // Without a callback there is nobody to tell (express-session always passes one).
      if (callback) queueMicrotask(() => callback(error));
    },
  );
}
