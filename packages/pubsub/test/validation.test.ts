import { createMemoryBackend } from '@redbrick/memory-backend';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createChannel, createPattern, createPubSub, createStream } from '../src/index.js';

/** Every bad input fails with a VALIDATION error naming the field, before any I/O. */
function rejects(run: () => unknown, field: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: 'VALIDATION', field });
  expect((thrown as Error).message).toMatch(/^\[redbrick\/pubsub\]/);
}

describe('bad input is rejected at the edge', () => {
  const backend = createMemoryBackend();
  // A backend that fails on any call proves validation happens before I/O.
  const untouchable = new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      return () => {
        throw new Error(`backend.${String(property)} must not be called`);
      };
    },
  });

  it('channel, pattern and stream names', () => {
    rejects(() => createChannel({ backend, name: '' }), 'name');
    // @ts-expect-error not a string
    rejects(() => createChannel({ backend, name: 42 }), 'name');
    rejects(() => createPattern({ backend, pattern: '' }), 'pattern');
    rejects(() => createStream({ backend, name: '' }), 'name');
    rejects(() => createPubSub({ backend }).channel(''), 'name');
    rejects(() => createPubSub({ backend }).stream(''), 'name');
  });

  it('options', () => {
    // @ts-expect-error no backend
    rejects(() => createChannel({ name: 'x' }), 'backend');
    rejects(() => createChannel({ backend, name: 'x', bufferSize: 0 }), 'bufferSize');
    rejects(() => createChannel({ backend, name: 'x', bufferSize: Number.NaN }), 'bufferSize');
    // @ts-expect-error unknown policy
    rejects(() => createChannel({ backend, name: 'x', overflow: 'block' }), 'overflow');
    // @ts-expect-error not a function
    rejects(() => createChannel({ backend, name: 'x', onGap: 'log' }), 'onGap');
    // @ts-expect-error not a schema
    rejects(() => createChannel({ backend, name: 'x', schema: {} }), 'schema');
    rejects(() => createStream({ backend, name: 's', maxLen: 0 }), 'maxLen');
    rejects(() => createStream({ backend, name: 's', maxLen: Number.POSITIVE_INFINITY }), 'maxLen');
    rejects(() => createStream({ backend, name: 's', maxLen: 1.5 }), 'maxLen');
    rejects(() => createPubSub({ backend, maxLen: -1 }), 'maxLen');
    const channel = createChannel({ backend, name: 'x' });
    rejects(() => channel.subscribe({ bufferSize: -1 }), 'bufferSize');
  });

  it('consume arguments', () => {
    const stream = createStream({ backend: untouchable, name: 's' });
    const handler = () => undefined;
    rejects(() => stream.consume('', 'c', handler), 'group');
    rejects(() => stream.consume('g', '', handler), 'consumer');
    // @ts-expect-error not a function
    rejects(() => stream.consume('g', 'c', 'nope'), 'handler');
    rejects(() => stream.consume('g', 'c', handler, { concurrency: 0 }), 'concurrency');
    rejects(() => stream.consume('g', 'c', handler, { concurrency: Number.NaN }), 'concurrency');
    rejects(() => stream.consume('g', 'c', handler, { claimIdleMs: -5 }), 'claimIdleMs');
    rejects(() => stream.consume('g', 'c', handler, { maxAttempts: 0 }), 'maxAttempts');
    rejects(() => stream.consume('g', 'c', handler, { blockMs: 0 }), 'blockMs');
    rejects(
      () => stream.consume('g', 'c', handler, { retryDelayMs: Number.POSITIVE_INFINITY }),
      'retryDelayMs',
    );
    // @ts-expect-error unknown start
    rejects(() => stream.consume('g', 'c', handler, { startAt: 'middle' }), 'startAt');
  });

  it('publish, append, pending with bad values reject before I/O', async () => {
    const schema = z.object({ id: z.string() });
    const channel = createChannel({ backend: untouchable, name: 'x', schema });
    // @ts-expect-error wrong type
    await expect(channel.publish({ id: 1 })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'message',
    });
    const stream = createStream({ backend: untouchable, name: 's', schema });
    // @ts-expect-error wrong type
    await expect(stream.append({ id: null })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'message',
    });
    await expect(stream.append({ id: 'a' }, { maxLen: 0 })).rejects.toMatchObject({
      field: 'maxLen',
    });
    await expect(stream.pending('')).rejects.toMatchObject({ field: 'group' });
    await expect(stream.pending('g', { limit: -1 })).rejects.toMatchObject({ field: 'limit' });
    await expect(stream.deadLetters({ limit: 0 })).rejects.toMatchObject({ field: 'limit' });
    const untyped = createChannel({ backend: untouchable, name: 'y' });
    await expect(untyped.publish(() => 1)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
