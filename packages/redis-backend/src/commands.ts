import {
  assertFinite,
  assertInteger,
  assertKey,
  assertString,
  assertTtl,
  type DataCommands,
  defineScript,
  describe,
  type KeyType,
  type ScoreBound,
  type Script,
  type SetOptions,
  type StreamEntry,
  ValidationError,
  type XAddOptions,
  type XAutoClaimResult,
  type XPendingEntry,
  type XPendingRangeOptions,
  type XPendingSummary,
  type XReadGroupOptions,
  type XTrimOptions,
  type ZAddOptions,
  type ZMember,
  type ZRangeByScoreOptions,
} from '@redbrick/core';

/*
 * Every data command as an `Op`: validated arguments for one Redis command
 * plus a decoder for its reply. Built once here, sent by the backend, by a
 * pipeline or by a cluster pipeline group alike. Validation happens here,
 * before anything is sent, with core's assertions.
 */

const P = 'redis-backend';

export type RedisArg = string | number;

/** One Redis command ready to send. */
export interface Op<T = unknown> {
  /** The DataCommands method, for messages. */
  readonly method: string;
  /** Redis command name. */
  readonly name: string;
  readonly args: RedisArg[];
  /** The keys it touches (Cluster slot checks and grouping). */
  readonly keys: readonly string[];
  readonly decode: (reply: unknown) => T;
  /** Turns a specific error reply into a value (e.g. BUSYGROUP → false). */
  readonly recover?: ((message: string) => { value: T } | undefined) | undefined;
  /** Sent as EVALSHA; NOSCRIPT → EVAL with this body (which loads it on that node). */
  readonly script?: Script<unknown> | undefined;
  /** A blocking read: run on a blocking connection, for up to this many ms. */
  readonly blockMs?: number | undefined;
  /** Pub/sub publish: on Cluster the backend routes it (sharded); on one node an ordinary command. */
  readonly publish?: boolean | undefined;
}

function op<T>(
  method: string,
  name: string,
  args: RedisArg[],
  keys: readonly string[],
  decode: (reply: unknown) => T,
): Op<T> {
  return { method, name, args, keys, decode };
}

// ---------------------------------------------------------------- decoders

const asString = (r: unknown): string | null => (r === null || r === undefined ? null : String(r));
const asNumber = (r: unknown): number => Number(r);
const asBool = (r: unknown): boolean => r === 1;
const asVoid = (): void => undefined;
const asStrings = (r: unknown): string[] => (Array.isArray(r) ? r.map(String) : []);
const asNullableStrings = (r: unknown): Array<string | null> =>
  Array.isArray(r) ? r.map(asString) : [];

/** Parses a Redis float reply: `inf`, `-inf`, `nan`-free decimal strings. */
export function parseRedisFloat(reply: unknown): number {
  const s = String(reply).toLowerCase();
  if (s === 'inf' || s === '+inf' || s === 'infinity' || s === '+infinity')
    return Number.POSITIVE_INFINITY;
  if (s === '-inf' || s === '-infinity') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

const asFloatOrNull = (r: unknown): number | null =>
  r === null || r === undefined ? null : parseRedisFloat(r);

function asHash(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  } else if (reply !== null && typeof reply === 'object') {
    for (const [k, v] of Object.entries(reply)) out[k] = String(v);
  }
  return out;
}

function asEntry(raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw)) return undefined;
  const [id, fields] = raw as [unknown, unknown];
  return { id: String(id), fields: asHash(fields) };
}

export function asEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: StreamEntry[] = [];
  for (const raw of reply) {
    const entry = asEntry(raw);
    if (entry) out.push(entry);
  }
  return out;
}

const KEY_TYPES = new Set<string>(['string', 'hash', 'list', 'set', 'zset', 'stream', 'none']);
const asKeyType = (r: unknown): KeyType => {
  const t = String(r);
  if (!KEY_TYPES.has(t))
    throw new ValidationError(`[redbrick/${P}] unexpected TYPE reply ${describe(t)}`);
  return t as KeyType;
};

// ------------------------------------------------------------- validators

function key(k: unknown, field = 'key'): string {
  assertKey(k, field, P);
  return k;
}

