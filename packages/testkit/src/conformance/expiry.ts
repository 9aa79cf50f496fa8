import { describe, expect, it } from 'vitest';
import { type ConformanceContext, EVENT_TIMEOUT_MS, sleep, waitFor } from './context.js';

export function expiryEventTests(ctx: ConformanceContext): void {
  if (!ctx.capabilities.expiryEvents) return;

  describe('expiry events', () => {
    it(
      'onExpired hears an expired key (without the view prefix), without anyone touching it',
      async () => {
        const b = ctx.fresh();
        const expired: string[] = [];
        const sub = await b.onExpired((key) => expired.push(key));
        await b.set('soon', 'v', { ttlMs: 40 });
        await b.hset('hash', { f: 'v' });
        await b.pexpire('hash', 40);
        await waitFor(
          () => expired.includes('soon') && expired.includes('hash'),
          'expiry events',
          EVENT_TIMEOUT_MS,
        );
        expect(expired.filter((k) => k === 'soon')).toHaveLength(1);
        await sub.unsubscribe();
      },
      EVENT_TIMEOUT_MS + 5_000,
    );

    it(
      'DEL, PEXPIRE 0 and overwriting are not expiry events; other views do not hear ours',
      async () => {
        const b = ctx.fresh();
        const other = ctx.fresh();
        const heard: string[] = [];
        const otherHeard: string[] = [];
        const sub = await b.onExpired((key) => heard.push(key));
        const otherSub = await other.onExpired((key) => otherHeard.push(key));
        await b.set('deleted', 'v', { ttlMs: 60_000 });
        await b.del('deleted');
        await b.set('zeroed', 'v', { ttlMs: 60_000 });
        await b.pexpire('zeroed', 0);
        await b.set('overwritten', 'v', { ttlMs: 60_000 });
        await b.set('overwritten', 'w');
        await b.set('last', 'v', { ttlMs: 40 });
        await waitFor(() => heard.includes('last'), 'the expiry of "last"', EVENT_TIMEOUT_MS);
        await sleep(50);
        expect(heard).toEqual(['last']);
        expect(otherHeard).toEqual([]);
        expect(await b.get('overwritten')).toBe('w');
        await sub.unsubscribe();
        await otherSub.unsubscribe();
      },
      EVENT_TIMEOUT_MS + 5_000,
    );

    it(
      'no events after unsubscribe (which is idempotent)',
      async () => {
        const b = ctx.fresh();
        const heard: string[] = [];
        const sub = await b.onExpired((key) => heard.push(key));
        const witness: string[] = [];
        const watch = await b.onExpired((key) => witness.push(key));
        await sub.unsubscribe();
        await sub.unsubscribe();
        await b.set('k', 'v', { ttlMs: 30 });
        await waitFor(() => witness.includes('k'), 'the expiry of "k"', EVENT_TIMEOUT_MS);
        expect(heard).toEqual([]);
        await watch.unsubscribe();
      },
      EVENT_TIMEOUT_MS + 5_000,
    );
  });
}
