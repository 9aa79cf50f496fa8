import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isRedbrickError } from '@redbrick/core';
import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { restore } from '../src/index.js';
import { backupToString, snapshot } from './support/data.js';

const dir = mkdtempSync(join(tmpdir(), 'redbrick-cli-restore-'));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `b${n++}.jsonl`);
  writeFileSync(f, text);
  return f;
};
const header = JSON.stringify({
  redbrick: 'backup',
  version: 1,
  createdAt: '',
  source: 't',
  match: '*',
});
const line = (o: unknown) => JSON.stringify(o);
const good = (key: string, value = 'v') => line({ key, type: 'string', ttlMs: null, value });

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe.each(worldTargets({ prefix: 'cli' }))('restore on $name', (wt) => {
  it('restores TTLs relative to now (the remaining TTL at backup time)', async () => {
    await using w = await wt.open();
    await w.backend.set('session', 'x', { ttlMs: 60_000 });
    const text = await backupToString(w.backend);
    await w.elapse(2000);
    await w.backend.del('session');
    await restore(w.backend, file(text));
    const pttl = await w.backend.pttl('session');
    // Absolute expiry would leave ≤ 58 s; relative gives nearly the full 60 s again.
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses to overwrite without a mode, and writes nothing then', async () => {
    await using w = await wt.open();
    const f = file(
      [header, good('a', 'new'), good('b', 'new'), line({ redbrick: 'end', keys: 2 })].join('\n'),
    );
    await w.backend.set('b', 'old');
    const error = await rejection(restore(w.backend, f));
    expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
    expect(error.message).toMatch(
      /^\[redbrick\/cli\] 1 key\(s\) of the backup already exist \(b\); nothing was written/,
    );
    expect(await w.backend.get('a')).toBeNull();
    expect(await w.backend.get('b')).toBe('old');

    expect(await restore(w.backend, f, { mode: 'skip-existing' })).toEqual({
      restored: 1,
      skipped: 1,
      replaced: 0,
      errors: [],
    });
    expect(await w.backend.get('b')).toBe('old');
    await w.backend.set('a', 'changed');
    await w.backend.rpush('c', 'x');
    expect(await restore(w.backend, f, { mode: 'replace' })).toMatchObject({
      restored: 2,
      replaced: 2,
    });
    expect([await w.backend.get('a'), await w.backend.get('b')]).toEqual(['new', 'new']);
  });

  it('replaces a key of another type and does not append to an existing list', async () => {
    await using w = await wt.open();
    await w.backend.rpush('l', 'a', 'b');
    const text = await backupToString(w.backend);
    await w.backend.del('l');
    await w.backend.set('l', 'string now');
    await restore(w.backend, file(text), { mode: 'replace' });
    expect(await w.backend.lrange('l', 0, -1)).toEqual(['a', 'b']);
    await restore(w.backend, file(text), { mode: 'replace' });
    expect(await w.backend.lrange('l', 0, -1)).toEqual(['a', 'b']);
  });

  it('writes under a new prefix', async () => {
    await using w = await wt.open();
    await w.backend.hset('user:1', { name: 'Ada' });
    await restore(w.backend, file(await backupToString(w.backend)), { prefix: 'copy:' });
    expect(await w.backend.hgetall('copy:user:1')).toEqual({ name: 'Ada' });
    expect(await w.backend.hgetall('user:1')).toEqual({ name: 'Ada' });
  });

  it('names the line of a corrupted, unknown-type or truncated file and writes nothing', async () => {
    await using w = await wt.open();
    const cases: Array<[string[], RegExp]> = [
      [[header, good('a'), '{"key":"b","type":"string",', good('c')], /line 3: is not valid JSON/],
      [
        [
          header,
          good('a'),
          good('b'),
          line({ key: 'c', type: 'hyperloglog', ttlMs: null, value: 'x' }),
        ],
        /line 4: has the unknown type "hyperloglog" \(allowed: string, hash, list, set, zset, stream\)/,
      ],
      [
        [header, good('a'), line({ key: 'h', type: 'hash', ttlMs: null, value: ['x'] })],
        /line 3: "value" must be an array of \[field, value\] string pairs \(type "hash"\)/,
      ],
      [
        [header, good('a'), line({ key: 't', type: 'string', ttlMs: -5, value: 'x' })],
        /line 3: "ttlMs" must be null or a positive integer/,
      ],
      [
        [header, good('a'), good('b')],
        /line 3: the file ends without its end line \(truncated backup\?\)/,
      ],
      [
        [good('a'), line({ redbrick: 'end', keys: 1 })],
        /line 1: not a redbrick backup \(no header line\)/,
      ],
      [
        [header, good('a'), line({ redbrick: 'end', keys: 5 })],
        /line 3: the end line says 5 keys but the file has 1/,
      ],
    ];
    for (const [lines, message] of cases) {
      const f = file(lines.join('\n'));
      const error = await rejection(restore(w.backend, f));
      expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
      expect(error.message).toMatch(/^\[redbrick\/cli\] /);
      expect(error.message).toMatch(message);
      expect(error.message).toContain(f);
      expect(await snapshot(w.backend)).toEqual({});
    }
  });

  it('reads from a stream factory too (validated first, then written)', async () => {
    await using w = await wt.open();
    await w.backend.sadd('s', 'a', 'ü');
    const text = await backupToString(w.backend);
    await w.backend.del('s');
    let opened = 0;
    const result = await restore(w.backend, () => {
      opened++;
      return Readable.from([text.slice(0, 10), text.slice(10)]);
    });
    expect(result.restored).toBe(1);
    expect(opened).toBe(2);
    expect((await w.backend.smembers('s')).sort()).toEqual(['a', 'ü']);
  });

  it('fails clearly on a missing file', async () => {
    await using w = await wt.open();
    const error = await rejection(restore(w.backend, join(dir, 'missing.jsonl')));
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toMatch(/cannot read the backup file ".*missing\.jsonl": no such file/);
  });

  it('with continueOnError writes the good lines and reports the bad ones by line', async () => {
    await using w = await wt.open();
    const f = file(
      [header, good('a'), 'garbage', good('b'), line({ key: 'c', type: 'nope', value: 1 })].join(
        '\n',
      ),
    );
    const result = await restore(w.backend, f, { continueOnError: true });
    expect(result.restored).toBe(2);
    expect(result.errors.map((e) => e.line)).toEqual([3, 5]);
    expect(result.errors[1]?.message).toContain('unknown type "nope"');
    expect([await w.backend.get('a'), await w.backend.get('b')]).toEqual(['v', 'v']);
  });

  it('rejects bad options naming the field', async () => {
    await using w = await wt.open();
    const f = file([header, line({ redbrick: 'end', keys: 0 })].join('\n'));
    const error = await rejection(restore(w.backend, f, { mode: 'overwrite' as 'replace' }));
    expect(error.message).toBe(
      '[redbrick/cli] mode must be one of fail-if-exists, replace, skip-existing (got "overwrite")',
    );
  });
});
