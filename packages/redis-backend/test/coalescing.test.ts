import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/index.js';

/* Commands sent in one tick while replies are outstanding leave in one socket write. */

let server: RedisServerHandle;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

async function readsProcessed(): Promise<number> {
  const info = String(await server.command('INFO', 'stats'));
  const match = /total_reads_processed:(\d+)/.exec(info);
  if (!match) throw new Error('INFO stats has no total_reads_processed');
  return Number(match[1]);
}

describe('write coalescing', () => {
  it('a burst of 500 commands reaches the server in about 32 reads, with every reply right', async () => {
    await using backend = await createRedisBackend({ url: server.url });
    await backend.set('n', '0');
    const before = await readsProcessed();
    // The first call goes out at once (nothing in flight); the other 499 leave corked, in
    // writes of at most 16 commands: about 32 writes instead of 500 (35–56 reads measured).
    const replies = await Promise.all(Array.from({ length: 500 }, () => backend.incrBy('n', 1)));
    const reads = (await readsProcessed()) - before - 1; // minus the INFO call itself
    expect(replies.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    console.log(`[coalescing] 500 commands in one tick reached the server in ${reads} read(s)`);
    expect(reads).toBeLessThanOrEqual(120); // without coalescing: 350–480 reads here
  });

  it('a lone call is written at once, and calls keep working across a reconnect', async () => {
    await using backend = await createRedisBackend({ url: server.url });
    expect(await backend.get('missing')).toBeNull();
    await server.command('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => backend.set(`k${i}`, String(i))),
        );
        expect(results.every(Boolean)).toBe(true);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(await backend.get('k49')).toBe('49');
  });
});
