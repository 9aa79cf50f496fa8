import { randomBytes } from 'node:crypto';
import { createRedisBackend } from '@redbrick/redis-backend';
import { type RedisServerHandle, startRedisServer, testTargets, until } from '@redbrick/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createChannel, createStream, type Gap, type Reconnect } from '../src/index.js';

const redis = testTargets().find((t) => t.name === 'redis');

describe.runIf(redis !== undefined)('a Redis restart', () => {
  it('channel subscribers resume receiving without user code, told of the reconnect and the gap', async () => {
    const target = redis as NonNullable<typeof redis>;
    const server = await target.server();
    if (!server) throw new Error('the redis target has no throwaway server to restart');
    const prefix = `ps-${randomBytes(5).toString('hex')}`;
    const subscriberRoot = await target.make();
    const publisherRoot = await target.make();
    try {
      const reconnects: Reconnect[] = [];
      const gaps: Gap[] = [];
      const seen: unknown[] = [];
      const listening = createChannel({
        backend: subscriberRoot.scoped(prefix),
        name: 'news',
        onReconnect: (r) => reconnects.push(r),
        onGap: (g) => gaps.push(g),
      });
      await listening.subscribe((m) => {
        seen.push(m);
      });
      const news = createChannel({ backend: publisherRoot.scoped(prefix), name: 'news' });
      await news.publish('before');
      await until('the first message', () => seen.length === 1);

      await server.kill();
      // Published while Redis is down: fails fast, and its sequence number is used up.
      await expect(news.publish('lost')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await server.restart();

      await until(
        'a message after the restart',
        async () => {
          await news.publish('after').catch(() => 0);
          return seen.includes('after');
        },
        20_000,
      );
      expect(seen[0]).toBe('before');
      expect(seen.filter((m) => m !== 'after')).toEqual(['before']);
      await until('onReconnect', () => reconnects.length >= 1);
      expect(reconnects[0]).toMatchObject({ channel: 'news' });
      expect(reconnects[0]?.downMs).toBeGreaterThanOrEqual(0);
      // The subscriber learns it missed at least the message published during the outage.
      const missed = gaps.reduce((sum, g) => sum + g.missed, 0);
      expect(missed).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([subscriberRoot.close(), publisherRoot.close()]);
    }
  }, 60_000);

  describe('with persistence (AOF)', () => {
    let server: RedisServerHandle | undefined;
    afterAll(async () => {
      await server?.stop();
    });

    it('stream consumers resume from their group position', async () => {
      server = await startRedisServer({ appendonly: true });
      const backend = await createRedisBackend({ type: 'redis', url: server.url });
      try {
        const errors: unknown[] = [];
        const stream = createStream({
          backend,
          name: 'ledger',
          onError: (e) => errors.push(e),
        });
        const seen: number[] = [];
        const consumer = stream.consume('g', 'c', (n) => void seen.push(Number(n)), {
          blockMs: 100,
          claimIntervalMs: 100,
        });
        for (let i = 0; i < 10; i++) await stream.append(i);
        await until('the first ten', () => seen.length === 10);
        await until('acknowledged', async () => (await stream.pending('g')).count === 0);

        await server.kill();
        await server.restart();

        await until(
          'appends work again',
          async () => {
            await stream.append(10);
            return true;
          },
          20_000,
        );
        for (let i = 11; i < 20; i++) await stream.append(i);
        await until('the next ten', () => seen.length >= 20, 20_000);
        await consumer.stop();
        // Nothing before the restart was handled again: the group position survived.
        expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
        expect(errors.length).toBeGreaterThan(0); // the outage was reported, not hidden
      } finally {
        await backend.close();
      }
    }, 60_000);
  });
});
