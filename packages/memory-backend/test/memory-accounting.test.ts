import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Commands } from '../src/commands.js';
import { Keyspace, measureEntry } from '../src/keyspace.js';
import { PubSub } from '../src/pubsub.js';

type Op = (c: Commands) => unknown;

/** Two keys per type, and one key every type fights over (type changes, WRONGTYPE). */
const keysOf = (type: string) => fc.constantFrom(`${type}1`, `${type}2`, 'shared');
const str = keysOf('string');
const hash = keysOf('hash');
const list = keysOf('list');
const set = keysOf('set');
const zset = keysOf('zset');
const stream = keysOf('stream');
const key = fc.oneof(str, hash, list, set, zset, stream);
const text = fc.string({ maxLength: 6 });
const small = fc.integer({ min: -3, max: 3 });

/** Every write path that changes a value's size, on a small pool of keys of mixed types. */
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(key, text).map(
    ([k, v]): Op =>
      (c) =>
        c.set(k, v),
  ),
  fc.tuple(key, text).map(
    ([k, v]): Op =>
      (c) =>
        c.set(k, v, { keepTtl: true }),
  ),
  fc.tuple(str, text).map(
    ([k, v]): Op =>
      (c) =>
        c.setGet(k, v),
  ),
  fc.tuple(key, text).map(
    ([k, v]): Op =>
      (c) =>
        c.mset([[k, v]], { ttlMs: 60_000 }),
  ),
  fc.tuple(str, small).map(
    ([k, n]): Op =>
      (c) =>
        c.incrBy(k, n),
  ),
  fc.tuple(str, small).map(
    ([k, n]): Op =>
      (c) =>
        c.incrByFloat(k, n / 10),
  ),
  key.map(
    (k): Op =>
      (c) =>
        c.del(k),
  ),
  key.map(
    (k): Op =>
      (c) =>
        c.pexpire(k, 60_000),
  ),
  fc.tuple(hash, text, text).map(
    ([k, f, v]): Op =>
      (c) =>
        c.hset(k, { [f]: v }),
  ),
  fc.tuple(hash, text).map(
    ([k, f]): Op =>
      (c) =>
        c.hdel(k, f),
  ),
  fc.tuple(hash, text, small).map(
    ([k, f, n]): Op =>
      (c) =>
        c.hincrBy(k, f, n),
  ),
  fc.tuple(hash, text, small).map(
    ([k, f, n]): Op =>
      (c) =>
        c.hincrByFloat(k, f, n / 4),
  ),
  fc.tuple(list, fc.array(text, { minLength: 1, maxLength: 3 })).map(
    ([k, vs]): Op =>
      (c) =>
        c.rpush(k, ...vs),
  ),
  fc.tuple(list, text).map(
    ([k, v]): Op =>
      (c) =>
        c.lpush(k, v),
  ),
  list.map(
    (k): Op =>
      (c) =>
        c.lpop(k),
  ),
  list.map(
    (k): Op =>
      (c) =>
        c.rpop(k),
  ),
  fc.tuple(list, small, small).map(
    ([k, s, e]): Op =>
      (c) =>
        c.ltrim(k, s, e),
  ),
  fc.tuple(set, text).map(
    ([k, m]): Op =>
      (c) =>
        c.sadd(k, m),
  ),
  fc.tuple(set, text).map(
    ([k, m]): Op =>
      (c) =>
        c.srem(k, m),
  ),
  fc.tuple(zset, text, small).map(
    ([k, m, s]): Op =>
      (c) =>
        c.zadd(k, { member: m, score: s }),
  ),
  fc.tuple(zset, text).map(
    ([k, m]): Op =>
      (c) =>
        c.zrem(k, m),
  ),
  fc.tuple(zset, small).map(
    ([k, s]): Op =>
      (c) =>
        c.zremRangeByScore(k, '-inf', s),
  ),
  fc.tuple(stream, text, text).map(
    ([k, f, v]): Op =>
      (c) =>
        c.xadd(k, { [f || 'f']: v }),
  ),
  fc.tuple(stream, fc.nat(3)).map(
    ([k, n]): Op =>
      (c) =>
        c.xadd(k, { f: 'v' }, { maxLen: n }),
  ),
  fc.tuple(stream, fc.nat(3)).map(
    ([k, n]): Op =>
      (c) =>
        c.xtrim(k, { maxLen: n }),
  ),
  stream.map(
    (k): Op =>
      (c) =>
        c.xdel(k, '0-1', '1-0'),
  ),
  fc.tuple(stream, text).map(
    ([k, g]): Op =>
      (c) =>
        c.xgroupCreate(k, g || 'g', { mkStream: true }),
  ),
);

describe('memory accounting', () => {
  it('the incremental size of every key equals a size computed from scratch', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let now = 1_000_000;
        const keyspace = new Keyspace({
          clock: () => now++,
          maxKeys: 0,
          maxMemoryBytes: 0,
          policy: 'noeviction',
          activeExpiry: false,
          onExpired: () => undefined,
        });
        const commands = new Commands(keyspace, new PubSub(), { streamAdded: () => undefined });
        for (const run of ops) {
          try {
            run(commands);
          } catch {
            // WRONGTYPE and friends: the point is what remains afterwards
          }
        }
        let total = 0;
        for (const entry of keyspace.map.values()) {
          expect(entry.bytes, `${entry.type} ${entry.key}`).toBe(measureEntry(entry));
          total += entry.bytes;
        }
        expect(keyspace.usedBytes).toBe(total);
        keyspace.clear();
      }),
      { numRuns: 500 },
    );
  });
});
