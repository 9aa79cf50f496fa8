import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { counted } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CountDownLatch,
  fencedWrite,
  Mutex,
  QuorumMutex,
  ReadWriteLock,
  Semaphore,
} from '../src/index.js';

/** Runs `fn` and returns what it threw or rejected with. */
async function failure(
  fn: () => unknown,
): Promise<{ code?: string; field?: string; message?: string }> {
  try {
    await fn();
  } catch (error) {
    return error as { code?: string; field?: string; message?: string };
  }
  throw new Error('expected a failure');
}

describe('bad input is rejected with a ValidationError naming the field, before any I/O', () => {
  let root: Backend;
  let backend: Backend;
  let calls: string[];
  beforeEach(() => {
    root = createMemoryBackend();
    ({ backend, calls } = counted(root));
  });
  afterEach(async () => {
    expect(calls).toEqual([]);
    await root.close();
  });

  const cases: Array<[string, string, (b: Backend) => unknown]> = [
    ['ttlMs 0', 'ttlMs', (b) => new Mutex({ backend: b }).acquire('k', { ttlMs: 0 })],
    ['negative ttlMs', 'ttlMs', (b) => new Mutex({ backend: b }).acquire('k', { ttlMs: -5 })],
    ['fractional ttlMs', 'ttlMs', (b) => new Mutex({ backend: b }).tryAcquire('k', { ttlMs: 1.5 })],
    ['service ttlMs NaN', 'ttlMs', (b) => new Mutex({ backend: b, ttlMs: Number.NaN })],
    ['empty key', 'key', (b) => new Mutex({ backend: b }).acquire('')],
    ['non-string key', 'key', (b) => new Mutex({ backend: b }).acquire(42 as unknown as string)],
    ['negative waitMs', 'waitMs', (b) => new Mutex({ backend: b }).acquire('k', { waitMs: -1 })],
    ['service waitMs', 'waitMs', (b) => new Mutex({ backend: b, waitMs: -10 })],
    [
      'signal',
      'signal',
      (b) => new Mutex({ backend: b }).acquire('k', { signal: {} as AbortSignal }),
    ],
    [
      'withLock fn',
      'fn',
      (b) => new Mutex({ backend: b }).withLock('k', 'x' as unknown as () => 1),
    ],
    ['wakeups', 'wakeups', (b) => new Mutex({ backend: b, wakeups: 'push' as 'poll' })],
    [
      'retry delays',
      'maxRetryDelayMs',
      (b) => new Mutex({ backend: b, retryDelayMs: 100, maxRetryDelayMs: 10 }),
    ],
    ['release token', 'token', (b) => new Mutex({ backend: b }).release('k', '')],
    ['extend ttlMs', 'ttlMs', (b) => new Mutex({ backend: b }).extend('k', 't', 0)],
    ['permits 0', 'permits', (b) => new Semaphore({ backend: b, permits: 0 })],
    ['permits 2.5', 'permits', (b) => new Semaphore({ backend: b, permits: 2.5 })],
    ['semaphore key', 'key', (b) => new Semaphore({ backend: b, permits: 1 }).acquire('')],
    ['rw ttlMs', 'ttlMs', (b) => new ReadWriteLock({ backend: b }).write('k', { ttlMs: 0 })],
    ['latch count', 'count', (b) => new CountDownLatch({ backend: b }).create('k', 0)],
    ['latch waitMs', 'waitMs', (b) => new CountDownLatch({ backend: b }).wait('k', { waitMs: -1 })],
    ['fence', 'fence', (b) => fencedWrite(b, 'r', -1, 'v')],
    ['fenced value', 'value', (b) => fencedWrite(b, 'r', 1, 5 as unknown as string)],
    ['quorum backends', 'backends', () => new QuorumMutex({ backends: [] })],
    ['backend', 'backend', () => new Mutex({ backend: {} as Backend })],
  ];

  it.each(cases)('%s', async (_, field, fn) => {
    const error = await failure(() => fn(backend));
    expect(error.code).toBe('VALIDATION');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^\[redbrick\/locks\] /);
  });
});
