import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/index.js';
import { fresh, rejection, waitUntil } from './helpers.js';

/* WAIT against a real primary with a real replica. */

let primary: RedisServerHandle;
let replica: RedisServerHandle;

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await waitUntil('the replica link', async () =>
    String(await replica.command('INFO', 'replication')).includes('master_link_status:up'),
  );
});

afterAll(async () => {
  await replica?.stop();
  await primary?.stop();
});

describe('waitReplicas', () => {
  it('counts the replica that acknowledged, and 0 once it is gone (after the timeout)', async () => {
    const backend = await createRedisBackend({ url: primary.url, commandTimeoutMs: 2000 });
    try {
      const key = fresh('wait');
      await backend.set(key, 'v');
      expect(await backend.waitReplicas(key, 1, 1000)).toBe(1);
      expect(await replica.command('GET', key)).toBe('v');

      await replica.kill();
      await backend.set(key, 'w');
      const started = performance.now();
      expect(await backend.waitReplicas(key, 1, 200)).toBe(0);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(150);
      expect(waited).toBeLessThan(1500);
    } finally {
      await backend.close();
      await replica.restart();
    }
  });

  it('refuses a timeout the connection deadline would cut short', async () => {
    const backend = await createRedisBackend({ url: primary.url, commandTimeoutMs: 500 });
    try {
      const { error } = await rejection(backend.waitReplicas('k', 1, 500), 'VALIDATION');
      expect(error.message).toMatch(/timeoutMs must be an integer from 1 to 499/);
    } finally {
      await backend.close();
    }
  });
});
