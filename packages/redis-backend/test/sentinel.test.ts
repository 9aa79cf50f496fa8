import { isRedbrickError } from '@redbrick/core';
import { type RedisSentinelHandle, startRedisSentinel } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/index.js';
import { fresh, sleep, waitUntil } from './helpers.js';

let sentinel: RedisSentinelHandle;

beforeAll(async () => {
  sentinel = await startRedisSentinel();
});

afterAll(async () => {
  await sentinel.stop();
});

describe('Sentinel', () => {
  it('keeps working after the primary is failed over', async () => {
    const backend = await createRedisBackend({
      sentinel: { sentinels: sentinel.sentinels, name: sentinel.name },
      commandTimeoutMs: 1000,
    });
    const subscriber = await createRedisBackend({
      sentinel: { sentinels: sentinel.sentinels, name: sentinel.name },
    });
    try {
      expect(backend.kind).toBe('redis-sentinel');
      const key = fresh('sentinel');
      expect(await backend.set(key, 'before')).toBe(true);
      const before = await backend.info();
      expect(before.role).toBe('master');
      expect(before.raw.tcp_port).toBe(String(sentinel.primary.port));
      const channel = fresh('sentinel-chan');
      const messages: string[] = [];
      await subscriber.subscribe(channel, (m) => messages.push(m));

      const newPort = await sentinel.failover();
      expect(newPort).toBe(sentinel.replica.port);

      // Writes may fail (fast, with BACKEND_UNAVAILABLE) while the switch happens; then they succeed
      // on the same backend object, against the new primary.
      let failures = 0;
      await waitUntil(
        'a write through the same backend after failover',
        async () => {
          try {
            await backend.set(key, 'after');
            const info = await backend.info();
            return info.raw.tcp_port === String(newPort) && info.role === 'master';
          } catch (error) {
            expect(isRedbrickError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
            failures += 1;
            await sleep(50);
            return false;
          }
        },
        15_000,
      );
      expect(await backend.get(key)).toBe('after');
      console.info(`sentinel failover: ${failures} failed call(s) during the switch`);

      // The subscriber follows the new primary too.
      await waitUntil(
        'a message through the new primary',
        async () => {
          await backend.publish(channel, 'after-failover');
          await sleep(50);
          return messages.includes('after-failover');
        },
        15_000,
      );
    } finally {
      await subscriber.close();
      await backend.close();
    }
  });
});
