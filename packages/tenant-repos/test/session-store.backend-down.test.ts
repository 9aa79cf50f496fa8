import { describeFaults, until } from '@redbrick/testkit';
import { expect, it } from 'vitest';
import { SessionStore, type StoredSession } from '../src/index.js';

/*
 * Redis killed under the express-session store (SIGKILL of the throwaway server, or of every
 * cluster node): the store emits `disconnect` (express-session then serves requests without a
 * session instead of hanging), calls fail through their callback, and `connect` follows the
 * restart. Memory cannot die.
 */
describeFaults('express-session store with Redis killed', { prefix: 'tr' }, (ctx) => {
  it('emits disconnect and connect, and reports errors through the callback', async () => {
    const { world, servers } = ctx;
    const backend = await world.client({ redis: { commandTimeoutMs: 500 } });
    const store = new SessionStore({ backend });
    const events: string[] = [];
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    await new Promise<void>((resolve, reject) =>
      store.set('s1', { cookie: { maxAge: 60_000 }, n: 1 }, (e) => (e ? reject(e) : resolve())),
    );

    await Promise.all(servers.map((s) => s.kill()));
    const failed = await new Promise<unknown>((resolve) =>
      store.get('s1', (error) => resolve(error)),
    );
    expect(failed).toBeTruthy();
    await until('disconnect', () => events.includes('disconnect'), 20_000);

    await Promise.all(servers.map((s) => s.restart()));
    await until('connect', () => events.at(-1) === 'connect', 30_000);
    expect(events[0]).toBe('disconnect');
    await until(
      'a write after the restart',
      () =>
        new Promise<boolean>((resolve) =>
          store.set('s2', { cookie: { maxAge: 60_000 }, n: 2 }, (e) => resolve(!e)),
        ),
      30_000,
    );
    const read = await new Promise<StoredSession | null | undefined>((resolve, reject) =>
      store.get('s2', (e, v) => (e ? reject(e) : resolve(v))),
    );
    expect(read).toMatchObject({ n: 2 });
    store.close();
  }, 90_000);
});
