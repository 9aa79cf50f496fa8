import { PassThrough } from 'node:stream';
import type { Backend } from '@redbrick/core';
import fc from 'fast-check';
import { backup } from '../../src/index.js';

/** Strings that break naive encodings: NUL, CR/LF, BOM, bytes above 0x7f, astral code points, RTL. */
export const nasty = [
  '',
  '\u0000',
  'a\r\nb',
  '\uFEFFbom',
  'ÿþ\u0080\u00ff',
  '😀 日本 עברית',
  '{"json":"in a value"}',
  '\\x00\t"quoted"',
];

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom(...nasty));
const keyPart = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.constantFrom('*', '[x]', 'a\\b', '?', '{t}'),
);
const score = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: false }).map((d) => (Object.is(d, -0) ? 0 : d)),
);

export type Generated =
  | { type: 'string'; value: string; ttlMs?: number }
  | { type: 'hash'; value: Record<string, string>; ttlMs?: number }
  | { type: 'list'; value: string[]; ttlMs?: number }
  | { type: 'set'; value: string[]; ttlMs?: number }
  | { type: 'zset'; value: Array<{ member: string; score: number }>; ttlMs?: number }
  | { type: 'stream'; value: Array<Record<string, string>>; ttlMs?: number };

const ttl = fc.option(fc.integer({ min: 60_000, max: 3_600_000 }), { nil: undefined });
const value: fc.Arbitrary<Generated> = fc.oneof(
  fc.record({ type: fc.constant('string' as const), value: text, ttlMs: ttl }),
  fc.record({
    type: fc.constant('hash' as const),
    value: fc.dictionary(text, text, { minKeys: 1, maxKeys: 5 }),
    ttlMs: ttl,
  }),
  fc.record({
    type: fc.constant('list' as const),
    value: fc.array(text, { minLength: 1, maxLength: 6 }),
    ttlMs: ttl,
  }),
  fc.record({
    type: fc.constant('set' as const),
    value: fc.uniqueArray(text, { minLength: 1, maxLength: 6 }),
    ttlMs: ttl,
  }),
  fc.record({
    type: fc.constant('zset' as const),
    value: fc.uniqueArray(fc.record({ member: text, score }), {
      minLength: 1,
      maxLength: 6,
      selector: (m) => m.member,
    }),
    ttlMs: ttl,
  }),
  fc.record({
    type: fc.constant('stream' as const),
    value: fc.array(fc.dictionary(text, text, { minKeys: 1, maxKeys: 3 }), {
      minLength: 1,
      maxLength: 4,
    }),
    ttlMs: ttl,
  }),
);

/** A seeded data set: key → value, every type, hostile strings, some TTLs. */
export function generate(seed: number, count: number): Map<string, Generated> {
  const [entries] = fc.sample(
    fc.uniqueArray(
      fc.tuple(
        fc.array(keyPart, { minLength: 1, maxLength: 3 }).map((p) => p.join(':')),
        value,
      ),
      {
        minLength: count,
        maxLength: count,
        selector: ([k]) => k,
      },
    ),
    { seed, numRuns: 1 },
  );
  return new Map(entries ?? []);
}

/** Writes a generated data set. */
export async function load(backend: Backend, data: Map<string, Generated>): Promise<void> {
  for (const [key, g] of data) {
    switch (g.type) {
      case 'string':
        await backend.set(key, g.value);
        break;
      case 'hash':
        await backend.hset(key, g.value);
        break;
      case 'list':
        await backend.rpush(key, ...g.value);
        break;
      case 'set':
        await backend.sadd(key, ...g.value);
        break;
      case 'zset':
        await backend.zadd(key, g.value);
        break;
      case 'stream':
        for (const fields of g.value) await backend.xadd(key, fields);
        break;
    }
    if (g.ttlMs !== undefined) await backend.pexpire(key, g.ttlMs);
  }
}

/** Everything a backend holds (read with plain commands, not with backup), TTLs rounded to "has one". */
export async function snapshot(backend: Backend): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const keys: string[] = [];
  for await (const k of backend.scan()) keys.push(k);
  keys.sort();
  for (const k of keys) {
    const type = await backend.type(k);
    let value: unknown;
    if (type === 'string') value = await backend.get(k);
    else if (type === 'hash') value = await backend.hgetall(k);
    else if (type === 'list') value = await backend.lrange(k, 0, -1);
    else if (type === 'set') value = (await backend.smembers(k)).sort();
    else if (type === 'zset')
      value = await backend.zrangeByScore(k, '-inf', '+inf', { withScores: true });
    else if (type === 'stream') value = await backend.xrange(k);
    const pttl = await backend.pttl(k);
    out[k] = { type, value, ttl: pttl > 0 ? 'yes' : pttl };
  }
  return out;
}

/** Runs a backup into a string. */
export async function backupToString(backend: Backend, match = '*'): Promise<string> {
  const sink = new PassThrough();
  const chunks: string[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  await backup(backend, sink, { match });
  sink.end();
  return chunks.join('');
}
