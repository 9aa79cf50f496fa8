import { isRedbrickError } from '@redbrick/core';
import { createRedisBackend } from '@redbrick/redis-backend';
import {
  type RedisServerHandle,
  startRedisServer,
  until,
  type World,
  worldTargets,
} from '@redbrick/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LockNotAcquiredError, Mutex } from '../src/index.js';
import { mutexKeys } from '../src/key-layout.js';

async function notAcquired(promise: Promise<unknown>): Promise<LockNotAcquiredError> {
  try {
    await promise;
  } catch (error) {
    expect(isRedbrickError(error, 'LOCK_NOT_ACQUIRED'), String(error)).toBe(true);
    return error as LockNotAcquiredError;
  }
  throw new Error('expected LOCK_NOT_ACQUIRED, but the lock was acquired');
}

describe.each(worldTargets({ prefix: 'locks' }))('replica confirmation on $name', (target) => {
  let world: World;
  beforeEach(async () => {
    world = await target.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('fails and gives the lock back when no replica confirms (these targets have none)', async () => {
    const mutex = new Mutex({ backend: world.backend, replicas: { count: 1, timeoutMs: 100 } });
    const error = await notAcquired(mutex.acquire('r1', { waitMs: 0 }));
    expect(error.reason).toBe('replication');
    expect(error.message).toMatch(/0 of 1 replica/);
    // Nothing is left held: a mutex without confirmation gets it at once.
    const plain = new Mutex({ backend: world.backend });
    const lease = await plain.tryAcquire('r1');
    expect(lease).not.toBeNull();
    await lease?.release();
  });

  it('rejects a bad replicas option when constructed', () => {
    for (const replicas of [{ count: 0 }, { count: 1.5 }, { count: 1, timeoutMs: 0 }, 3]) {
      expect(() => new Mutex({ backend: world.backend, replicas: replicas as never })).toThrow(
        expect.objectContaining({ code: 'VALIDATION' }),
      );
    }
  });
});

describe('replica confirmation with a real replica', () => {
  let primary: RedisServerHandle;
  let replica: RedisServerHandle;
  beforeAll(async () => {
    primary = await startRedisServer();
    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    await until('the replica link', async () =>
      String(await replica.command('INFO', 'replication')).includes('master_link_status:up'),
    );
  });
  afterAll(async () => {
    await replica?.stop();
    await primary?.stop();
  });

  it('acquires once the replica has the lock, and fails (released) once the replica is gone', async () => {
    const backend = await createRedisBackend({ url: primary.url, commandTimeoutMs: 2000 });
    try {
      const mutex = new Mutex({ backend, replicas: { count: 1, timeoutMs: 500 } });
      const lease = await mutex.acquire('invoice:1');
      // The replica already holds the same owner token.
      expect(await replica.command('GET', mutexKeys('invoice:1').lock)).toBe(lease.token);
      await lease.release();

      await replica.kill();
      const error = await notAcquired(mutex.acquire('invoice:1', { waitMs: 0 }));
      expect(error.reason).toBe('replication');
      expect(await mutex.holder('invoice:1')).toBeNull();
    } finally {
      await backend.close();
    }
  });
});
