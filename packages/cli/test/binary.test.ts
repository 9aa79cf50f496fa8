import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, redisConnectionSource } from '@redbrick/core';
import { type World, worldTargets } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restore } from '../src/index.js';
import { build, redbrick } from './support/cli.js';
import { backupToString } from './support/data.js';

const dir = mkdtempSync(join(tmpdir(), 'redbrick-cli-bin-values-'));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `b${n++}.jsonl`);
  writeFileSync(f, text);
  return f;
};

/** A raw ioredis client (Redis or Cluster), reading and writing Buffers: the ground truth. */
interface RawClient {
  callBuffer(command: string, ...args: Array<string | number | Buffer>): Promise<unknown>;
  quit(): Promise<unknown>;
}

function rawClient(backend: Backend): RawClient {
  const source = redisConnectionSource(backend);
  if (source === undefined) throw new Error('not a Redis backend');
  return source.createClient() as RawClient;
}

/** Random bytes that are not valid UTF-8 (plus a few classic offenders). */
function binary(): Buffer {
  for (;;) {
    const b = randomBytes(1 + Math.floor(Math.random() * 48));
    if (!isUtf8(b)) return b;
  }
}
const offenders = [
  Buffer.from([0xff]),
  Buffer.from([0xc3]), // a lead byte without its continuation
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded UTF-16 surrogate
  Buffer.from([0x00, 0xfe, 0xff, 0x0a, 0x0d]),
  Buffer.from('ok before \u00e9', 'latin1'), // Latin-1 é
];

type Data = Map<string, { type: string; write: Array<Array<string | number | Buffer>> }>;

/** One key of every type holding bytes that are not UTF-8, plus text keys (one with a real U+FFFD). */
function dataSet(): Data {
  const data: Data = new Map();
  const items = () => [...offenders, ...Array.from({ length: 6 }, binary)];
  for (const [i, b] of items().entries()) {
    data.set(`bin:s:${i}`, { type: 'string', write: [['SET', `bin:s:${i}`, b]] });
  }
  data.set('bin:h', {
    type: 'hash',
    write: [['HSET', 'bin:h', ...items().flatMap((b) => [b, binary()]), 'text-field', binary()]],
  });
  data.set('bin:l', { type: 'list', write: [['RPUSH', 'bin:l', ...items(), 'text', binary()]] });
  data.set('bin:set', { type: 'set', write: [['SADD', 'bin:set', ...items(), 'text']] });
  data.set('bin:z', {
    type: 'zset',
    write: [
      ['ZADD', 'bin:z', 'inf', binary(), '-inf', binary(), 1.5, 'text'],
      ...items().map((b, i) => ['ZADD', 'bin:z', i * 0.1 - 7e-12, b]),
    ],
  });
  data.set('bin:x', {
    type: 'stream',
    write: [
      ['XADD', 'bin:x', '5-1', binary(), binary(), 'text', 'value'],
      ['XADD', 'bin:x', '5-2', 'f', binary()],
    ],
  });
  data.set('bin:ttl', { type: 'string', write: [['SET', 'bin:ttl', binary(), 'PX', 600_000]] });
  data.set('text:fffd', { type: 'string', write: [['SET', 'text:fffd', 'a\uFFFDb 😀']] });
  data.set('text:plain', { type: 'hash', write: [['HSET', 'text:plain', 'name', 'Zürich']] });
  return data;
}