function keyList(list: readonly unknown[], method: string): string[] {
  if (list.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${method} needs at least one key`, {
      field: 'keys',
    });
  }
  list.forEach((k, i) => {
    assertKey(k, `${method}: keys[${i}]`, P);
  });
  return list as string[];
}

function str(v: unknown, field: string): string {
  assertString(v, field, P);
  return v;
}

function nonEmpty(v: unknown, field: string): string {
  assertKey(v, field, P);
  return v;
}

function atLeastOne(list: readonly unknown[], field: string, method: string): void {
  if (list.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${method} needs at least one ${field}`, {
      field: `${field}s`,
    });
  }
}

function int(v: unknown, field: string, min?: number): number {
  assertInteger(v, field, min === undefined ? { pkg: P } : { min, pkg: P });
  return v;
}

function score(v: unknown, field: string): string {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new ValidationError(
      `[redbrick/${P}] ${field} must be a number (±Infinity allowed), got ${describe(v)}`,
      {
        field,
      },
    );
  }
  if (v === Number.POSITIVE_INFINITY) return '+inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  return String(v);
}

const EXCLUSIVE = /^\((?:[+-]?inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$/i;

function bound(v: unknown, field: string): string {
  if (typeof v === 'number') return score(v, field);
  if (v === '-inf' || v === '+inf' || (typeof v === 'string' && EXCLUSIVE.test(v)))
    return v as string;
  throw new ValidationError(
    `[redbrick/${P}] ${field} must be a number, '-inf', '+inf' or '(<number>' for an exclusive bound, got ${describe(v)}`,
    { field },
  );
}

function fieldsArgs(fields: unknown, method: string): string[] {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new ValidationError(
      `[redbrick/${P}] ${method}: fields must be an object of strings, got ${describe(fields)}`,
      {
        field: 'fields',
      },
    );
  }
  const out: string[] = [];
  for (const [f, v] of Object.entries(fields)) {
    assertString(v, `fields.${f}`, P);
    out.push(f, v);
  }
  if (out.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${method} needs at least one field`, {
      field: 'fields',
    });
  }
  return out;
}

function setArgs(options: SetOptions | undefined): RedisArg[] {
  if (options === undefined) return [];
  const out: RedisArg[] = [];
  if (options.ttlMs !== undefined) {
    assertTtl(options.ttlMs, 'ttlMs', P);
    if (options.keepTtl) {
      throw new ValidationError(`[redbrick/${P}] set: ttlMs and keepTtl cannot be combined`, {
        field: 'keepTtl',
      });
    }
    out.push('PX', options.ttlMs);
  } else if (options.keepTtl) {
    out.push('KEEPTTL');
  }
  if (options.nx && options.xx) {
    throw new ValidationError(`[redbrick/${P}] set: nx and xx cannot be combined`, { field: 'nx' });
  }
  if (options.nx) out.push('NX');
  else if (options.xx) out.push('XX');
  return out;
}

function streamId(v: unknown, field: string): string {
  assertKey(v, field, P);
  return v;
}

/** Internal script: MSET where every key gets the same TTL, atomically. */
export const msetWithTtlScript = defineScript<null>({
  name: 'redis-backend.mset-px',
  lua: `--[[ redis-backend.mset-px
  KEYS[1..n]     the keys
  ARGV[1]        ttl in ms
  ARGV[2..n+1]   the values, in the order of KEYS
  returns        1 ]]
for i = 1, #KEYS do
  redis.call('set', KEYS[i], ARGV[i + 1], 'PX', ARGV[1])
end
return 1`,
  local(r, keys, [ttl, ...values]) {
    keys.forEach((k, i) => {
      r.set(k, values[i] as string, { ttlMs: Number(ttl) });
    });
    return 1;
  },
  decode: () => null,
});

type OpBuilders = {
  [K in keyof DataCommands]: (
    ...args: Parameters<DataCommands[K]>
  ) => Op<Awaited<ReturnType<DataCommands[K]>>>;
};

/** Builders for every data command. They throw ValidationError on bad input. */
export const ops: Omit<OpBuilders, 'zrangeByScore'> & {
  zrangeByScore(
    k: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): Op<string[] | ZMember[]>;
} = {
  // keys
  get: (k) => op('get', 'get', [key(k)], [k], asString),
  set: (k, value, options) =>
    op('set', 'set', [key(k), str(value, 'value'), ...setArgs(options)], [k], (r) => r === 'OK'),
  setGet: (k, value, options) =>
    op('setGet', 'set', [key(k), str(value, 'value'), ...setArgs(options), 'GET'], [k], asString),
  del: (...keys) => op('del', 'del', keyList(keys, 'del'), keys, asNumber),
  exists: (...keys) => op('exists', 'exists', keyList(keys, 'exists'), keys, asNumber),
  pexpire: (k, ttlMs) => op('pexpire', 'pexpire', [key(k), int(ttlMs, 'ttlMs')], [k], asBool),
  pttl: (k) => op('pttl', 'pttl', [key(k)], [k], asNumber),
  persist: (k) => op('persist', 'persist', [key(k)], [k], asBool),
  type: (k) => op('type', 'type', [key(k)], [k], asKeyType),

  // strings
  mget: (...keys) => op('mget', 'mget', keyList(keys, 'mget'), keys, asNullableStrings),
  mset: (entries, options) => {
    const pairs: Array<[string, string]> = Array.isArray(entries)
      ? entries
      : typeof entries === 'object' && entries !== null
        ? Object.entries(entries)
        : [];
    if (!Array.isArray(entries) && (typeof entries !== 'object' || entries === null)) {
      throw new ValidationError(
        `[redbrick/${P}] mset: entries must be an object or an array of [key, value] pairs`,
        {
          field: 'entries',
        },
      );
    }
    const keys: string[] = [];
    const values: string[] = [];
    pairs.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ValidationError(
          `[redbrick/${P}] mset: entries[${i}] must be a [key, value] pair`,
          {
            field: `entries[${i}]`,
          },
        );
      }
      keys.push(key(pair[0], `entries[${i}] key`));
      values.push(str(pair[1], `entries[${i}] value`));
    });
    if (keys.length === 0) {
      throw new ValidationError(`[redbrick/${P}] mset needs at least one entry`, {
        field: 'entries',
      });
    }
    if (options?.ttlMs !== undefined) {
      assertTtl(options.ttlMs, 'ttlMs', P);
      return {
        method: 'mset',
        name: 'evalsha',
        args: [msetWithTtlScript.sha1, keys.length, ...keys, options.ttlMs, ...values],
        keys,
        decode: asVoid,
        script: msetWithTtlScript,
      };
    }
    const args: string[] = [];
    keys.forEach((k, i) => {
      args.push(k, values[i] as string);
    });
    return op('mset', 'mset', args, keys, asVoid);
  },
  incrBy: (k, by) => op('incrBy', 'incrby', [key(k), int(by, 'by')], [k], asNumber),
  incrByFloat: (k, by) => {
    assertFinite(by, 'by', P);
    return op('incrByFloat', 'incrbyfloat', [key(k), String(by)], [k], parseRedisFloat);
  },

  // hashes
  hget: (k, f) => op('hget', 'hget', [key(k), str(f, 'field')], [k], asString),
  hmget: (k, ...fields) => {
    atLeastOne(fields, 'field', 'hmget');
    return op(
      'hmget',
      'hmget',
      [key(k), ...fields.map((f, i) => str(f, `fields[${i}]`))],
      [k],
      asNullableStrings,
    );
  },
  hset: (k, fields) => op('hset', 'hset', [key(k), ...fieldsArgs(fields, 'hset')], [k], asNumber),
  hgetall: (k) => op('hgetall', 'hgetall', [key(k)], [k], asHash),
  hdel: (k, ...fields) => {
    atLeastOne(fields, 'field', 'hdel');
    return op(
      'hdel',
      'hdel',
      [key(k), ...fields.map((f, i) => str(f, `fields[${i}]`))],
      [k],
      asNumber,
    );
  },
  hincrBy: (k, f, by) =>
    op('hincrBy', 'hincrby', [key(k), str(f, 'field'), int(by, 'by')], [k], asNumber),
  hincrByFloat: (k, f, by) => {
    assertFinite(by, 'by', P);
    return op(
      'hincrByFloat',
      'hincrbyfloat',
      [key(k), str(f, 'field'), String(by)],
      [k],
      parseRedisFloat,
    );
  },
  hexists: (k, f) => op('hexists', 'hexists', [key(k), str(f, 'field')], [k], asBool),
  hlen: (k) => op('hlen', 'hlen', [key(k)], [k], asNumber),

  // lists
  rpush: (k, ...values) => {
    atLeastOne(values, 'value', 'rpush');
    return op(
      'rpush',
      'rpush',
      [key(k), ...values.map((v, i) => str(v, `values[${i}]`))],
      [k],
      asNumber,
    );
  },
  lpush: (k, ...values) => {
    atLeastOne(values, 'value', 'lpush');
    return op(
      'lpush',
      'lpush',
      [key(k), ...values.map((v, i) => str(v, `values[${i}]`))],
      [k],
      asNumber,
    );
  },
  lrange: (k, start, stop) =>
    op('lrange', 'lrange', [key(k), int(start, 'start'), int(stop, 'stop')], [k], asStrings),
  lindex: (k, index) => op('lindex', 'lindex', [key(k), int(index, 'index')], [k], asString),
  llen: (k) => op('llen', 'llen', [key(k)], [k], asNumber),
  ltrim: (k, start, stop) =>
    op('ltrim', 'ltrim', [key(k), int(start, 'start'), int(stop, 'stop')], [k], asVoid),
  lpop: (k) => op('lpop', 'lpop', [key(k)], [k], asString),
  rpop: (k) => op('rpop', 'rpop', [key(k)], [k], asString),

  // sets
  sadd: (k, ...members) => {
    atLeastOne(members, 'member', 'sadd');
    return op(
      'sadd',
      'sadd',
      [key(k), ...members.map((m, i) => str(m, `members[${i}]`))],
      [k],
      asNumber,
    );
  },
  srem: (k, ...members) => {
    atLeastOne(members, 'member', 'srem');
    return op(
      'srem',
      'srem',
      [key(k), ...members.map((m, i) => str(m, `members[${i}]`))],
      [k],
      asNumber,
    );
  },
  smembers: (k) => op('smembers', 'smembers', [key(k)], [k], asStrings),
  sismember: (k, m) => op('sismember', 'sismember', [key(k), str(m, 'member')], [k], asBool),
  scard: (k) => op('scard', 'scard', [key(k)], [k], asNumber),

  // sorted sets
  zadd: (k, members, options?: ZAddOptions) => {
    const list = Array.isArray(members) ? members : [members];
    atLeastOne(list, 'member', 'zadd');
    const args: RedisArg[] = [key(k)];
    if (options?.nx && options.xx) {
      throw new ValidationError(`[redbrick/${P}] zadd: nx and xx cannot be combined`, {
        field: 'nx',
      });
    }
    if (options?.gt && options.lt) {
      throw new ValidationError(`[redbrick/${P}] zadd: gt and lt cannot be combined`, {
        field: 'gt',
      });
    }
    if (options?.nx && (options.gt || options.lt)) {
      throw new ValidationError(`[redbrick/${P}] zadd: nx cannot be combined with gt or lt`, {
        field: 'nx',
      });
    }
    if (options?.nx) args.push('NX');
    if (options?.xx) args.push('XX');
    if (options?.gt) args.push('GT');
    if (options?.lt) args.push('LT');
    list.forEach((m, i) => {
      if (typeof m !== 'object' || m === null) {
        throw new ValidationError(`[redbrick/${P}] zadd: members[${i}] must be { member, score }`, {
          field: `members[${i}]`,
        });
      }
      args.push(score(m.score, `members[${i}].score`), str(m.member, `members[${i}].member`));
    });
    return op('zadd', 'zadd', args, [k], asNumber);
  },
  zrem: (k, ...members) => {
    atLeastOne(members, 'member', 'zrem');
    return op(
      'zrem',
      'zrem',
      [key(k), ...members.map((m, i) => str(m, `members[${i}]`))],
      [k],
      asNumber,
    );
  },
  zscore: (k, m) => op('zscore', 'zscore', [key(k), str(m, 'member')], [k], asFloatOrNull),
  zcard: (k) => op('zcard', 'zcard', [key(k)], [k], asNumber),
  zrangeByScore: (k, min, max, options) => {
    const args: RedisArg[] = [key(k), bound(min, 'min'), bound(max, 'max')];
    const withScores = options?.withScores === true;
    if (withScores) args.push('WITHSCORES');
    if (options?.offset !== undefined || options?.count !== undefined) {
      const offset = options.offset === undefined ? 0 : int(options.offset, 'offset', 0);
      const count = options.count === undefined ? -1 : int(options.count, 'count', 0);
      args.push('LIMIT', offset, count);
    }
    return op<string[] | ZMember[]>('zrangeByScore', 'zrangebyscore', args, [k], (r) => {
      const flat = asStrings(r);
      if (!withScores) return flat;
      const out: ZMember[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        out.push({ member: flat[i] as string, score: parseRedisFloat(flat[i + 1]) });
      }
      return out;
    });
  },
  zremRangeByScore: (k, min, max) =>
    op(
      'zremRangeByScore',
      'zremrangebyscore',
      [key(k), bound(min, 'min'), bound(max, 'max')],
      [k],
      asNumber,
    ),

  // streams
  xadd: (k, fields, options?: XAddOptions) => {
    const args: RedisArg[] = [key(k)];
    if (options?.noMkStream) args.push('NOMKSTREAM');
    if (options?.maxLen !== undefined) {
      args.push('MAXLEN');
      if (options.approximate !== false) args.push('~');
      args.push(int(options.maxLen, 'maxLen', 0));
    }
    args.push(options?.id === undefined ? '*' : streamId(options.id, 'id'));
    args.push(...fieldsArgs(fields, 'xadd'));
    return op('xadd', 'xadd', args, [k], asString);
  },
  xrange: (k, start = '-', end = '+', count) => {
    const args: RedisArg[] = [key(k), streamId(start, 'start'), streamId(end, 'end')];
    if (count !== undefined) args.push('COUNT', int(count, 'count', 1));
    return op('xrange', 'xrange', args, [k], asEntries);
  },
  xdel: (k, ...ids) => {
    atLeastOne(ids, 'id', 'xdel');
    return op(
      'xdel',
      'xdel',
      [key(k), ...ids.map((id, i) => streamId(id, `ids[${i}]`))],
      [k],
      asNumber,
    );
  },
  xlen: (k) => op('xlen', 'xlen', [key(k)], [k], asNumber),
  xtrim: (k, options: XTrimOptions) => {
    const args: RedisArg[] = [key(k)];
    const hasMax = options?.maxLen !== undefined;
    const hasMin = options?.minId !== undefined;
    if (hasMax === hasMin) {
      throw new ValidationError(`[redbrick/${P}] xtrim needs exactly one of maxLen or minId`, {
        field: 'maxLen',
      });
    }
    args.push(hasMax ? 'MAXLEN' : 'MINID');
    if (options.approximate !== false) args.push('~');
    args.push(hasMax ? int(options.maxLen, 'maxLen', 0) : streamId(options.minId, 'minId'));
    return op('xtrim', 'xtrim', args, [k], asNumber);
  },
  xgroupCreate: (k, group, options) => {
    const args: RedisArg[] = [
      'CREATE',
      key(k),
      nonEmpty(group, 'group'),
      options?.id === undefined ? '$' : streamId(options.id, 'id'),
    ];
    if (options?.mkStream) args.push('MKSTREAM');
    return {
      method: 'xgroupCreate',
      name: 'xgroup',
      args,
      keys: [k],
      decode: () => true,
      recover: (message: string) =>
        message.startsWith('BUSYGROUP') ? { value: false } : undefined,
    };
  },
  xreadgroup: (k, group, consumer, options?: XReadGroupOptions) => {
    const args: RedisArg[] = ['GROUP', nonEmpty(group, 'group'), nonEmpty(consumer, 'consumer')];
    if (options?.count !== undefined) args.push('COUNT', int(options.count, 'count', 1));
    const blockMs = options?.blockMs === undefined ? 0 : int(options.blockMs, 'blockMs', 0);
    if (blockMs > 0) args.push('BLOCK', blockMs);
    if (options?.noAck) args.push('NOACK');
    args.push('STREAMS', key(k), options?.id === undefined ? '>' : streamId(options.id, 'id'));
    return {
      method: 'xreadgroup',
      name: 'xreadgroup',
      args,
      keys: [k],
      blockMs: blockMs > 0 ? blockMs : undefined,
      decode: (r: unknown) => {
        if (!Array.isArray(r) || r.length === 0) return [];
        const first = r[0] as unknown;
        return Array.isArray(first) ? asEntries(first[1]) : [];
      },
    };
  },
  xack: (k, group, ...ids) => {
    atLeastOne(ids, 'id', 'xack');
    return op(
      'xack',
      'xack',
      [key(k), nonEmpty(group, 'group'), ...ids.map((id, i) => streamId(id, `ids[${i}]`))],
      [k],
      asNumber,
    );
  },
  xautoclaim: (k, group, consumer, minIdleMs, start = '0-0', options) => {
    const args: RedisArg[] = [
      key(k),
      nonEmpty(group, 'group'),
      nonEmpty(consumer, 'consumer'),
      int(minIdleMs, 'minIdleMs', 0),
      streamId(start, 'start'),
    ];
    if (options?.count !== undefined) args.push('COUNT', int(options.count, 'count', 1));
    return op('xautoclaim', 'xautoclaim', args, [k], (r): XAutoClaimResult => {
      const [next, entries, deleted] = Array.isArray(r)
        ? (r as [unknown, unknown, unknown])
        : ['0-0', [], []];
      return { next: String(next), entries: asEntries(entries), deleted: asStrings(deleted) };
    });
  },
  xpending: (k, group) =>
    op('xpending', 'xpending', [key(k), nonEmpty(group, 'group')], [k], (r): XPendingSummary => {
      const [count, minId, maxId, consumers] = Array.isArray(r) ? (r as unknown[]) : [];
      return {
        count: Number(count ?? 0),
        minId: asString(minId),
        maxId: asString(maxId),
        consumers: Array.isArray(consumers)
          ? consumers.map((c: unknown) => {
              const [name, n] = Array.isArray(c) ? (c as unknown[]) : [];
              return { name: String(name), count: Number(n) };
            })
          : [],
      };
    }),
  xpendingRange: (k, group, options?: XPendingRangeOptions) => {
    const args: RedisArg[] = [key(k), nonEmpty(group, 'group')];
    if (options?.minIdleMs !== undefined) args.push('IDLE', int(options.minIdleMs, 'minIdleMs', 0));
    args.push(
      options?.start === undefined ? '-' : streamId(options.start, 'start'),
      options?.end === undefined ? '+' : streamId(options.end, 'end'),
      options?.count === undefined ? DEFAULT_PENDING_COUNT : int(options.count, 'count', 1),
    );
    if (options?.consumer !== undefined) args.push(nonEmpty(options.consumer, 'consumer'));
    return op('xpendingRange', 'xpending', args, [k], (r): XPendingEntry[] =>
      Array.isArray(r)
        ? r.map((e: unknown) => {
            const [id, consumer, idle, deliveries] = Array.isArray(e) ? (e as unknown[]) : [];
            return {
              id: String(id),
              consumer: String(consumer),
              idleMs: Number(idle),
              deliveries: Number(deliveries),
            };
          })
        : [],
    );
  },

  // pub/sub
  publish: (channel, message) => ({
    method: 'publish',
    name: 'publish',
    args: [nonEmpty(channel, 'channel'), str(message, 'message')],
    keys: [],
    decode: asNumber,
    publish: true,
  }),
};

/** XPENDING needs a count; without one, report up to this many entries. */
export const DEFAULT_PENDING_COUNT = 10_000;

/** The EVALSHA op for a user script (keys and args already validated by core). */
export function scriptOp<R>(
  script: Script<R>,
  keys: readonly string[],
  args: readonly string[],
): Op<R> {
  return {
    method: `script "${script.name}"`,
    name: 'evalsha',
    args: [script.sha1, keys.length, ...keys, ...args],
    keys,
    decode: (reply) => script.decode(reply as Parameters<Script<R>['decode']>[0]),
    script: script as Script<unknown>,
  };
}

/** Builds the op of any data command by name (pipelines). */
export function buildOp(command: keyof DataCommands, args: readonly unknown[]): Op {
  const builder = ops[command] as ((...a: unknown[]) => Op) | undefined;
  if (typeof builder !== 'function') {
    throw new ValidationError(`[redbrick/${P}] pipeline: unknown command ${describe(command)}`, {
      field: 'command',
    });
  }
  return builder(...args);
}
