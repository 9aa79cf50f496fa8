import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode, randomName } from './context.js';

export function adminTests(ctx: ConformanceContext): void {
  describe('admin', () => {
    it('ping measures a round trip in ms', async () => {
      const ms = await ctx.root().ping();
      expect(Number.isFinite(ms)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(0);
    });

    it('waitReplicas reports how many replicas acknowledged (within the timeout), and checks its input', async () => {
      const b = ctx.fresh();
      await b.set('k', 'v');
      const started = performance.now();
      const acked = await b.waitReplicas('k', 0, 50);
      expect(Number.isSafeInteger(acked)).toBe(true);
      expect(acked).toBeGreaterThanOrEqual(0);
      // Asking for more replicas than exist returns what there is once the timeout passes.
      const many = await b.waitReplicas('k', 100, 50);
      expect(many).toBeLessThan(100);
      expect(performance.now() - started).toBeLessThan(2000);
      await expectCode(() => b.waitReplicas('k', -1, 50), 'VALIDATION');
      await expectCode(() => b.waitReplicas('k', 1, 0), 'VALIDATION');
      await expectCode(() => b.waitReplicas('', 1, 50), 'VALIDATION');
    });

    it('time is the server clock in ms since the epoch', async () => {
      const t = await ctx.root().time();
      expect(Number.isFinite(t)).toBe(true);
      expect(Math.abs(t - Date.now())).toBeLessThan(5 * 60_000);
    });

    it('info has the normalised shape', async () => {
      const b = ctx.fresh();
      await b.set('k', 'v', { ttlMs: 60_000 });
      const info = await ctx.root().info();
      expect(typeof info.backend).toBe('string');
      expect(info.backend.length).toBeGreaterThan(0);
      expect(typeof info.serverVersion).toBe('string');
      expect(info.serverVersion.length).toBeGreaterThan(0);
      for (const n of [
        info.usedMemoryBytes,
        info.maxMemoryBytes,
        info.keys,
        info.expiringKeys,
        info.opsPerSec,
        info.connectedClients,
        info.evictedKeys,
        info.expiredKeys,
      ]) {
        expect(Number.isFinite(n)).toBe(true);
        expect(n).toBeGreaterThanOrEqual(0);
      }
      expect(info.keys).toBeGreaterThanOrEqual(1);
      expect(info.expiringKeys).toBeGreaterThanOrEqual(1);
      expect(info.usedMemoryBytes).toBeGreaterThan(0);
      expect(info.connectedClients).toBeGreaterThanOrEqual(1);
      expect(typeof info.maxMemoryPolicy).toBe('string');
      expect(['master', 'replica', 'none']).toContain(info.role);
      expect(typeof info.keyspaceEvents).toBe('string');
      expect(typeof info.raw).toBe('object');
    });

    it('is connected, and tells connection listeners how to unsubscribe', async () => {
      const root = ctx.root();
      expect(root.isConnected).toBe(true);
      expect(typeof root.kind).toBe('string');
      expect(root.kind.length).toBeGreaterThan(0);
      const off = root.onConnectionChange(() => undefined);
      expect(typeof off).toBe('function');
      off();
      off();
    });

    it('close is idempotent; afterwards commands fail with CLOSED', async () => {
      const own = await ctx.makeBackend();
      const view = own.scoped(`rb-test-${randomName()}`);
      await view.set('k', 'v');
      expect(await view.del('k')).toBe(1);
      await own.close();
      await own.close();
      await own[Symbol.asyncDispose]();
      expect(own.isConnected).toBe(false);
      await expectCode(() => own.get('k'), 'CLOSED');
      await expectCode(() => own.set('k', 'v'), 'CLOSED');
      await expectCode(() => view.get('k'), 'CLOSED');
      await expectCode(() => own.publish('ch', 'x'), 'CLOSED');
      // exec() may reject, or resolve with every command failed: either way with CLOSED
      const closed = await own
        .pipeline()
        .add('get', 'k')
        .exec()
        .then(
          (results) => results.map((r) => (r.ok ? 'ok' : (r.error as { code?: unknown }).code)),
          (error: { code?: unknown }) => [error.code],
        );
      expect(closed).toEqual(['CLOSED']);
    });
  });
}
