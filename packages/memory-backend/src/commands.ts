import {
  type KeyType,
  type ScoreBound,
  type SetOptions,
  type StreamEntry,
  type SyncCommands,
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
import {
  checkFields,
  checkFinite,
  checkInteger,
  checkKey,
  checkKeys,
  checkName,
  checkScore,
  checkSetOptions,
  checkString,
  checkStrings,
  checkTtl,
  parseBound,
} from './arguments.js';
import {
  commandError,
  HASH_NOT_FLOAT,
  HASH_NOT_INTEGER,
  INVALID_STREAM_ID,
  NAN_OR_INFINITY,
  NOT_FLOAT,
  NOT_INTEGER,
  noGroup,
  OVERFLOW,
  PKG,
  wrongType,
  XADD_ID_TOO_SMALL,
  XADD_ID_ZERO,
  XGROUP_NO_KEY,
} from './errors.js';
import { addInteger } from './integers.js';
import {
  ENTRY_OVERHEAD,
  type Entry,
  type EntryOf,
  FIELD_OVERHEAD,
  ITEM_OVERHEAD,
  KEY_OVERHEAD,
  type Keyspace,
  MEMBER_OVERHEAD,
  ZMEMBER_OVERHEAD,
} from './keyspace.js';
import { Deque } from './list.js';
import { addFloat } from './long-double.js';
import type { PubSub } from './pubsub.js';
import { type ScoreRange, SortedSet } from './sorted-set.js';
import {
  type Consumer,
  ConsumerGroup,
  compareIds,
  formatId,
  type Id,
  MAX_ID_PART,
  type PendingEntry,
  parseId,
  type StoredEntry,
  Stream,
  toStreamEntry,
} from './stream.js';

/** What the commands tell the backend about (blocked stream readers). */
export interface CommandHooks {
  /** An entry was added to the stream at `key`. */
  streamAdded(key: string): void;
}

/** Sets an own property even for the field name `__proto__`. */
function setField(target: Record<string, string>, field: string, value: string): void {
  if (field === '__proto__') {
    Object.defineProperty(target, field, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[field] = value;
  }
}

const MIN_ID: Id = { ms: 0, seq: 0 };
const MAX_ID: Id = { ms: MAX_ID_PART, seq: MAX_ID_PART };

function streamId(command: string, text: string, missingSeq: number): Id {
  if (text === '-') return MIN_ID;
  if (text === '+') return MAX_ID;
  const id = parseId(text, missingSeq);
  if (id === undefined) throw commandError(command, INVALID_STREAM_ID);
  return id;
}

/** An XRANGE / XPENDING interval bound: `-`, `+`, an id, or `(id` (exclusive). */
function intervalStart(command: string, text: string): Id {
  if (text.length > 1 && text.startsWith('(')) {
    const id = parseId(text.slice(1), 0);
    if (id === undefined) throw commandError(command, INVALID_STREAM_ID);
    if (id.seq < MAX_ID_PART) return { ms: id.ms, seq: id.seq + 1 };
    if (id.ms < MAX_ID_PART) return { ms: id.ms + 1, seq: 0 };
    throw commandError(command, 'ERR invalid start ID for the interval');
  }
  return streamId(command, text, 0);
}

function intervalEnd(command: string, text: string): Id {
  if (text.length > 1 && text.startsWith('(')) {
    const id = parseId(text.slice(1), MAX_ID_PART);
    if (id === undefined) throw commandError(command, INVALID_STREAM_ID);
    if (id.seq > 0) return { ms: id.ms, seq: id.seq - 1 };
    if (id.ms > 0) return { ms: id.ms - 1, seq: MAX_ID_PART };
    throw commandError(command, 'ERR invalid end ID for the interval');
  }
  return streamId(command, text, MAX_ID_PART);
}

function fieldsBytes(fields: Readonly<Record<string, string>>, names: readonly string[]): number {
  let bytes = 0;
  for (const name of names) bytes += (name.length + (fields[name] as string).length) * 2;
  return bytes;
}

function stringsBytes(values: readonly string[], overhead: number): number {
  let bytes = 0;
  for (const v of values) bytes += v.length * 2 + overhead;
  return bytes;
}

/**
 * Every data command, synchronous: the implementation behind the async
 * backend methods, and the `SyncCommands` view a script's `local` body
 * gets. Arguments are validated here, so both paths reject the same input.
 */
export class Commands implements SyncCommands {
  readonly #ks: Keyspace;
  readonly #pubsub: PubSub;
  readonly #hooks: CommandHooks;

  constructor(keyspace: Keyspace, pubsub: PubSub, hooks: CommandHooks) {
    this.#ks = keyspace;
    this.#pubsub = pubsub;
    this.#hooks = hooks;
  }

  // ---------------------------------------------------------------- keys

  get(key: string): string | null {
    checkKey(key);
    const entry = this.#ks.get(key, 'string', 'get');
    return entry === undefined ? null : entry.value;
  }

  set(key: string, value: string, options?: SetOptions): boolean {
    checkKey(key);
    checkString(value, 'value');
    checkSetOptions(options);
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + (key.length + value.length) * 2, 'set');
    const current = ks.peek(key);
    if (options !== undefined) {
      if (options.nx && current !== undefined) return false;
      if (options.xx && current === undefined) return false;
    }
    this.#writeString(key, current, value, options);
    return true;
  }

  setGet(key: string, value: string, options?: SetOptions): string | null {
    checkKey(key);
    checkString(value, 'value');
    checkSetOptions(options);
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + (key.length + value.length) * 2, 'setGet');
    const current = ks.peek(key);
    if (current !== undefined && current.type !== 'string') throw wrongType('setGet');
    const old = current === undefined ? null : current.value;
    if (options !== undefined) {
      if (options.nx && current !== undefined) return old;
      if (options.xx && current === undefined) return old;
    }
    this.#writeString(key, current, value, options);
    return old;
  }

  /** SET's write: replaces any value; the TTL is cleared unless kept or given. */
  #writeString(
    key: string,
    current: Entry | undefined,
    value: string,
    options: SetOptions | undefined,
  ): void {
    const ks = this.#ks;
    let entry: Entry;
    if (current !== undefined && current.type === 'string') {
      ks.resize(current, (value.length - current.value.length) * 2);
      current.value = value;
      if (ks.limited) ks.touch(current);
      entry = current;
      if (current.expiresAt !== 0 && options?.ttlMs === undefined && !options?.keepTtl) {
        ks.setExpiry(current, 0);
      }
    } else {
      const keep = current !== undefined && options?.keepTtl ? current.expiresAt : 0;
      if (current !== undefined) ks.remove(current);
      entry = ks.create(key, 'string', value, value.length * 2);
      if (keep !== 0) ks.setExpiry(entry, keep);
    }
    if (options?.ttlMs !== undefined) ks.setExpiry(entry, ks.now() + options.ttlMs);
  }

  del(...keys: string[]): number {
    checkKeys(keys, 'del');
    const ks = this.#ks;
    let removed = 0;
    for (const key of keys) {
      const entry = ks.peek(key);
      if (entry !== undefined) {
        ks.remove(entry);
        removed++;
      }
    }
    return removed;
  }

  exists(...keys: string[]): number {
    checkKeys(keys, 'exists');
    let found = 0;
    for (const key of keys) if (this.#ks.peek(key) !== undefined) found++;
    return found;
  }

  pexpire(key: string, ttlMs: number): boolean {
    checkKey(key);
    checkInteger(ttlMs, 'ttlMs');
    const ks = this.#ks;
    const entry = ks.peek(key);
    if (entry === undefined) return false;
    // A TTL that has already passed deletes the key (a DEL, not an expiry event), like Redis.
    if (ttlMs <= 0) ks.remove(entry);
    else {
      ks.setExpiry(entry, ks.now() + ttlMs);
      if (ks.limited) ks.touch(entry);
    }
    return true;
  }

  pttl(key: string): number {
    checkKey(key);
    const ks = this.#ks;
    const entry = ks.map.get(key);
    if (entry === undefined) return -2;
    if (entry.expiresAt === 0) return -1;
    // one clock read for the expiry check and the TTL (peek would read it again)
    const left = entry.expiresAt - ks.now();
    if (left < 0) return ks.peek(key) === undefined ? -2 : 0;
    return Math.ceil(left);
  }

  persist(key: string): boolean {
    checkKey(key);
    const entry = this.#ks.peek(key);
    if (entry === undefined || entry.expiresAt === 0) return false;
    this.#ks.setExpiry(entry, 0);
    return true;
  }

  type(key: string): KeyType {
    checkKey(key);
    const entry = this.#ks.peek(key);
    return entry === undefined ? 'none' : entry.type;
  }

  // ------------------------------------------------------------- strings

  mget(...keys: string[]): Array<string | null> {
    checkKeys(keys, 'mget');
    const ks = this.#ks;
    const out = new Array<string | null>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const entry = ks.peek(keys[i] as string);
      // MGET answers nil for keys of another type instead of failing
      if (entry !== undefined && entry.type === 'string') {
        if (ks.limited) ks.touch(entry);
        out[i] = entry.value;
      } else {
        out[i] = null;
      }
    }
    return out;
  }

  mset(
    entries: Record<string, string> | Array<[string, string]>,
    options?: { ttlMs?: number },
  ): void {
    let pairs: Array<[string, string]>;
    if (Array.isArray(entries)) pairs = entries;
    else if (typeof entries === 'object' && entries !== null) pairs = Object.entries(entries);
    else {
      throw new ValidationError(
        `${PKG} mset: entries must be an object or an array of [key, value] pairs`,
        { field: 'entries' },
      );
    }
    if (pairs.length === 0) {
      throw new ValidationError(`${PKG} mset needs at least one entry`, { field: 'entries' });
    }
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ValidationError(`${PKG} mset: entries[${i}] must be a [key, value] pair`, {
          field: `entries[${i}]`,
        });
      }
      checkKey(pair[0], `entries[${i}] key`);
      checkString(pair[1], `entries[${i}] value`);
    }
    const ttlMs = options?.ttlMs;
    if (ttlMs !== undefined) checkTtl(ttlMs);
    const writeOptions: SetOptions | undefined = ttlMs === undefined ? undefined : { ttlMs };
    const ks = this.#ks;
    for (const [key, value] of pairs) {
      if (ks.limited) ks.reserve(key, KEY_OVERHEAD + (key.length + value.length) * 2, 'mset');
      this.#writeString(key, ks.peek(key), value, writeOptions);
    }
  }

  incrBy(key: string, by: number): number {
    checkKey(key);
    checkInteger(by, 'by');
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2 + 40, 'incrBy');
    const entry = ks.get(key, 'string', 'incrBy');
    const next = addInteger(entry === undefined ? null : entry.value, by);
    if (next === 'not-integer') throw commandError('incrBy', NOT_INTEGER);
    if (next === 'overflow') throw commandError('incrBy', OVERFLOW);
    this.#storeNumber(key, entry, next);
    return Number(next);
  }

  incrByFloat(key: string, by: number): number {
    checkKey(key);
    checkFinite(by, 'by');
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2 + 80, 'incrByFloat');
    const entry = ks.get(key, 'string', 'incrByFloat');
    const result = addFloat(entry === undefined ? null : entry.value, String(by));
    if (!result.ok) {
      throw commandError(
        'incrByFloat',
        result.reason === 'not-float' ? NOT_FLOAT : NAN_OR_INFINITY,
      );
    }
    this.#storeNumber(key, entry, result.text);
    return Number(result.text);
  }

  /** INCR-style write: the value changes, the TTL stays. */
  #storeNumber(key: string, entry: EntryOf<'string'> | undefined, text: string): void {
    if (entry === undefined) {
      this.#ks.create(key, 'string', text, text.length * 2);
    } else {
      this.#ks.resize(entry, (text.length - entry.value.length) * 2);
      entry.value = text;
    }
  }

  // -------------------------------------------------------------- hashes

  hget(key: string, field: string): string | null {
    checkKey(key);
    checkString(field, 'field');
    const entry = this.#ks.get(key, 'hash', 'hget');
    return entry?.value.get(field) ?? null;
  }

  hmget(key: string, ...fields: string[]): Array<string | null> {
    checkKey(key);
    checkStrings(fields, 'field', 'hmget');
    const hash = this.#ks.get(key, 'hash', 'hmget')?.value;
    const out = new Array<string | null>(fields.length);
    for (let i = 0; i < fields.length; i++) out[i] = hash?.get(fields[i] as string) ?? null;
    return out;
  }

  hset(key: string, fields: Record<string, string>): number {
    checkKey(key);
    const names = checkFields(fields, 'hset');
    const ks = this.#ks;
    if (ks.limited) {
      ks.reserve(
        key,
        KEY_OVERHEAD + fieldsBytes(fields, names) + FIELD_OVERHEAD * names.length,
        'hset',
      );
    }
    let entry = ks.get(key, 'hash', 'hset');
    entry ??= ks.create(key, 'hash', new Map(), 0);
    const hash = entry.value;
    let added = 0;
    let delta = 0;
    for (const name of names) {
      const value = fields[name] as string;
      const old = hash.get(name);
      if (old === undefined) {
        added++;
        delta += (name.length + value.length) * 2 + FIELD_OVERHEAD;
      } else {
        delta += (value.length - old.length) * 2;
      }
      hash.set(name, value);
    }
    ks.resize(entry, delta);
    return added;
  }

  hgetall(key: string): Record<string, string> {
    checkKey(key);
    const out: Record<string, string> = {};
    const entry = this.#ks.get(key, 'hash', 'hgetall');
    if (entry !== undefined) for (const [field, value] of entry.value) setField(out, field, value);
    return out;
  }

  hdel(key: string, ...fields: string[]): number {
    checkKey(key);
    checkStrings(fields, 'field', 'hdel');
    const ks = this.#ks;
    const entry = ks.get(key, 'hash', 'hdel');
    if (entry === undefined) return 0;
    const hash = entry.value;
    let removed = 0;
    let delta = 0;
    for (const field of fields) {
      const old = hash.get(field);
      if (old !== undefined) {
        hash.delete(field);
        removed++;
        delta -= (field.length + old.length) * 2 + FIELD_OVERHEAD;
      }
    }
    if (hash.size === 0) ks.remove(entry);
    else ks.resize(entry, delta);
    return removed;
  }

  hincrBy(key: string, field: string, by: number): number {
    checkKey(key);
    checkString(field, 'field');
    checkInteger(by, 'by');
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + field.length * 2 + 40, 'hincrBy');
    const entry = ks.get(key, 'hash', 'hincrBy');
    const next = addInteger(entry?.value.get(field) ?? null, by);
    if (next === 'not-integer') throw commandError('hincrBy', HASH_NOT_INTEGER);
    if (next === 'overflow') throw commandError('hincrBy', OVERFLOW);
    this.#storeField(key, entry, field, next);
    return Number(next);
  }

  hincrByFloat(key: string, field: string, by: number): number {
    checkKey(key);
    checkString(field, 'field');
    checkFinite(by, 'by');
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + field.length * 2 + 80, 'hincrByFloat');
    const entry = ks.get(key, 'hash', 'hincrByFloat');
    const result = addFloat(entry?.value.get(field) ?? null, String(by));
    if (!result.ok) {
      throw commandError(
        'hincrByFloat',
        result.reason === 'not-float' ? HASH_NOT_FLOAT : NAN_OR_INFINITY,
      );
    }
    this.#storeField(key, entry, field, result.text);
    return Number(result.text);
  }

  #storeField(key: string, entry: EntryOf<'hash'> | undefined, field: string, text: string): void {
    const ks = this.#ks;
    const target = entry ?? ks.create(key, 'hash', new Map(), 0);
    const old = target.value.get(field);
    ks.resize(
      target,
      old === undefined
        ? (field.length + text.length) * 2 + FIELD_OVERHEAD
        : (text.length - old.length) * 2,
    );
    target.value.set(field, text);
  }

  hexists(key: string, field: string): boolean {
    checkKey(key);
    checkString(field, 'field');
    return this.#ks.get(key, 'hash', 'hexists')?.value.has(field) ?? false;
  }

  hlen(key: string): number {
    checkKey(key);
    return this.#ks.get(key, 'hash', 'hlen')?.value.size ?? 0;
  }

  // --------------------------------------------------------------- lists

  rpush(key: string, ...values: string[]): number {
    return this.#push('rpush', key, values, false);
  }

  lpush(key: string, ...values: string[]): number {
    return this.#push('lpush', key, values, true);
  }

  #push(command: string, key: string, values: string[], left: boolean): number {
    checkKey(key);
    checkStrings(values, 'value', command);
    const ks = this.#ks;
    const bytes = stringsBytes(values, ITEM_OVERHEAD);
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2 + bytes, command);
    const entry = ks.get(key, 'list', command) ?? ks.create(key, 'list', new Deque(), 0);
    const list = entry.value;
    if (left) for (const v of values) list.unshift(v);
    else for (const v of values) list.push(v);
    ks.resize(entry, bytes);
    return list.length;
  }

  lrange(key: string, start: number, stop: number): string[] {
    checkKey(key);
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    const list = this.#ks.get(key, 'list', 'lrange')?.value;
    if (list === undefined) return [];
    const n = list.length;
    let from = start < 0 ? n + start : start;
    let to = stop < 0 ? n + stop : stop;
    if (from < 0) from = 0;
    if (from > to || from >= n) return [];
    if (to >= n) to = n - 1;
    return list.slice(from, to);
  }

  lindex(key: string, index: number): string | null {
    checkKey(key);
    checkInteger(index, 'index');
    const list = this.#ks.get(key, 'list', 'lindex')?.value;
    if (list === undefined) return null;
    const i = index < 0 ? list.length + index : index;
    return i >= 0 && i < list.length ? list.at(i) : null;
  }

  llen(key: string): number {
    checkKey(key);
    return this.#ks.get(key, 'list', 'llen')?.value.length ?? 0;
  }

  ltrim(key: string, start: number, stop: number): void {
    checkKey(key);
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    const ks = this.#ks;
    const entry = ks.get(key, 'list', 'ltrim');
    if (entry === undefined) return;
    const list = entry.value;
    const n = list.length;
    let from = start < 0 ? n + start : start;
    let to = stop < 0 ? n + stop : stop;
    if (from < 0) from = 0;
    if (from > to || from >= n) {
      ks.remove(entry);
      return;
    }
    if (to >= n) to = n - 1;
    const before = list.length;
    const removedChars = list.keep(from, to);
    ks.resize(entry, -(removedChars * 2 + (before - list.length) * ITEM_OVERHEAD));
  }

  lpop(key: string): string | null {
    return this.#pop('lpop', key, true);
  }

  rpop(key: string): string | null {
    return this.#pop('rpop', key, false);
  }

  #pop(command: string, key: string, left: boolean): string | null {
    checkKey(key);
    const ks = this.#ks;
    const entry = ks.get(key, 'list', command);
    if (entry === undefined) return null;
    const value = (left ? entry.value.shift() : entry.value.pop()) as string;
    if (entry.value.length === 0) ks.remove(entry);
    else ks.resize(entry, -(value.length * 2 + ITEM_OVERHEAD));
    return value;
  }

  // ---------------------------------------------------------------- sets

  sadd(key: string, ...members: string[]): number {
    checkKey(key);
    checkStrings(members, 'member', 'sadd');
    const ks = this.#ks;
    if (ks.limited) {
      ks.reserve(
        key,
        KEY_OVERHEAD + key.length * 2 + stringsBytes(members, MEMBER_OVERHEAD),
        'sadd',
      );
    }
    const entry = ks.get(key, 'set', 'sadd') ?? ks.create(key, 'set', new Set(), 0);
    const set = entry.value;
    let added = 0;
    let delta = 0;
    for (const member of members) {
      if (!set.has(member)) {
        set.add(member);
        added++;
        delta += member.length * 2 + MEMBER_OVERHEAD;
      }
    }
    ks.resize(entry, delta);
    return added;
  }

  srem(key: string, ...members: string[]): number {
    checkKey(key);
    checkStrings(members, 'member', 'srem');
    const ks = this.#ks;
    const entry = ks.get(key, 'set', 'srem');
    if (entry === undefined) return 0;
    let removed = 0;
    let delta = 0;
    for (const member of members) {
      if (entry.value.delete(member)) {
        removed++;
        delta -= member.length * 2 + MEMBER_OVERHEAD;
      }
    }
    if (entry.value.size === 0) ks.remove(entry);
    else ks.resize(entry, delta);
    return removed;
  }

  smembers(key: string): string[] {
    checkKey(key);
    const set = this.#ks.get(key, 'set', 'smembers')?.value;
    return set === undefined ? [] : Array.from(set);
  }

  sismember(key: string, member: string): boolean {
    checkKey(key);
    checkString(member, 'member');
    return this.#ks.get(key, 'set', 'sismember')?.value.has(member) ?? false;
  }

  scard(key: string): number {
    checkKey(key);
    return this.#ks.get(key, 'set', 'scard')?.value.size ?? 0;
  }

  // --------------------------------------------------------- sorted sets

  zadd(key: string, members: ZMember[] | ZMember, options?: ZAddOptions): number {
    checkKey(key);
    const list = Array.isArray(members) ? members : [members];
    if (list.length === 0) {
      throw new ValidationError(`${PKG} zadd needs at least one member`, { field: 'members' });
    }
    const nx = options?.nx === true;
    const xx = options?.xx === true;
    const gt = options?.gt === true;
    const lt = options?.lt === true;
    if (nx && xx) {
      throw new ValidationError(`${PKG} zadd: nx and xx cannot be combined`, { field: 'nx' });
    }
    if (gt && lt) {
      throw new ValidationError(`${PKG} zadd: gt and lt cannot be combined`, { field: 'gt' });
    }
    if (nx && (gt || lt)) {
      throw new ValidationError(`${PKG} zadd: nx cannot be combined with gt or lt`, {
        field: 'nx',
      });
    }
    const scores = new Array<number>(list.length);
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      const item = list[i];
      if (typeof item !== 'object' || item === null) {
        throw new ValidationError(`${PKG} zadd: members[${i}] must be { member, score }`, {
          field: `members[${i}]`,
        });
      }
      checkString(item.member, `members[${i}].member`);
      scores[i] = checkScore(item.score, `members[${i}].score`);
      bytes += item.member.length * 2 + ZMEMBER_OVERHEAD;
    }
    const ks = this.#ks;
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2 + bytes, 'zadd');
    let entry = ks.get(key, 'zset', 'zadd');
    let added = 0;
    let delta = 0;
    for (let i = 0; i < list.length; i++) {
      const { member } = list[i] as ZMember;
      const score = scores[i] as number;
      const current = entry?.value.score(member);
      if (current === undefined) {
        if (xx) continue;
        entry ??= ks.create(key, 'zset', new SortedSet(), 0);
        entry.value.set(member, score);
        added++;
        delta += member.length * 2 + ZMEMBER_OVERHEAD;
      } else {
        if (nx || (gt && !(score > current)) || (lt && !(score < current))) continue;
        entry?.value.set(member, score);
      }
    }
    if (entry !== undefined) ks.resize(entry, delta);
    return added;
  }

  zrem(key: string, ...members: string[]): number {
    checkKey(key);
    checkStrings(members, 'member', 'zrem');
    const ks = this.#ks;
    const entry = ks.get(key, 'zset', 'zrem');
    if (entry === undefined) return 0;
    let removed = 0;
    let delta = 0;
    for (const member of members) {
      if (entry.value.delete(member)) {
        removed++;
        delta -= member.length * 2 + ZMEMBER_OVERHEAD;
      }
    }
    if (entry.value.size === 0) ks.remove(entry);
    else ks.resize(entry, delta);
    return removed;
  }

  zscore(key: string, member: string): number | null {
    checkKey(key);
    checkString(member, 'member');
    return this.#ks.get(key, 'zset', 'zscore')?.value.score(member) ?? null;
  }

  zcard(key: string): number {
    checkKey(key);
    return this.#ks.get(key, 'zset', 'zcard')?.value.size ?? 0;
  }

  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions & { withScores?: false },
  ): string[];
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ZRangeByScoreOptions & { withScores: true },
  ): ZMember[];
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): string[] | ZMember[] {
    checkKey(key);
    const range = scoreRange(min, max);
    let offset = 0;
    let count = -1;
    if (options?.offset !== undefined) {
      checkInteger(options.offset, 'offset', 0);
      offset = options.offset;
    }
    if (options?.count !== undefined) {
      checkInteger(options.count, 'count', 0);
      count = options.count;
    }
    const zset = this.#ks.get(key, 'zset', 'zrangeByScore')?.value;
    if (zset === undefined) return [];
    const found = zset.range(range, offset, count);
    if (options?.withScores === true) {
      return found.map(({ member, score }) => ({ member, score }));
    }
    return found.map(({ member }) => member);
  }

  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): number {
    checkKey(key);
    const range = scoreRange(min, max);
    const ks = this.#ks;
    const entry = ks.get(key, 'zset', 'zremRangeByScore');
    if (entry === undefined) return 0;
    const removed = entry.value.removeRange(range);
    if (entry.value.size === 0) ks.remove(entry);
    else
      ks.resize(
        entry,
        -stringsBytes(
          removed.map((m) => m.member),
          ZMEMBER_OVERHEAD,
        ),
      );
    return removed.length;
  }

  // ------------------------------------------------------------- streams

  xadd(key: string, fields: Record<string, string>, options?: XAddOptions): string | null {
    checkKey(key);
    const names = checkFields(fields, 'xadd');
    let maxLen = -1;
    if (options?.maxLen !== undefined) {
      checkInteger(options.maxLen, 'maxLen', 0);
      maxLen = options.maxLen;
    }
    const idText = options?.id ?? '*';
    checkName(idText, 'id');
    const ks = this.#ks;
    const bytes = ENTRY_OVERHEAD + fieldsBytes(fields, names);
    if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2 + bytes, 'xadd');
    let entry = ks.get(key, 'stream', 'xadd');
    if (entry === undefined && options?.noMkStream) return null;
    const stream = entry?.value ?? new Stream();
    const id = this.#newStreamId(stream, idText);
    const text = formatId(id.ms, id.seq);
    const stored: StoredEntry = {
      ms: id.ms,
      seq: id.seq,
      id: text,
      fields: { ...fields },
      bytes: bytes + text.length * 2,
    };
    entry ??= ks.create(key, 'stream', stream, 0);
    stream.append(stored);
    let delta = stored.bytes;
    if (maxLen >= 0) delta -= stream.trimToLength(maxLen)[1];
    ks.resize(entry, delta);
    this.#hooks.streamAdded(key);
    return text;
  }

  #newStreamId(stream: Stream, text: string): Id {
    if (text === '*') {
      const id = stream.nextId(this.#ks.now());
      if (id === undefined) {
        throw commandError(
          'xadd',
          'ERR The stream has exhausted the last possible ID, unable to add more items',
        );
      }
      return id;
    }
    const last = stream.last;
    let id: Id | undefined;
    if (text.endsWith('-*')) {
      const ms = parseId(text.slice(0, -2), 0);
      if (ms === undefined || text.slice(0, -2).includes('-')) {
        throw commandError('xadd', INVALID_STREAM_ID);
      }
      if (ms.ms > last.ms) id = { ms: ms.ms, seq: 0 };
      else if (ms.ms === last.ms && last.seq < MAX_ID_PART) id = { ms: ms.ms, seq: last.seq + 1 };
      else throw commandError('xadd', XADD_ID_TOO_SMALL);
      if (id.ms === 0 && id.seq === 0) throw commandError('xadd', XADD_ID_ZERO);
      return id;
    }
    id = parseId(text, 0);
    if (id === undefined) throw commandError('xadd', INVALID_STREAM_ID);
    if (id.ms === 0 && id.seq === 0) throw commandError('xadd', XADD_ID_ZERO);
    if (compareIds(id, last) <= 0) throw commandError('xadd', XADD_ID_TOO_SMALL);
    return id;
  }

  xrange(key: string, start = '-', end = '+', count?: number): StreamEntry[] {
    checkKey(key);
    checkName(start, 'start');
    checkName(end, 'end');
    if (count !== undefined) checkInteger(count, 'count', 1);
    const from = intervalStart('xrange', start);
    const to = intervalEnd('xrange', end);
    const stream = this.#ks.get(key, 'stream', 'xrange')?.value;
    if (stream === undefined) return [];
    return stream.range(from, to, count ?? -1).map(toStreamEntry);
  }

  xdel(key: string, ...ids: string[]): number {
    checkKey(key);
    const parsed = this.#ids('xdel', ids);
    const ks = this.#ks;
    const entry = ks.get(key, 'stream', 'xdel');
    if (entry === undefined) return 0;
    let removed = 0;
    let bytes = 0;
    for (const id of parsed) {
      const size = entry.value.delete(id);
      if (size > 0) {
        removed++;
        bytes += size;
      }
    }
    ks.resize(entry, -bytes);
    return removed;
  }

  /** Validates and parses a list of entry ids (`<ms>-<seq>` or `<ms>`). */
  #ids(command: string, ids: readonly string[]): Id[] {
    checkStrings(ids, 'id', command);
    return ids.map((text, i) => {
      checkName(text, `ids[${i}]`);
      const id = parseId(text, 0);
      if (id === undefined) throw commandError(command, INVALID_STREAM_ID);
      return id;
    });
  }

  xlen(key: string): number {
    checkKey(key);
    return this.#ks.get(key, 'stream', 'xlen')?.value.length ?? 0;
  }

  xtrim(key: string, options: XTrimOptions): number {
    checkKey(key);
    const hasMax = options?.maxLen !== undefined;
    const hasMin = options?.minId !== undefined;
    if (hasMax === hasMin) {
      throw new ValidationError(`${PKG} xtrim needs exactly one of maxLen or minId`, {
        field: 'maxLen',
      });
    }
    let minId: Id | undefined;
    if (hasMax) checkInteger(options.maxLen, 'maxLen', 0);
    else {
      checkName(options.minId, 'minId');
      minId = streamId('xtrim', options.minId, 0);
    }
    const ks = this.#ks;
    const entry = ks.get(key, 'stream', 'xtrim');
    if (entry === undefined) return 0;
    const [removed, bytes] =
      minId === undefined
        ? entry.value.trimToLength(options.maxLen as number)
        : entry.value.trimBelow(minId);
    ks.resize(entry, -bytes);
    return removed;
  }

  xgroupCreate(key: string, group: string, options?: { id?: string; mkStream?: boolean }): boolean {
    checkKey(key);
    checkName(group, 'group');
    const idText = options?.id ?? '$';
    checkName(idText, 'id');
    const ks = this.#ks;
    let entry = ks.get(key, 'stream', 'xgroupCreate');
    if (entry === undefined) {
      if (!options?.mkStream) throw commandError('xgroupCreate', XGROUP_NO_KEY);
    }
    const last =
      idText === '$' ? (entry?.value.last ?? MIN_ID) : streamId('xgroupCreate', idText, 0);
    if (entry === undefined) {
      if (ks.limited) ks.reserve(key, KEY_OVERHEAD + key.length * 2, 'xgroupCreate');
      entry = ks.create(key, 'stream', new Stream(), 0);
    }
    const stream = entry.value;
    if (stream.groups.has(group)) return false;
    stream.groups.set(group, new ConsumerGroup({ ms: last.ms, seq: last.seq }));
    ks.resize(entry, group.length * 2 + FIELD_OVERHEAD);
    return true;
  }

  /** The stream and group of a group command; NOGROUP when either is missing. */
  #group(
    command: string,
    key: string,
    group: string,
    readGroup = false,
  ): [EntryOf<'stream'>, ConsumerGroup] {
    const entry = this.#ks.get(key, 'stream', command);
    const found = entry?.value.groups.get(group);
    if (entry === undefined || found === undefined) throw noGroup(command, key, group, readGroup);
    return [entry, found];
  }

  xreadgroup(
    key: string,
    group: string,
    consumer: string,
    options?: XReadGroupOptions,
  ): StreamEntry[] {
    checkKey(key);
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    let count = -1;
    if (options?.count !== undefined) {
      checkInteger(options.count, 'count', 1);
      count = options.count;
    }
    if (options?.blockMs !== undefined) checkInteger(options.blockMs, 'blockMs', 0);
    const idText = options?.id ?? '>';
    checkName(idText, 'id');
    const history = idText === '>' ? undefined : streamId('xreadgroup', idText, 0);
    const [entry, g] = this.#group('xreadgroup', key, group, true);
    const now = this.#ks.now();
    const reader = g.consumer(consumer, now);
    const stream = entry.value;
    if (history === undefined) {
      const found = stream.after(g.last, count);
      const out = new Array<StreamEntry>(found.length);
      for (let i = 0; i < found.length; i++) {
        const stored = found[i] as StoredEntry;
        out[i] = toStreamEntry(stored);
        if (options?.noAck) continue;
        const pending = g.pel.get(stored.id);
        if (pending === undefined) {
          g.pel.set(stored.id, {
            ms: stored.ms,
            seq: stored.seq,
            id: stored.id,
            consumer,
            deliveredAt: now,
            deliveries: 1,
          });
          reader.pending++;
        } else {
          g.assign(pending, reader);
          pending.deliveredAt = now;
          pending.deliveries++;
        }
      }
      if (found.length > 0) {
        const lastRead = found[found.length - 1] as StoredEntry;
        g.last = { ms: lastRead.ms, seq: lastRead.seq };
      }
      return out;
    }
    // history: this consumer's own pending entries after the id
    const out: StreamEntry[] = [];
    for (const pending of g.pel.values()) {
      if (out.length === count) break;
      if (pending.consumer !== consumer || compareIds(pending, history) <= 0) continue;
      const stored = stream.find(pending);
      if (stored === undefined) {
        out.push({ id: pending.id, fields: {} });
      } else {
        pending.deliveredAt = now;
        pending.deliveries++;
        out.push(toStreamEntry(stored));
      }
    }
    return out;
  }

  xack(key: string, group: string, ...ids: string[]): number {
    checkKey(key);
    checkName(group, 'group');
    const parsed = this.#ids('xack', ids);
    const found = this.#ks.get(key, 'stream', 'xack')?.value.groups.get(group);
    if (found === undefined) return 0;
    let acked = 0;
    for (const id of parsed) if (found.ack(formatId(id.ms, id.seq))) acked++;
    return acked;
  }

  xautoclaim(
    key: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    start = '0-0',
    options?: { count?: number },
  ): XAutoClaimResult {
    checkKey(key);
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    checkInteger(minIdleMs, 'minIdleMs', 0);
    checkName(start, 'start');
    let count = 100;
    if (options?.count !== undefined) {
      checkInteger(options.count, 'count', 1);
      count = options.count;
    }
    const from = streamId('xautoclaim', start, 0);
    const [entry, g] = this.#group('xautoclaim', key, group);
    const stream = entry.value;
    const now = this.#ks.now();
    const entries: StreamEntry[] = [];
    const deleted: string[] = [];
    const it = g.pel.values();
    let next = it.next();
    while (!next.done && compareIds(next.value, from) < 0) next = it.next();
    let claimer: Consumer | undefined;
    // Like Redis: look at no more than COUNT × 10 pending entries per call.
    let attempts = count * 10;
    while (attempts > 0 && count > 0 && !next.done) {
      attempts--;
      const pending: PendingEntry = next.value;
      next = it.next();
      const stored = stream.find(pending);
      if (stored === undefined) {
        g.ack(pending.id);
        deleted.push(pending.id);
        count--;
        continue;
      }
      if (now - pending.deliveredAt < minIdleMs) continue;
      claimer ??= g.consumer(consumer, now);
      g.assign(pending, claimer);
      pending.deliveredAt = now;
      pending.deliveries++;
      entries.push(toStreamEntry(stored));
      count--;
    }
    return { next: next.done ? '0-0' : next.value.id, entries, deleted };
  }

  xpending(key: string, group: string): XPendingSummary {
    checkKey(key);
    checkName(group, 'group');
    const [, g] = this.#group('xpending', key, group);
    if (g.pel.size === 0) return { count: 0, minId: null, maxId: null, consumers: [] };
    let minId: string | null = null;
    let maxId: string | null = null;
    for (const pending of g.pel.values()) {
      minId ??= pending.id;
      maxId = pending.id;
    }
    return { count: g.pel.size, minId, maxId, consumers: g.pendingConsumers() };
  }

  xpendingRange(key: string, group: string, options?: XPendingRangeOptions): XPendingEntry[] {
    checkKey(key);
    checkName(group, 'group');
    const startText = options?.start ?? '-';
    const endText = options?.end ?? '+';
    checkName(startText, 'start');
    checkName(endText, 'end');
    let count = -1;
    if (options?.count !== undefined) {
      checkInteger(options.count, 'count', 1);
      count = options.count;
    }
    const consumer = options?.consumer;
    if (consumer !== undefined) checkName(consumer, 'consumer');
    const minIdleMs = options?.minIdleMs ?? 0;
    if (options?.minIdleMs !== undefined) checkInteger(options.minIdleMs, 'minIdleMs', 0);
    const from = intervalStart('xpendingRange', startText);
    const to = intervalEnd('xpendingRange', endText);
    const [, g] = this.#group('xpendingRange', key, group);
    const now = this.#ks.now();
    const out: XPendingEntry[] = [];
    for (const pending of g.pel.values()) {
      if (out.length === count) break;
      if (compareIds(pending, from) < 0) continue;
      if (compareIds(pending, to) > 0) break;
      if (consumer !== undefined && pending.consumer !== consumer) continue;
      const idleMs = Math.max(0, Math.floor(now - pending.deliveredAt));
      if (idleMs < minIdleMs) continue;
      out.push({
        id: pending.id,
        consumer: pending.consumer,
        idleMs,
        deliveries: pending.deliveries,
      });
    }
    return out;
  }

  // ------------------------------------------------------------- pub/sub

  publish(channel: string, message: string): number {
    checkName(channel, 'channel');
    checkString(message, 'message');
    return this.#pubsub.publish(channel, message);
  }

  // --------------------------------------------------------------- admin

  time(): number {
    return this.#ks.now();
  }
}

function scoreRange(min: ScoreBound, max: ScoreBound): ScoreRange {
  const lo = parseBound(min, 'min');
  const hi = parseBound(max, 'max');
  return { min: lo.value, minExclusive: lo.exclusive, max: hi.value, maxExclusive: hi.exclusive };
}
