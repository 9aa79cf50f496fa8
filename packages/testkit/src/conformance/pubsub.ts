import type { Backend } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectValidation, sleep, waitFor } from './context.js';

interface Received {
  message: string;
  channel: string;
  pattern?: string;
}

/**
 * Subscribes to a marker channel; `settle()` publishes a marker and waits
 * until it arrives, so every message published before it has been delivered
 * (messages of one publisher arrive in order), then allows a short grace.
 */
export async function marker(
  b: Backend,
  graceMs = 20,
): Promise<{ settle: () => Promise<void>; stop: () => Promise<void> }> {
  let seen = 0;
  let sent = 0;
  const sub = await b.subscribe('__marker__', () => {
    seen++;
  });
  return {
    async settle() {
      sent++;
      const want = sent;
      await b.publish('__marker__', String(want));
      await waitFor(() => seen >= want, 'the marker message');
      await sleep(graceMs);
    },
    stop: () => sub.unsubscribe(),
  };
}

export function pubsubTests(ctx: ConformanceContext): void {
  const exact = ctx.capabilities.exactPublishCount;
  // On a cluster, messages published through different nodes may overtake each other.
  const grace = ctx.capabilities.cluster ? 250 : 20;

  describe('pub/sub', () => {
    it('delivers a message with its channel; publish counts the subscription', async () => {
      const b = ctx.fresh();
      const got: Received[] = [];
      const sub = await b.subscribe('news', (message, channel) => got.push({ message, channel }));
      const count = await b.publish('news', 'hello');
      if (exact) expect(count).toBe(1);
      else expect(count).toBeGreaterThanOrEqual(0);
      await waitFor(() => got.length === 1, 'the message');
      expect(got).toEqual([{ message: 'hello', channel: 'news' }]);
      await sub.unsubscribe();
    });

    it('publish with no subscriber reaches nobody', async () => {
      const b = ctx.fresh();
      expect(await b.publish('nobody-listens', 'x')).toBe(0);
    });

    it('delivers messages in publish order (one node), never inside publish()', async () => {
      const b = ctx.fresh();
      const got: string[] = [];
      const sub = await b.subscribe('ordered', (message) => got.push(message));
      const sends: Array<Promise<number>> = [];
      for (let i = 0; i < 50; i++) sends.push(b.publish('ordered', String(i)));
      expect(got).toEqual([]);
      await Promise.all(sends);
      await waitFor(() => got.length === 50, '50 messages');
      const sent = Array.from({ length: 50 }, (_, i) => String(i));
      if (ctx.capabilities.cluster) expect([...got].sort()).toEqual([...sent].sort());
      else expect(got).toEqual(sent);
      await sub.unsubscribe();
    });

    it('every listener of a channel gets the message', async () => {
      const b = ctx.fresh();
      const one: string[] = [];
      const two: string[] = [];
      const a = await b.subscribe('shared', (m) => one.push(m));
      const c = await b.subscribe('shared', (m) => two.push(m));
      expect(await b.publish('shared', 'm')).toBeGreaterThanOrEqual(exact ? 1 : 0);
      await waitFor(() => one.length === 1 && two.length === 1, 'both listeners');
      await a.unsubscribe();
      await b.publish('shared', 'n');
      await waitFor(() => two.length === 2, 'the remaining listener');
      expect(one).toEqual(['m']);
      await c.unsubscribe();
    });

    it('psubscribe matches Redis glob patterns: *, ?, [a-z], [^x] and \\ escapes', async () => {
      const b = ctx.fresh();
      const got: Received[] = [];
      const patterns = ['news.*', 'h?llo', 'room-[a-c]', 'item-[^0-9]', 'lit\\*', 'lit\\?x'];
      const subs = await Promise.all(
        patterns.map((p) =>
          b.psubscribe(p, (message, channel, pattern) => got.push({ message, channel, pattern })),
        ),
      );
      const m = await marker(b, grace);
      const published: Array<[string, number]> = [];
      for (const channel of [
        'news.sport',
        'news.',
        'news',
        'hello',
        'hallo',
        'hllo',
        'heello',
        'room-b',
        'room-d',
        'room-bb',
        'item-x',
        'item-7',
        'lit*',
        'literal',
        'lit?x',
        'litax',
      ]) {
        published.push([channel, await b.publish(channel, `to ${channel}`)]);
      }
      await m.settle();
      const matched = got.map((r) => [r.channel, r.pattern]).sort();
      expect(matched).toEqual(
        [
          ['hallo', 'h?llo'],
          ['hello', 'h?llo'],
          ['item-x', 'item-[^0-9]'],
          ['lit*', 'lit\\*'],
          ['lit?x', 'lit\\?x'],
          ['news.', 'news.*'],
          ['news.sport', 'news.*'],
          ['room-b', 'room-[a-c]'],
        ].sort(),
      );
      for (const r of got) expect(r.message).toBe(`to ${r.channel}`);
      if (exact) {
        const counts = Object.fromEntries(published);
        expect(counts['news.sport']).toBe(1);
        expect(counts.news).toBe(0);
        expect(counts['lit*']).toBe(1);
        expect(counts.literal).toBe(0);
      }
      for (const s of subs) await s.unsubscribe();
      await m.stop();
    });

    it('a channel subscription and a matching pattern both receive (and both count)', async () => {
      const b = ctx.fresh();
      const got: string[] = [];
      const s1 = await b.subscribe('both', () => got.push('channel'));
      const s2 = await b.psubscribe('bo*', () => got.push('pattern'));
      const count = await b.publish('both', 'x');
      if (exact) expect(count).toBe(2);
      await waitFor(() => got.length === 2, 'two deliveries');
      expect(got.sort()).toEqual(['channel', 'pattern']);
      await s1.unsubscribe();
      await s2.unsubscribe();
    });

    it('unsubscribe stops delivery and is idempotent', async () => {
      const b = ctx.fresh();
      const got: string[] = [];
      const sub = await b.subscribe('ch', (m) => got.push(m));
      const psub = await b.psubscribe('c*', (m) => got.push(`p:${m}`));
      await b.publish('ch', '1');
      await waitFor(() => got.length === 2, 'both deliveries');
      await sub.unsubscribe();
      await sub.unsubscribe();
      await psub.unsubscribe();
      await psub.unsubscribe();
      const m = await marker(b, grace);
      const count = await b.publish('ch', '2');
      if (exact) expect(count).toBe(0);
      await m.settle();
      expect(got.sort()).toEqual(['1', 'p:1']);
      await m.stop();
    });

    it('channels and patterns must be non-empty strings', async () => {
      const b = ctx.fresh();
      await expectValidation(() => b.subscribe('', () => undefined), /channel|key/);
      await expectValidation(() => b.psubscribe('', () => undefined), /pattern/);
      await expectValidation(() => b.publish('', 'x'), /channel|key/);
    });
  });
}
