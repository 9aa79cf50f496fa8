import type { Backend } from '@redbrick/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectCode, sleep } from './context.js';

const ID = /^\d+-\d+$/;

function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/** A stream `s` with entries 1-0 … n-0 (fields { n: '<i>' }) and a group `g` from the start. */
async function streamWithGroup(b: Backend, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= n; i++)
    ids.push((await b.xadd('s', { n: String(i) }, { id: `${i}-0` })) ?? '');
  expect(await b.xgroupCreate('s', 'g', { id: '0' })).toBe(true);
  return ids;
}

export function streamTests(ctx: ConformanceContext): void {
  describe('streams', () => {
    it('xadd appends with increasing <ms>-<seq> ids; xlen and xrange read them', async () => {
      const b = ctx.fresh();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await b.xadd('s', { i: String(i), name: 'x' });
        expect(id).toMatch(ID);
        ids.push(id as string);
      }
      for (let i = 1; i < ids.length; i++) {
        expect(compareIds(ids[i - 1] as string, ids[i] as string)).toBe(-1);
      }
      expect(await b.xlen('s')).toBe(5);
      const all = await b.xrange('s');
      expect(all.map((e) => e.id)).toEqual(ids);
      expect(all[2]?.fields).toEqual({ i: '2', name: 'x' });
      expect(await b.xrange('s', '-', '+', 2)).toEqual(all.slice(0, 2));
      expect(await b.xrange('s', ids[1], ids[3])).toEqual(all.slice(1, 4));
      expect(await b.xrange('s', `(${ids[1]}`, '+')).toEqual(all.slice(2));
      expect(await b.xrange('s', '-', `(${ids[4]}`)).toEqual(all.slice(0, 4));
      expect(await b.xrange('none')).toEqual([]);
      expect(await b.xlen('none')).toBe(0);
    });

    it('explicit ids must grow; <ms>-* picks the next sequence', async () => {
      const b = ctx.fresh();
      await expectCode(() => b.xadd('s', { a: '1' }, { id: '0-0' }), 'COMMAND', /greater than 0-0/);
      expect(await b.exists('s')).toBe(0);
      expect(await b.xadd('s', { a: '1' }, { id: '5-1' })).toBe('5-1');
      await expectCode(() => b.xadd('s', { a: '1' }, { id: '5-1' }), 'COMMAND', /equal or smaller/);
      await expectCode(() => b.xadd('s', { a: '1' }, { id: '4-9' }), 'COMMAND', /equal or smaller/);
      await expectCode(() => b.xadd('s', { a: '1' }, { id: '5' }), 'COMMAND', /equal or smaller/);
      await expectCode(
        () => b.xadd('s', { a: '1' }, { id: 'abc' }),
        'COMMAND',
        /Invalid stream ID/,
      );
      expect(await b.xadd('s', { a: '1' }, { id: '5-*' })).toBe('5-2');
      expect(await b.xadd('s', { a: '1' }, { id: '6' })).toBe('6-0');
      const auto = await b.xadd('s', { a: '1' });
      expect(compareIds(auto as string, '6-0')).toBe(1);
      expect(await b.xrange('s', '5', '5')).toHaveLength(2);
      await expectCode(() => b.xrange('s', 'nope', '+'), 'COMMAND', /Invalid stream ID/);
    });

    it('noMkStream does not create a missing stream', async () => {
      const b = ctx.fresh();
      expect(await b.xadd('s', { a: '1' }, { noMkStream: true })).toBeNull();
      expect(await b.exists('s')).toBe(0);
      await b.xadd('s', { a: '1' });
      expect(await b.xadd('s', { a: '2' }, { noMkStream: true })).toMatch(ID);
      expect(await b.xlen('s')).toBe(2);
    });

    it('maxLen trims the oldest entries: exactly, or at least to maxLen when approximate', async () => {
      const b = ctx.fresh();
      for (let i = 1; i <= 10; i++) {
        await b.xadd('exact', { i: String(i) }, { maxLen: 3, approximate: false });
        await b.xadd('approx', { i: String(i) }, { maxLen: 3 });
      }
      expect(await b.xlen('exact')).toBe(3);
      expect((await b.xrange('exact')).map((e) => e.fields.i)).toEqual(['8', '9', '10']);
      const approx = await b.xlen('approx');
      expect(approx).toBeGreaterThanOrEqual(3);
      expect(approx).toBeLessThanOrEqual(10);
      const kept = (await b.xrange('approx')).map((e) => e.fields.i);
      expect(kept.slice(-3)).toEqual(['8', '9', '10']);
    });

    it('xdel removes entries; an emptied stream stays (streams do not vanish)', async () => {
      const b = ctx.fresh();
      const a = await b.xadd('s', { f: '1' }, { id: '1-0' });
      await b.xadd('s', { f: '2' }, { id: '2-0' });
      expect(await b.xdel('s', a as string, '9-9', a as string)).toBe(1);
      expect(await b.xlen('s')).toBe(1);
      expect(await b.xdel('s', '2-0')).toBe(1);
      expect(await b.xlen('s')).toBe(0);
      expect(await b.type('s')).toBe('stream');
      expect(await b.xdel('none', '1-0')).toBe(0);
      // the last id is remembered: a smaller explicit id is still refused
      await expectCode(() => b.xadd('s', { f: '3' }, { id: '1-5' }), 'COMMAND', /equal or smaller/);
    });

    it('xtrim by maxLen or minId returns how many entries it removed', async () => {
      const b = ctx.fresh();
      for (let i = 1; i <= 10; i++) await b.xadd('s', { i: String(i) }, { id: `${i}-0` });
      expect(await b.xtrim('s', { maxLen: 7, approximate: false })).toBe(3);
      expect(await b.xlen('s')).toBe(7);
      expect(await b.xtrim('s', { minId: '6-0', approximate: false })).toBe(2);
      expect((await b.xrange('s', '-', '+', 1))[0]?.id).toBe('6-0');
      const removed = await b.xtrim('s', { maxLen: 2 });
      expect(removed).toBeGreaterThanOrEqual(0);
      expect(await b.xlen('s')).toBe(5 - removed);
      expect(await b.xlen('s')).toBeGreaterThanOrEqual(2);
      expect(await b.xtrim('none', { maxLen: 1 })).toBe(0);
      expect(await b.xtrim('s', { maxLen: 0, approximate: false })).toBeGreaterThan(0);
      expect(await b.type('s')).toBe('stream');
    });

    it('xgroupCreate: needs the stream (or mkStream), false when the group exists', async () => {
      const b = ctx.fresh();
      await expectCode(() => b.xgroupCreate('s', 'g'), 'COMMAND', /requires the key to exist/);
      expect(await b.exists('s')).toBe(0);
      expect(await b.xgroupCreate('s', 'g', { mkStream: true })).toBe(true);
      expect(await b.type('s')).toBe('stream');
      expect(await b.xlen('s')).toBe(0);
      expect(await b.xgroupCreate('s', 'g')).toBe(false);
      expect(await b.xgroupCreate('s', 'g2', { id: '0' })).toBe(true);
    });

    it("a group made at '$' sees only later entries; one at '0' sees all", async () => {
      const b = ctx.fresh();
      await b.xadd('s', { n: 'before' });
      await b.xgroupCreate('s', 'late');
      await b.xgroupCreate('s', 'all', { id: '0' });
      await b.xadd('s', { n: 'after' });
      expect((await b.xreadgroup('s', 'late', 'c')).map((e) => e.fields.n)).toEqual(['after']);
      expect((await b.xreadgroup('s', 'all', 'c')).map((e) => e.fields.n)).toEqual([
        'before',
        'after',
      ]);
      expect(await b.xreadgroup('s', 'all', 'c')).toEqual([]);
    });

    it('xreadgroup hands out new entries once per group, count at a time', async () => {
      const b = ctx.fresh();
      const ids = await streamWithGroup(b, 5);
      const first = await b.xreadgroup('s', 'g', 'alice', { count: 2 });
      expect(first.map((e) => e.id)).toEqual(ids.slice(0, 2));
      expect(first[0]?.fields).toEqual({ n: '1' });
      const second = await b.xreadgroup('s', 'g', 'bob', { count: 2 });
      expect(second.map((e) => e.id)).toEqual(ids.slice(2, 4));
      expect((await b.xreadgroup('s', 'g', 'alice')).map((e) => e.id)).toEqual(ids.slice(4));
      expect(await b.xreadgroup('s', 'g', 'alice', { count: 10 })).toEqual([]);
    });

    it('pending entries: summary, ranges, delivery counts, ack', async () => {
      const b = ctx.fresh();
      const ids = await streamWithGroup(b, 4);
      await b.xreadgroup('s', 'g', 'bob', { count: 1 });
      await b.xreadgroup('s', 'g', 'alice', { count: 3 });
      expect(await b.xpending('s', 'g')).toEqual({
        count: 4,
        minId: ids[0],
        maxId: ids[3],
        consumers: [
          { name: 'alice', count: 3 },
          { name: 'bob', count: 1 },
        ],
      });
      const range = await b.xpendingRange('s', 'g');
      expect(range.map((p) => [p.id, p.consumer, p.deliveries])).toEqual([
        [ids[0], 'bob', 1],
        [ids[1], 'alice', 1],
        [ids[2], 'alice', 1],
        [ids[3], 'alice', 1],
      ]);
      for (const p of range) expect(p.idleMs).toBeGreaterThanOrEqual(0);
      expect((await b.xpendingRange('s', 'g', { consumer: 'bob' })).map((p) => p.id)).toEqual([
        ids[0],
      ]);
      expect(
        (await b.xpendingRange('s', 'g', { start: ids[1], end: ids[2] })).map((p) => p.id),
      ).toEqual([ids[1], ids[2]]);
      expect((await b.xpendingRange('s', 'g', { count: 1 })).map((p) => p.id)).toEqual([ids[0]]);
      expect(await b.xpendingRange('s', 'g', { minIdleMs: 3_600_000 })).toEqual([]);

      expect(await b.xack('s', 'g', ids[1] as string, ids[2] as string, '99-0')).toBe(2);
      expect(await b.xack('s', 'g', ids[1] as string)).toBe(0);
      expect(await b.xack('s', 'nogroup', ids[0] as string)).toBe(0);
      expect(await b.xack('nokey', 'g', ids[0] as string)).toBe(0);
      const after = await b.xpending('s', 'g');
      expect(after.count).toBe(2);
      expect(after.consumers).toEqual([
        { name: 'alice', count: 1 },
        { name: 'bob', count: 1 },
      ]);
      await b.xack('s', 'g', ids[0] as string, ids[3] as string);
      expect(await b.xpending('s', 'g')).toEqual({
        count: 0,
        minId: null,
        maxId: null,
        consumers: [],
      });
    });

    it("reading with an id re-reads the consumer's own pending entries and counts a delivery", async () => {
      const b = ctx.fresh();
      const ids = await streamWithGroup(b, 3);
      await b.xreadgroup('s', 'g', 'alice', { count: 2 });
      await b.xreadgroup('s', 'g', 'bob', { count: 1 });
      const again = await b.xreadgroup('s', 'g', 'alice', { id: '0' });
      expect(again.map((e) => e.id)).toEqual(ids.slice(0, 2));
      expect(again[1]?.fields).toEqual({ n: '2' });
      expect((await b.xreadgroup('s', 'g', 'alice', { id: ids[0] })).map((e) => e.id)).toEqual([
        ids[1],
      ]);
      const pending = await b.xpendingRange('s', 'g', { consumer: 'alice' });
      expect(pending.map((p) => p.deliveries)).toEqual([2, 3]);
      // an entry deleted while pending comes back with no fields
      await b.xdel('s', ids[0] as string);
      const gone = await b.xreadgroup('s', 'g', 'alice', { id: '0' });
      expect(gone[0]).toEqual({ id: ids[0], fields: {} });
      expect(gone[1]?.id).toBe(ids[1]);
    });

    it('noAck reads do not enter the pending list', async () => {
      const b = ctx.fresh();
      await streamWithGroup(b, 2);
      expect(await b.xreadgroup('s', 'g', 'c', { noAck: true })).toHaveLength(2);
      expect((await b.xpending('s', 'g')).count).toBe(0);
    });

    it('xautoclaim moves idle pending entries to another consumer', async () => {
      const b = ctx.fresh();
      const ids = await streamWithGroup(b, 4);
      await b.xreadgroup('s', 'g', 'dead', { count: 4 });
      const none = await b.xautoclaim('s', 'g', 'alive', 3_600_000, '0-0');
      expect(none.entries).toEqual([]);
      expect(none.deleted).toEqual([]);
      await sleep(30);
      const first = await b.xautoclaim('s', 'g', 'alive', 10, '0-0', { count: 2 });
      expect(first.entries.map((e) => e.id)).toEqual(ids.slice(0, 2));
      expect(first.entries[0]?.fields).toEqual({ n: '1' });
      expect(first.next).toBe(ids[2]);
      expect(first.deleted).toEqual([]);
      const rest = await b.xautoclaim('s', 'g', 'alive', 10, first.next);
      expect(rest.entries.map((e) => e.id)).toEqual(ids.slice(2));
      expect(rest.next).toBe('0-0');
      const pending = await b.xpendingRange('s', 'g');
      expect(pending.map((p) => [p.consumer, p.deliveries])).toEqual([
        ['alive', 2],
        ['alive', 2],
        ['alive', 2],
        ['alive', 2],
      ]);
      expect((await b.xpending('s', 'g')).consumers).toEqual([{ name: 'alive', count: 4 }]);
    });

    it('xautoclaim reports and drops pending entries that were deleted', async () => {
      const b = ctx.fresh();
      const ids = await streamWithGroup(b, 3);
      await b.xreadgroup('s', 'g', 'dead');
      await b.xdel('s', ids[1] as string);
      const claimed = await b.xautoclaim('s', 'g', 'alive', 0, '-');
      expect(claimed.entries.map((e) => e.id)).toEqual([ids[0], ids[2]]);
      expect(claimed.deleted).toEqual([ids[1]]);
      expect(claimed.next).toBe('0-0');
      expect((await b.xpending('s', 'g')).count).toBe(2);
    });

    it('NOGROUP for a missing group or stream', async () => {
      const b = ctx.fresh();
      await b.xadd('s', { a: '1' });
      await expectCode(() => b.xreadgroup('s', 'nope', 'c'), 'COMMAND', /NOGROUP/);
      await expectCode(() => b.xreadgroup('nokey', 'g', 'c'), 'COMMAND', /NOGROUP/);
      await expectCode(() => b.xpending('s', 'nope'), 'COMMAND', /NOGROUP/);
      await expectCode(() => b.xpendingRange('s', 'nope'), 'COMMAND', /NOGROUP/);
      await expectCode(() => b.xautoclaim('s', 'nope', 'c', 0), 'COMMAND', /NOGROUP/);
    });

    it('WRONGTYPE for stream commands on another type', async () => {
      const b = ctx.fresh();
      await b.set('k', 'v');
      await expectCode(() => b.xadd('k', { a: '1' }), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xlen('k'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xrange('k'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xdel('k', '1-0'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xtrim('k', { maxLen: 1 }), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xgroupCreate('k', 'g'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xreadgroup('k', 'g', 'c'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xack('k', 'g', '1-0'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xpending('k', 'g'), 'WRONGTYPE', /WRONGTYPE/);
      await expectCode(() => b.xautoclaim('k', 'g', 'c', 0), 'WRONGTYPE', /WRONGTYPE/);
      expect(await b.get('k')).toBe('v');
    });

    if (ctx.capabilities.blocking) {
      it('a blocking xreadgroup wakes up for a new entry', async () => {
        const b = ctx.fresh();
        await b.xgroupCreate('s', 'g', { mkStream: true });
        const started = Date.now();
        const read = b.xreadgroup('s', 'g', 'c', { blockMs: 10_000 });
        await sleep(50);
        const id = await b.xadd('s', { hello: 'world' });
        const entries = await read;
        expect(entries).toEqual([{ id, fields: { hello: 'world' } }]);
        expect(Date.now() - started).toBeLessThan(8_000);
        expect((await b.xpending('s', 'g')).count).toBe(1);
      });

      it('a blocking xreadgroup returns [] when nothing arrives in time', async () => {
        const b = ctx.fresh();
        await b.xgroupCreate('s', 'g', { mkStream: true });
        const started = Date.now();
        expect(await b.xreadgroup('s', 'g', 'c', { blockMs: 100 })).toEqual([]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(50);
      });

      it('a blocking xreadgroup returns at once when entries are waiting', async () => {
        const b = ctx.fresh();
        await b.xgroupCreate('s', 'g', { mkStream: true });
        await b.xadd('s', { a: '1' });
        const started = Date.now();
        expect(await b.xreadgroup('s', 'g', 'c', { blockMs: 10_000 })).toHaveLength(1);
        expect(Date.now() - started).toBeLessThan(5_000);
      });
    }
  });
}
