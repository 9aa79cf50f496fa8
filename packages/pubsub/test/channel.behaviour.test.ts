import { until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createChannel,
  createPattern,
  createPubSub,
  type Gap,
  type InvalidMessage,
  type MessageMeta,
} from '../src/index.js';

const Order = z.object({ id: z.number().int(), total: z.number() });

describe.each(worldTargets({ prefix: 'ps' }))('channels on $name', (target) => {
  let world: World;
  beforeEach(async () => {
    world = await target.open();
  });
  afterEach(async () => {
    await world.close();
  });

  it('delivers to handlers and iterators; publish returns the receiver count', async () => {
    // Redis counts subscribed connections: one client per subscriber.
    const listening = createPubSub({ backend: await world.client() }).channel('orders', Order);
    const seen: Array<{ id: number; meta: MessageMeta }> = [];
    const handler = await listening.subscribe((order, meta) => {
      seen.push({ id: order.id, meta });
    });
    const iterating = createPubSub({ backend: await world.client() }).channel('orders', Order);
    const iterator = iterating.subscribe();
    await iterator.ready;

    const orders = createChannel({ backend: world.backend, name: 'orders', schema: Order });
    expect(await orders.publish({ id: 1, total: 9.5 })).toBe(2);
    expect(await orders.publish({ id: 2, total: 3 })).toBe(2);

    await until('both messages', () => seen.length === 2);
    expect(seen.map((s) => s.id)).toEqual([1, 2]);
    expect(seen[0]?.meta).toMatchObject({
      channel: 'orders',
      publisherId: orders.publisherId,
      seq: 1,
    });
    const first = await iterator.next();
    const second = await iterator.next();
    expect([first.value, second.value]).toEqual([
      { id: 1, total: 9.5 },
      { id: 2, total: 3 },
    ]);

    await handler.unsubscribe();
    await iterator.unsubscribe();
    await handler.unsubscribe(); // idempotent
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    await until('no receivers left', async () => (await orders.publish({ id: 3, total: 1 })) === 0);
    expect(seen).toHaveLength(2);
  });

  it('for await … of ends when the loop breaks, and round-trips rich values', async () => {
    const channel = createChannel({ backend: world.backend, name: 'rich' });
    const iterator = channel.subscribe();
    await iterator.ready;
    const sent = { at: new Date(0), n: 10n, tags: new Set(['a']), nested: { u: undefined } };
    await channel.publish(sent);
    await channel.publish('stop');
    const got: unknown[] = [];
    for await (const message of iterator) {
      if (message === 'stop') break;
      got.push(message);
    }
    expect(got).toEqual([sent]);
    expect(await channel.publish('after')).toBe(0);
  });

  it('pattern subscriptions pass the matched channel', async () => {
    const seen: Array<[string, unknown]> = [];
    const pattern = createPattern({ backend: await world.client(), pattern: 'events.*' });
    const subscription = await pattern.subscribe((message, meta) => {
      seen.push([meta.channel, message]);
      expect(meta.pattern).toBe('events.*');
    });
    const iterator = pattern.subscribe();
    await iterator.ready;
    await createChannel({ backend: world.backend, name: 'events.created' }).publish({ a: 1 });
    await createChannel({ backend: world.backend, name: 'other.created' }).publish({ a: 2 });
    await createChannel({ backend: world.backend, name: 'events.deleted' }).publish({ a: 3 });
    await until('two pattern messages', () => seen.length === 2);
    expect(seen.sort()).toEqual([
      ['events.created', { a: 1 }],
      ['events.deleted', { a: 3 }],
    ]);
    const first = await iterator.next();
    expect(first.value).toEqual({ channel: 'events.created', message: { a: 1 } });
    await subscription.unsubscribe();
    await iterator.unsubscribe();
  });

  it('rejects a message that does not match the schema before any I/O', async () => {
    const orders = createChannel({ backend: world.backend, name: 'orders', schema: Order });
    const seen: unknown[] = [];
    await orders.subscribe((m) => {
      seen.push(m);
    });
    // @ts-expect-error total is missing
    await expect(orders.publish({ id: 1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(orders.publish({ id: 1.5, total: 1 })).rejects.toThrow(/id/);
    await orders.publish({ id: 7, total: 1 });
    await until('the valid message', () => seen.length === 1);
    expect(seen).toEqual([{ id: 7, total: 1 }]);
  });

  it('sends invalid messages from outside to onInvalid and keeps delivering', async () => {
    const invalid: InvalidMessage[] = [];
    const seen: unknown[] = [];
    const orders = createChannel({
      backend: await world.client(),
      name: 'orders',
      schema: Order,
      onInvalid: (i) => invalid.push(i),
    });
    await orders.subscribe((m) => {
      seen.push(m);
    });
    await world.backend.publish('orders', 'not json {');
    await world.backend.publish('orders', JSON.stringify({ id: 'x', total: 1 }));
    await world.backend.publish('orders', JSON.stringify({ id: 5, total: 2 })); // foreign but valid
    await until('the foreign valid message', () => seen.length === 1);
    expect(seen).toEqual([{ id: 5, total: 2 }]);
    expect(invalid.map((i) => i.raw)).toEqual(['not json {', '{"id":"x","total":1}']);
    expect(invalid.map((i) => (i.error as { code?: string }).code)).toEqual([
      'VALIDATION',
      'VALIDATION',
    ]);
    expect(invalid[1]?.error.message).toMatch(/id/);
  });

  it('one handler throwing does not stop delivery to the others; errors reach onError', async () => {
    const errors: Array<[unknown, string]> = [];
    const channel = async () =>
      createChannel({
        backend: await world.client(),
        name: 'jobs',
        onError: (error, context) => errors.push([error, context.channel]),
      });
    const good: unknown[] = [];
    await (await channel()).subscribe(() => {
      throw new Error('sync boom');
    });
    await (await channel()).subscribe(async () => {
      throw new Error('async boom');
    });
    await (await channel()).subscribe((m) => {
      good.push(m);
    });
    const publisher = createChannel({ backend: world.backend, name: 'jobs' });
    expect(await publisher.publish(1)).toBe(3);
    await publisher.publish(2);
    await until('both messages at the good handler', () => good.length === 2);
    await until('four errors', () => errors.length === 4);
    expect(good).toEqual([1, 2]);
    expect(errors.map(([e]) => (e as Error).message).sort()).toEqual([
      'async boom',
      'async boom',
      'sync boom',
      'sync boom',
    ]);
    expect(errors.every(([, c]) => c === 'jobs')).toBe(true);
  });

  it('reports gaps in a publisher’s numbering with the count', async () => {
    const gaps: Gap[] = [];
    const seen: unknown[] = [];
    const channel = createChannel({
      backend: await world.client(),
      name: 'g',
      onGap: (g) => gaps.push(g),
    });
    await channel.subscribe((m) => {
      seen.push(m);
    });
    const envelope = (seq: number) => `{"$rbp":"pub-1","s":${seq},"m":${seq}}`;
    for (const seq of [1, 2, 5, 6, 6, 10]) await world.backend.publish('g', envelope(seq));
    await until('six messages', () => seen.length === 6);
    expect(seen).toEqual([1, 2, 5, 6, 6, 10]);
    expect(gaps).toEqual([
      { channel: 'g', publisherId: 'pub-1', missed: 2, expectedSeq: 3, receivedSeq: 5 },
      { channel: 'g', publisherId: 'pub-1', missed: 3, expectedSeq: 7, receivedSeq: 10 },
    ]);
  });

  it('a real publisher numbers its messages without gaps', async () => {
    const gaps: Gap[] = [];
    const seen: Array<number | undefined> = [];
    const channel = createChannel({
      backend: await world.client(),
      name: 'seq',
      onGap: (g) => gaps.push(g),
    });
    await channel.subscribe((_, meta) => {
      seen.push(meta.seq);
    });
    const publisher = createChannel({ backend: world.backend, name: 'seq' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => publisher.publish(i)));
    // A message rejected before sending does not use up a sequence number.
    await expect(publisher.publish(() => 1)).rejects.toMatchObject({ code: 'VALIDATION' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => publisher.publish(100 + i)));
    await until('200 messages', () => seen.length === 200);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
  });

  it('iterator backpressure: drop-oldest counts what it dropped', async () => {
    const channel = createChannel({ backend: world.backend, name: 'bp' });
    const iterator = channel.subscribe({ bufferSize: 3 });
    await iterator.ready;
    for (let i = 1; i <= 10; i++) await channel.publish(i);
    await until('all ten received', () => iterator.dropped + iterator.buffered === 10);
    expect(iterator.dropped).toBe(7);
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) got.push((await iterator.next()).value);
    expect(got).toEqual([8, 9, 10]);
    await iterator.unsubscribe();
  });

  it("iterator backpressure: overflow 'error' ends the iteration with BUFFER_OVERFLOW", async () => {
    const channel = createChannel({
      backend: world.backend,
      name: 'bp',
      overflow: 'error',
      bufferSize: 2,
    });
    const iterator = channel.subscribe();
    await iterator.ready;
    await channel.publish(1);
    await channel.publish(2);
    await until('two buffered', () => iterator.buffered === 2);
    await channel.publish(3);
    // The overflow closes the subscription.
    await until('unsubscribed', async () => (await channel.publish(4)) === 0);
    const got: unknown[] = [];
    const failure = await (async () => {
      try {
        for await (const m of iterator) got.push(m);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toMatchObject({ code: 'BUFFER_OVERFLOW', bufferSize: 2, channel: 'bp' });
    // What was buffered before the overflow is still read, then the iteration throws.
    expect(got).toEqual([1, 2]);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('channels of different scopes do not hear each other', async () => {
    const other = (await world.client()).scoped('other-tenant');
    const seen: unknown[] = [];
    await createChannel({ backend: other, name: 'orders' }).subscribe((m) => {
      seen.push(m);
    });
    expect(await createChannel({ backend: world.backend, name: 'orders' }).publish(1)).toBe(0);
    expect(await createChannel({ backend: other, name: 'orders' }).publish(2)).toBe(1);
    await until('the same-scope message', () => seen.length === 1);
    expect(seen).toEqual([2]);
  });
});
