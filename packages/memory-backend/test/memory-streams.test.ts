import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../src/index.js';
import { fakeClock, rejection } from './helpers.js';

describe('streams (memory specifics)', () => {
  it('ids keep growing when the clock goes backwards', async () => {
    const clock = fakeClock(10_000);
    const b = createMemoryBackend({ clock: clock.now, activeExpiry: false });
    expect(await b.xadd('s', { n: '1' })).toBe('10000-0');
    expect(await b.xadd('s', { n: '2' })).toBe('10000-1');
    clock.set(5_000);
    expect(await b.xadd('s', { n: '3' })).toBe('10000-2');
    clock.set(20_000);
    expect(await b.xadd('s', { n: '4' })).toBe('20000-0');
    await b.close();
  });

  it('rejects ids above 2^53 − 1 as invalid (Redis allows up to 2^64 − 1)', async () => {
    const b = createMemoryBackend();
    const error = await rejection(b.xadd('s', { f: 'v' }, { id: '18446744073709551615-0' }));
    expect(error.code).toBe('COMMAND');
    expect(error.message).toMatch(/Invalid stream ID/);
    expect(await b.xadd('s', { f: 'v' }, { id: '9007199254740991-0' })).toBe('9007199254740991-0');
    await b.close();
  });

  it('stays correct while trimming far more entries than it keeps', async () => {
    const b = createMemoryBackend();
    for (let i = 1; i <= 5_000; i++) {
      await b.xadd('s', { i: String(i) }, { id: `${i}-0`, maxLen: 10, approximate: false });
    }
    expect(await b.xlen('s')).toBe(10);
    expect((await b.xrange('s')).map((e) => e.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${4_991 + i}-0`),
    );
    expect(await b.xdel('s', '4995-0')).toBe(1);
    expect(await b.xrange('s', '4994', '4996')).toHaveLength(2);
    expect(await b.xtrim('s', { minId: '4998-0' })).toBe(6);
    expect((await b.xrange('s')).map((e) => e.id)).toEqual(['4998-0', '4999-0', '5000-0']);
    await b.close();
  });

  it('xautoclaim looks at no more than COUNT × 10 pending entries per call, like Redis', async () => {
    const b = createMemoryBackend();
    for (let i = 1; i <= 25; i++) await b.xadd('s', { i: String(i) }, { id: `${i}-0` });
    await b.xgroupCreate('s', 'g', { id: '0' });
    await b.xreadgroup('s', 'g', 'c');
    const claim = await b.xautoclaim('s', 'g', 'other', 3_600_000, '0', { count: 1 });
    expect(claim).toEqual({ next: '11-0', entries: [], deleted: [] });
    await b.close();
  });

  it('returned entries are copies: changing them does not change the stream', async () => {
    const b = createMemoryBackend();
    await b.xadd('s', { f: 'v' }, { id: '1-0' });
    const [entry] = await b.xrange('s');
    if (entry) entry.fields.f = 'changed';
    expect((await b.xrange('s'))[0]?.fields).toEqual({ f: 'v' });
    await b.close();
  });
});