/** Every key's exact bytes, as hex, read with the raw client (sets sorted: no order). */
async function bytesOf(raw: RawClient, prefix: string, keys: Iterable<string>) {
  const hex = (reply: unknown): unknown =>
    Buffer.isBuffer(reply) ? reply.toString('hex') : Array.isArray(reply) ? reply.map(hex) : reply;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const key = prefix + k;
    const type = String(await raw.callBuffer('TYPE', key));
    const read: Record<string, () => Promise<unknown>> = {
      string: () => raw.callBuffer('GET', key),
      hash: () => raw.callBuffer('HGETALL', key),
      list: () => raw.callBuffer('LRANGE', key, 0, -1),
      set: async () => ((await raw.callBuffer('SMEMBERS', key)) as Buffer[]).sort(Buffer.compare),
      zset: () => raw.callBuffer('ZRANGE', key, 0, -1, 'WITHSCORES'),
      stream: () => raw.callBuffer('XRANGE', key, '-', '+'),
    };
    const hasTtl = Number(await raw.callBuffer('PTTL', key)) > 0;
    out[k] = { type, hasTtl, value: hex(await (read[type] ?? (async () => null))()) };
  }
  return out;
}

async function load(raw: RawClient, prefix: string, data: Data) {
  for (const { write } of data.values()) {
    for (const [command, key, ...args] of write) {
      await raw.callBuffer(String(command), prefix + String(key), ...args);
    }
  }
}

const redisTargets = worldTargets({ prefix: 'clibin' }).filter(
  (t) => t.name === 'redis' || t.name === 'cluster',
);

describe.each(redisTargets)('binary values on $name', (wt) => {
  it('backs up bytes that are not UTF-8 as base64 and restores them byte for byte', async () => {
    await using source = await wt.open();
    await using target = await wt.open();
    const raw = rawClient(source.backend);
    try {
      const data = dataSet();
      await load(raw, source.backend.prefix, data);
      const expected = await bytesOf(raw, source.backend.prefix, data.keys());
      expect(Object.keys(expected)).toHaveLength(data.size);

      const text = await backupToString(source.backend);
      const records = text
        .trim()
        .split('\n')
        .slice(1, -1)
        .map((l) => JSON.parse(l) as { key: string; encoding?: string; value: unknown });
      const byKey = new Map(records.map((r) => [r.key, r]));
      expect(byKey.size).toBe(data.size);
      for (const [key, r] of byKey) {
        // Keys holding non-UTF-8 bytes are base64 records; text keys stay plain text.
        expect({ key, encoding: r.encoding }).toEqual({
          key,
          encoding: key.startsWith('bin:') ? 'base64' : undefined,
        });
      }
      expect(byKey.get('text:fffd')?.value).toBe('a\uFFFDb 😀');
      expect(byKey.get('bin:s:0')?.value).toBe(Buffer.from([0xff]).toString('base64'));

      const result = await restore(target.backend, file(text));
      expect(result).toMatchObject({ restored: data.size, errors: [] });
      expect(await bytesOf(raw, target.backend.prefix, data.keys())).toEqual(expected);
      // Restoring the same file again over the keys gives the same bytes (no appending).
      await restore(target.backend, file(text), { mode: 'replace' });
      expect(await bytesOf(raw, target.backend.prefix, data.keys())).toEqual(expected);
    } finally {
      await raw.quit();
    }
  });
});

describe.each(worldTargets({ prefix: 'clibin' }).filter((t) => t.name === 'memory'))(
  'base64 records on $name',
  (wt) => {
    it('restores them as the text their bytes decode to', async () => {
      await using world = await wt.open();
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const lines = [
        { redbrick: 'backup', version: 1, createdAt: '', source: 'redis', match: '*' },
        { key: 's', type: 'string', ttlMs: null, encoding: 'base64', value: b64('héllo') },
        {
          key: 'z',
          type: 'zset',
          ttlMs: 60_000,
          encoding: 'base64',
          value: [[b64('m'), 'inf']],
        },
        {
          key: 'x',
          type: 'stream',
          ttlMs: null,
          encoding: 'base64',
          value: [['1-1', [[b64('f'), b64('v')]]]],
        },
        { redbrick: 'end', keys: 3 },
      ];
      const f = file(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      expect(await restore(world.backend, f)).toMatchObject({ restored: 3, errors: [] });
      expect(await world.backend.get('s')).toBe('héllo');
      expect(await world.backend.zscore('z', 'm')).toBe(Number.POSITIVE_INFINITY);
      expect(await world.backend.pttl('z')).toBeGreaterThan(50_000);
      expect(await world.backend.xrange('x')).toEqual([{ id: '1-1', fields: { f: 'v' } }]);
      // Not base64: refused before anything is written.
      const bad = file(
        `${[lines[0], { ...lines[1], key: 't', value: 'not base64!' }, { redbrick: 'end', keys: 1 }]
          .map((l) => JSON.stringify(l))
          .join('\n')}\n`,
      );
      await expect(restore(world.backend, bad)).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringContaining('"value" must be a base64 string'),
      });
      expect(await world.backend.exists('t')).toBe(0);
      // A real U+FFFD in memory is text: its record stays plain.
      await world.backend.set('fffd', 'a\uFFFDb');
      expect(await backupToString(world.backend, 'fffd')).toContain(
        '{"key":"fffd","type":"string","ttlMs":null,"value":"a\uFFFDb"}',
      );
    });
  },
);

