import { type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SessionStore,
  type StoreCallback,
  type StoredSession,
  sessionStoreKeys,
} from '../src/index.js';
import { Cookie, installGenerate, type Request, Session } from './support/express-session.js';

/** Calls a store method the way express-session does (node-style callback), as a promise. */
function call<T>(method: (callback: StoreCallback<T>) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    method((error, value) => (error ? reject(error) : resolve(value)));
  });
}

describe.each(worldTargets({ prefix: 'tr' }))('express-session store on $name', (repo) => {
  let world: World;
  let store: SessionStore;
  beforeEach(async () => {
    world = await repo.open();
    store = new SessionStore({
      backend: world.backend,
      ttlMs: 30_000,
      session: { Cookie, Session },
    });
    installGenerate(store, { maxAge: 60_000 });
  });
  afterEach(async () => {
    store.close();
    await world.close();
  });

  const pttl = (sid: string) => world.backend.pttl(sessionStoreKeys.session(sid));

  it('a request cycle: generate, set, get, createSession, touch, destroy', async () => {
    const req: Request = { sessionStore: store };
    store.generate?.(req);
    const session = req.session as Session;
    const sid = req.sessionID as string;
    session.user = { name: 'ada', admin: false, visits: 1 };
    // express-session saves the Session object itself.
    await call<void>((cb) => store.set(sid, session as unknown as StoredSession, cb));
    const ttl = await pttl(sid);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const stored = await call<StoredSession | null>((cb) => store.get(sid, cb));
    expect(stored).toMatchObject({ user: { name: 'ada', admin: false, visits: 1 } });
    expect(typeof stored?.cookie?.expires).toBe('string'); // JSON, as with every store

    // Next request: express-session inflates what get returned.
    const next: Request = { sessionID: sid, sessionStore: store };
    const inflated = store.createSession(next, stored as StoredSession) as Session;
    expect(next.session).toBe(inflated);
    expect(inflated.id).toBe(sid);
    expect(inflated.cookie).toBeInstanceOf(Cookie);
    expect(inflated.cookie.expires).toBeInstanceOf(Date);
    // originalMaxAge is kept as stored (express-session measures it once, when generated).
    expect(inflated.cookie.originalMaxAge).toBe(stored?.cookie?.originalMaxAge);
    expect(inflated.cookie.originalMaxAge).toBeGreaterThan(59_000);
    expect(inflated.user).toEqual({ name: 'ada', admin: false, visits: 1 });

    // Unmodified session with resave: false → touch, with the cookie's new expiry.
    inflated.cookie.maxAge = 120_000;
    await call<void>((cb) => store.touch(sid, inflated as unknown as StoredSession, cb));
    expect(await pttl(sid)).toBeGreaterThan(115_000);

    await call<void>((cb) => store.destroy(sid, cb));
    expect(await call<StoredSession | null>((cb) => store.get(sid, cb))).toBeFalsy();
  });

  it('TTL from the cookie: expires, else maxAge, else the store ttlMs', async () => {
    const inAMinute = new Date(Date.now() + 60_000);
    await call<void>((cb) => store.set('by-date', { cookie: { expires: inAMinute } }, cb));
    await call<void>((cb) =>
      store.set('by-iso', { cookie: { expires: inAMinute.toISOString() } }, cb),
    );
    await call<void>((cb) => store.set('by-max-age', { cookie: { maxAge: 90_000 } }, cb));
    await call<void>((cb) => store.set('browser-session', { cookie: { expires: null } }, cb));
    await call<void>((cb) => store.set('no-cookie', { n: 1 }, cb));
    for (const sid of ['by-date', 'by-iso']) {
      expect(await pttl(sid)).toBeGreaterThan(55_000);
      expect(await pttl(sid)).toBeLessThanOrEqual(60_000);
    }
    expect(await pttl('by-max-age')).toBeGreaterThan(85_000);
    expect(await pttl('by-max-age')).toBeLessThanOrEqual(90_000);
    for (const sid of ['browser-session', 'no-cookie']) {
      expect(await pttl(sid)).toBeGreaterThan(25_000);
      expect(await pttl(sid)).toBeLessThanOrEqual(30_000);
    }
  });

  it('a cookie that already expired deletes the session on set and on touch', async () => {
    await call<void>((cb) => store.set('a', { cookie: { maxAge: 60_000 } }, cb));
    await call<void>((cb) => store.set('b', { cookie: { maxAge: 60_000 } }, cb));
    await call<void>((cb) => store.set('a', { cookie: { expires: new Date(Date.now() - 1) } }, cb));
    await call<void>((cb) => store.touch('b', { cookie: { maxAge: 0 } }, cb));
    expect(await call<StoredSession | null>((cb) => store.get('a', cb))).toBeFalsy();
    expect(await call<StoredSession | null>((cb) => store.get('b', cb))).toBeFalsy();
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
  });

  it('sessions expire with their cookie; touch of a gone session creates nothing', async () => {
    await call<void>((cb) => store.set('short', { cookie: { maxAge: 500 }, n: 1 }, cb));
    await world.elapse(1200);
    expect(await call<StoredSession | null>((cb) => store.get('short', cb))).toBeFalsy();
    await call<void>((cb) => store.touch('short', { cookie: { maxAge: 60_000 } }, cb));
    expect(await world.backend.exists(sessionStoreKeys.session('short'))).toBe(0);
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
  });

  it('all, length and clear see this store’s live sessions only', async () => {
    const other = new SessionStore({ backend: world.backend.scoped('other') });
    await call<void>((cb) => other.set('x', { cookie: { maxAge: 60_000 } }, cb));
    await call<void>((cb) => store.set('a', { cookie: { maxAge: 60_000 }, n: 1 }, cb));
    await call<void>((cb) => store.set('b:{1}', { cookie: { maxAge: 60_000 }, n: 2 }, cb));
    await call<void>((cb) => store.set('gone', { cookie: { maxAge: 400 }, n: 3 }, cb));
    await world.elapse(1000);
    const all = await call<Record<string, StoredSession>>((cb) => store.all(cb));
    expect(Object.keys(all ?? {}).sort()).toEqual(['a', 'b:{1}']);
    expect(all?.['b:{1}']).toMatchObject({ n: 2 });
    expect(await call<number>((cb) => store.length(cb))).toBe(2);
    await call<void>((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
    expect(await call<StoredSession | null>((cb) => store.get('a', cb))).toBeFalsy();
    expect(await call<number>((cb) => other.length(cb))).toBe(1);
    other.close();
  });

  it('load and regenerate, as express-session calls them', async () => {
    const req: Request = { sessionStore: store };
    store.generate?.(req);
    const sid = req.sessionID as string;
    (req.session as Session).n = 7;
    await call<void>((cb) => store.set(sid, req.session as unknown as StoredSession, cb));

    const loaded = (await call<object>((cb) => store.load(sid, cb))) as Session;
    expect(loaded).toBeInstanceOf(Session);
    expect(loaded.n).toBe(7);
    expect(await call<object>((cb) => store.load('missing', cb))).toBeUndefined();

    await call<void>((cb) => store.regenerate(req, cb));
    expect(req.sessionID).not.toBe(sid);
    expect(req.session?.n).toBeUndefined();
    expect(await call<StoredSession | null>((cb) => store.get(sid, cb))).toBeFalsy();
  });

  it('errors reach the callback: bad sid, stored garbage, createSession without the classes', async () => {
    await expect(call<void>((cb) => store.set('', { cookie: {} }, cb))).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'sid',
    });
    await world.backend.set(sessionStoreKeys.session('bad'), 'not json');
    await expect(call((cb) => store.get('bad', cb))).rejects.toMatchObject({ code: 'VALIDATION' });
    const bare = new SessionStore({ backend: world.backend });
    expect(() => bare.createSession({ sessionID: 'a' }, { cookie: {} })).toThrow(
      expect.objectContaining({ code: 'VALIDATION', field: 'session' }),
    );
    bare.close();
  });
});
