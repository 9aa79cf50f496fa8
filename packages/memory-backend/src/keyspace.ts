import { CommandError } from '@redbrick/core';
import { OOM, PKG, wrongType } from './errors.js';
import { type Expiring, ExpiryHeap, ExpiryTimer } from './expiry.js';
import type { Deque } from './list.js';
import type { SortedSet } from './sorted-set.js';
import type { Stream } from './stream.js';

/** The Redis data types a key can hold. */
export type DataType = 'string' | 'hash' | 'list' | 'set' | 'zset' | 'stream';

interface Values {
  string: string;
  hash: Map<string, string>;
  list: Deque;
  set: Set<string>;
  zset: SortedSet;
  stream: Stream;
}

interface EntryBase extends Expiring {
  readonly key: string;
  /** Estimated size in bytes (key, value and bookkeeping). */
  bytes: number;
}

/** One key: its type, its value and its expiry. */
export type Entry = {
  [T in DataType]: EntryBase & { readonly type: T; value: Values[T] };
}[DataType];
export type EntryOf<T extends DataType> = Extract<Entry, { type: T }>;

/** What to do when a limit is reached. */
export type EvictionPolicy = 'noeviction' | 'allkeys-lru' | 'volatile-lru';

/*
 * Size estimates (bytes). JS strings are UTF-16, so two bytes a character,
 * plus what the objects and hash-table slots around them cost. Estimates,
 * not measurements: good enough to keep a process under a budget.
 */
export const KEY_OVERHEAD = 80;
export const FIELD_OVERHEAD = 32;
export const ITEM_OVERHEAD = 8;
export const MEMBER_OVERHEAD = 16;
export const ZMEMBER_OVERHEAD = 48;
export const ENTRY_OVERHEAD = 48;

/**
 * The size estimate of an entry computed from scratch (the keyspace keeps
 * it incrementally). Tests compare the two to catch accounting drift.
 */
export function measureEntry(entry: Entry): number {
  let bytes = KEY_OVERHEAD + entry.key.length * 2;
  switch (entry.type) {
    case 'string':
      return bytes + entry.value.length * 2;
    case 'hash':
      for (const [f, v] of entry.value) bytes += (f.length + v.length) * 2 + FIELD_OVERHEAD;
      return bytes;
    case 'list':
      for (let i = 0; i < entry.value.length; i++) {
        bytes += entry.value.at(i).length * 2 + ITEM_OVERHEAD;
      }
      return bytes;
    case 'set':
      for (const m of entry.value) bytes += m.length * 2 + MEMBER_OVERHEAD;
      return bytes;
    case 'zset':
      for (const { member } of entry.value.range(ALL_SCORES, 0, -1)) {
        bytes += member.length * 2 + ZMEMBER_OVERHEAD;
      }
      return bytes;
    case 'stream':
      bytes += entry.value.entriesBytes();
      for (const name of entry.value.groups.keys()) bytes += name.length * 2 + FIELD_OVERHEAD;
      return bytes;
  }
}

const ALL_SCORES = {
  min: Number.NEGATIVE_INFINITY,
  minExclusive: false,
  max: Number.POSITIVE_INFINITY,
  maxExclusive: false,
};

export interface KeyspaceOptions {
  clock: () => number;
  maxKeys: number;
  maxMemoryBytes: number;
  policy: EvictionPolicy;
  activeExpiry: boolean;
  /** Called with every key that expires (not for DEL or eviction). */
  onExpired: (key: string) => void;
}

/** Active expiry removes at most this many keys per timer run, then yields. */
const EXPIRE_BATCH = 1000;

/**
 * The keyspace: every key's entry in a Map, expiry (lazy on access, active
 * through one timer on a min-heap of expiry times) and LRU eviction. With a
 * limit set, the Map's insertion order is the LRU order (an access moves a
 * key to the end); without one, nothing is reordered and eviction costs
 * nothing.
 */
export class Keyspace {
  readonly map = new Map<string, Entry>();
  readonly clock: () => number;
  readonly limited: boolean;
  readonly maxKeys: number;
  readonly maxMemoryBytes: number;
  readonly policy: EvictionPolicy;
  usedBytes = 0;
  expiredKeys = 0;
  evictedKeys = 0;
  readonly #heap = new ExpiryHeap<Entry>();
  readonly #timer: ExpiryTimer | undefined;
  readonly #onExpired: (key: string) => void;
  /** LRU order of the keys with a TTL, kept only for `volatile-lru`. */
  readonly #volatile: Set<string> | undefined;