describe.each(worldTargets({ prefix: 'clibin' }).filter((t) => t.name === 'cluster'))(
  'redbrick --cluster on $name',
  (wt) => {
    let world: World;
    beforeAll(async () => {
      build();
      world = await wt.open();
    });
    afterAll(() => world?.close());

    it('scans every master (backup, stats, ttl) and restores binary values exactly', {
      timeout: 60_000,
    }, async () => {
      const config = (await wt.target.config()) as { cluster?: { nodes: string[] } };
      const nodes = (config.cluster?.nodes ?? []).map((u) => u.replace(/^redis:\/\//, ''));
      expect(nodes.length).toBeGreaterThan(0);
      const cluster = ['--cluster', nodes.join(',')];
      const prefix = world.backend.prefix;
      const raw = rawClient(world.backend);
      try {
        // 60 keys without a hash tag land on every master.
        for (let i = 0; i < 60; i++) await world.backend.set(`k:${i}`, `v${i}`);
        const data = dataSet();
        await load(raw, prefix, data);
        const masters = [];
        for (const server of await world.servers()) {
          const [role] = (await server.command('ROLE')) as [string];
          if (role !== 'master') continue;
          const [, keys] = (await server.command(
            'SCAN',
            0,
            'MATCH',
            `${prefix}k:*`,
            'COUNT',
            1000,
          )) as [string, string[]];
          masters.push(keys.length);
        }
        expect(masters.length).toBeGreaterThanOrEqual(3);
        for (const count of masters) expect(count).toBeGreaterThan(0);

        const out = join(dir, 'cluster.jsonl');
        const b = await redbrick(['backup', ...cluster, '--match', `${prefix}*`, '-o', out]);
        expect(b.stderr).toBe('');
        expect(b.code).toBe(0);
        expect(b.stdout).toContain(`backed up ${60 + data.size} keys`);
        expect(readFileSync(out, 'utf8')).toContain('"encoding":"base64"');

        const s = await redbrick(['stats', ...cluster, '--match', `${prefix}k:*`, '--json']);
        expect(s.code).toBe(0);
        expect((JSON.parse(s.stdout) as { keys: number }).keys).toBe(60);
        const t = await redbrick(['ttl', ...cluster, '--match', `${prefix}k:*`, '--set', '900']);
        expect(t.stdout).toMatch(/^60 key\(s\) matched, 60 changed/);

        const copy = `copy-${prefix}`;
        const r = await redbrick(['restore', out, ...cluster, '--prefix', copy]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(new RegExp(`^restored ${60 + data.size} keys`));
        expect(await bytesOf(raw, `${copy}${prefix}`, data.keys())).toEqual(
          await bytesOf(raw, prefix, data.keys()),
        );

        const both = await redbrick(['stats', ...cluster, '--url', 'redis://127.0.0.1:1']);
        expect(both.code).toBe(2);
        expect(both.stderr).toContain('give at most one of --url and --cluster');
      } finally {
        await raw.quit();
      }
    });
  },
);