  constructor(options: KeyspaceOptions) {
    this.clock = options.clock;
    this.maxKeys = options.maxKeys;
    this.maxMemoryBytes = options.maxMemoryBytes;
    this.limited = options.maxKeys > 0 || options.maxMemoryBytes > 0;
    this.policy = options.policy;
    this.#onExpired = options.onExpired;
    this.#volatile = this.limited && options.policy === 'volatile-lru' ? new Set() : undefined;
    this.#timer = options.activeExpiry
      ? new ExpiryTimer(this.#activeExpiry, this.clock)
      : undefined;
  }

  /** How many keys have a TTL. */
  get expiringKeys(): number {
    return this.#heap.size;
  }

  /** True while the active-expiry timer is armed. */
  get timerArmed(): boolean {
    return this.#timer?.armed ?? false;
  }

  /** True inside a script run (see {@link Keyspace.freeze}). */
  #frozen = false;
  /** The clock value of the current script run, read at its first use. */
  #frozenAt: number | undefined;

  /**
   * The backend clock, read at most once per script run: while
   * {@link Keyspace.freeze} holds, every expiry check, TTL and `TIME` sees
   * the first value read, as in Redis, where time stands still while a
   * script runs (a key does not expire half-way through one). Reading the
   * clock is also the dearest part of a short script (a `clock_gettime` per
   * read).
   */
  now(): number {
    if (!this.#frozen) return this.clock();
    if (this.#frozenAt === undefined) this.#frozenAt = this.clock();
    return this.#frozenAt;
  }

  /**
   * Freezes the clock (at its next read) until {@link Keyspace.thaw}.
   * Returns false (and changes nothing) when it is frozen already.
   */
  freeze(): boolean {
    if (this.#frozen) return false;
    this.#frozen = true;
    return true;
  }

  thaw(): void {
    this.#frozen = false;
    this.#frozenAt = undefined;
  }

  /** The live entry of `key` (expiring it first when its time has passed). Does not count as an access. */
  peek(key: string): Entry | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt < this.now()) {
      this.#expire(entry);
      return undefined;
    }
    return entry;
  }

  /** The live entry of `key` when it holds `type`; WRONGTYPE when it holds another. An access. */
  get<T extends DataType>(key: string, type: T, command: string): EntryOf<T> | undefined {
    const entry = this.peek(key);
    if (entry === undefined) return undefined;
    if (entry.type !== type) throw wrongType(command);
    if (this.limited) this.touch(entry);
    return entry as EntryOf<T>;
  }

  /** Stores a new key (which must not exist). */
  create<T extends DataType>(
    key: string,
    type: T,
    value: Values[T],
    valueBytes: number,
  ): EntryOf<T> {
    const entry = {
      key,
      type,
      value,
      expiresAt: 0,
      heapIndex: -1,
      bytes: KEY_OVERHEAD + key.length * 2 + valueBytes,
    } as EntryOf<T>;
    this.map.set(key, entry);
    this.usedBytes += entry.bytes;
    return entry;
  }

  resize(entry: Entry, delta: number): void {
    entry.bytes += delta;
    this.usedBytes += delta;
  }

  remove(entry: Entry): void {
    this.map.delete(entry.key);
    this.usedBytes -= entry.bytes;
    if (entry.heapIndex !== -1) this.#heap.remove(entry);
    this.#volatile?.delete(entry.key);
  }

  /** Sets (at > 0, backend clock ms) or clears (0) the expiry of a live entry. */
  setExpiry(entry: Entry, at: number): void {
    entry.expiresAt = at;
    if (at === 0) {
      if (entry.heapIndex !== -1) this.#heap.remove(entry);
      this.#volatile?.delete(entry.key);
      return;
    }
    this.#heap.update(entry);
    if (this.#volatile) {
      this.#volatile.delete(entry.key);
      this.#volatile.add(entry.key);
    }
    // expired once the clock is past `at`
    if (this.#timer && this.#heap.peek() === entry) this.#timer.arm(at + 1);
  }

  /** Marks an access: the key becomes the most recently used. */
  touch(entry: Entry): void {
    this.map.delete(entry.key);
    this.map.set(entry.key, entry);
    if (this.#volatile && entry.expiresAt !== 0) {
      this.#volatile.delete(entry.key);
      this.#volatile.add(entry.key);
    }
  }

  /**
   * Makes room before a write to `key` that adds about `incoming` bytes:
   * evicts least recently used keys, or fails with OOM when the policy (or
   * what is left to evict) does not allow it. Only called when `limited`.
   */
  reserve(key: string, incoming: number, command: string): void {
    const needKey = this.maxKeys > 0 && this.map.size >= this.maxKeys && !this.map.has(key);
    const needBytes = this.maxMemoryBytes > 0 && this.usedBytes + incoming > this.maxMemoryBytes;
    if (!needKey && !needBytes) return;
    this.purgeExpired();
    if (this.maxKeys > 0 && !this.map.has(key)) {
      while (this.map.size >= this.maxKeys) {
        if (!this.#evictOne()) {
          throw new CommandError(
            `${PKG} ${command}: OOM command not allowed when the key count would exceed maxKeys (${this.maxKeys}) and evictionPolicy is ${this.policy}`,
          );
        }
      }
    }
    if (this.maxMemoryBytes > 0) {
      while (this.usedBytes + incoming > this.maxMemoryBytes) {
        if (!this.#evictOne()) throw new CommandError(`${PKG} ${command}: ${OOM}`);
      }
    }
  }

  #evictOne(): boolean {
    let key: string | undefined;
    if (this.policy === 'allkeys-lru') key = this.map.keys().next().value;
    else if (this.policy === 'volatile-lru') key = this.#volatile?.values().next().value;
    if (key === undefined) return false;
    const entry = this.map.get(key);
    if (entry === undefined) return false;
    this.remove(entry);
    this.evictedKeys++;
    return true;
  }

  #expire(entry: Entry): void {
    this.remove(entry);
    this.expiredKeys++;
    this.#onExpired(entry.key);
  }

  /** Removes up to `limit` keys whose TTL has passed; returns how many. */
  purgeExpired(limit = Number.POSITIVE_INFINITY): number {
    const now = this.clock();
    let removed = 0;
    while (removed < limit) {
      const top = this.#heap.peek();
      if (top === undefined || top.expiresAt >= now) break;
      this.#expire(top);
      removed++;
    }
    return removed;
  }

  readonly #activeExpiry = (): void => {
    const removed = this.purgeExpired(EXPIRE_BATCH);
    const next = this.#heap.peek();
    if (next === undefined) return;
    if (removed === EXPIRE_BATCH && next.expiresAt < this.clock()) this.#timer?.soon();
    else this.#timer?.arm(next.expiresAt + 1);
  };

  /** Drops every key and stops the timer (close). */
  clear(): void {
    this.#timer?.stop();
    this.#heap.clear();
    this.#volatile?.clear();
    this.map.clear();
    this.usedBytes = 0;
  }
}
