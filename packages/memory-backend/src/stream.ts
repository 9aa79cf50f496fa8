import type { StreamEntry } from '@redbrick/core';
import { compareBinary } from './sorted-set.js';

/*
 * Redis streams: entries with `<ms>-<seq>` ids in increasing order,
 * consumer groups with a pending entries list (PEL). Ids are kept as two
 * safe integers; Redis allows up to 2^64 − 1 in each half, this backend up
 * to 2^53 − 1 (larger explicit ids are rejected as invalid).
 */

/** The largest `ms` or `seq` this backend represents. */
export const MAX_ID_PART = Number.MAX_SAFE_INTEGER;

/** A stream id as its two halves. */
export interface Id {
  ms: number;
  seq: number;
}

export interface StoredEntry extends Id {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
  /** Estimated size in bytes. */
  readonly bytes: number;
}

export interface PendingEntry extends Id {
  readonly id: string;
  consumer: string;
  /** Backend clock (ms) of the last delivery. */
  deliveredAt: number;
  deliveries: number;
}

export interface Consumer {
  readonly name: string;
  /** Entries in the PEL owned by this consumer. */
  pending: number;
  seenAt: number;
}

export function compareIds(a: Id, b: Id): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

export function formatId(ms: number, seq: number): string {
  return `${ms}-${seq}`;
}

const DIGITS = /^[0-9]+$/;

function part(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID_PART ? n : undefined;
}

/**
 * Parses `<ms>-<seq>` or `<ms>` (the missing sequence is `missingSeq`).
 * Undefined when the text is not a valid id.
 */
export function parseId(text: string, missingSeq: number): Id | undefined {
  const dash = text.indexOf('-');
  if (dash === -1) {
    const ms = part(text);
    return ms === undefined ? undefined : { ms, seq: missingSeq };
  }
  const ms = part(text.slice(0, dash));
  const seq = part(text.slice(dash + 1));
  return ms === undefined || seq === undefined ? undefined : { ms, seq };
}

/** A consumer group: where it has read up to, its PEL and its consumers. */
export class ConsumerGroup {
  last: Id;
  /**
   * Pending entries by id. Entries only enter the PEL through `>` reads,
   * whose ids always grow, so the Map's insertion order is id order.
   */
  readonly pel = new Map<string, PendingEntry>();
  readonly consumers = new Map<string, Consumer>();

  constructor(last: Id) {
    this.last = last;
  }

  consumer(name: string, now: number): Consumer {
    let consumer = this.consumers.get(name);
    if (consumer === undefined) {
      consumer = { name, pending: 0, seenAt: now };
      this.consumers.set(name, consumer);
    } else {
      consumer.seenAt = now;
    }
    return consumer;
  }

  /** Moves a pending entry to `consumer` (which must exist). */
  assign(entry: PendingEntry, consumer: Consumer): void {
    if (entry.consumer === consumer.name) return;
    const previous = this.consumers.get(entry.consumer);
    if (previous) previous.pending--;
    entry.consumer = consumer.name;
    consumer.pending++;
  }

  ack(id: string): boolean {
    const entry = this.pel.get(id);
    if (entry === undefined) return false;
    this.pel.delete(id);
    const consumer = this.consumers.get(entry.consumer);
    if (consumer) consumer.pending--;
    return true;
  }

  /** Consumers with pending entries, by name (bytewise, as Redis lists them). */
  pendingConsumers(): Array<{ name: string; count: number }> {
    const out: Array<{ name: string; count: number }> = [];
    for (const c of this.consumers.values()) {
      if (c.pending > 0) out.push({ name: c.name, count: c.pending });
    }
    return out.sort((a, b) => compareBinary(a.name, b.name));
  }
}

/** A Redis stream. Streams stay when emptied (XDEL, XTRIM), like in Redis. */
export class Stream {
  /** Entries from `#head` on; trimming the front only moves `#head` until it is compacted. */
  #entries: Array<StoredEntry | undefined> = [];
  #head = 0;
  /** The last id ever added (what `$` means), even when that entry was deleted. */
  last: Id = { ms: 0, seq: 0 };
  readonly groups = new Map<string, ConsumerGroup>();

  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** The summed size estimate of the entries still in the stream. */
  entriesBytes(): number {
    let bytes = 0;
    for (let i = this.#head; i < this.#entries.length; i++) {
      bytes += (this.#entries[i] as StoredEntry).bytes;
    }
    return bytes;
  }

  /** The id `*` gives at `now`, or undefined when the stream has used the last possible id. */
  nextId(now: number): Id | undefined {
    const ms = Math.floor(now);
    if (ms > this.last.ms) return { ms, seq: 0 };
    if (this.last.seq < MAX_ID_PART) return { ms: this.last.ms, seq: this.last.seq + 1 };
    if (this.last.ms < MAX_ID_PART) return { ms: this.last.ms + 1, seq: 0 };
    return undefined;
  }

  append(entry: StoredEntry): void {
    this.#entries.push(entry);
    this.last = { ms: entry.ms, seq: entry.seq };
  }

  /** Index (absolute) of the first entry whose id is ≥ `id`. */
  #lowerBound(id: Id): number {
    const entries = this.#entries;
    let lo = this.#head;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(entries[mid] as StoredEntry, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  find(id: Id): StoredEntry | undefined {
    const i = this.#lowerBound(id);
    const entry = this.#entries[i];
    return entry !== undefined && compareIds(entry, id) === 0 ? entry : undefined;
  }

  /** Entries with `start ≤ id ≤ end`, at most `count` (negative: all). */
  range(start: Id, end: Id, count: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    const entries = this.#entries;
    for (let i = this.#lowerBound(start); i < entries.length && out.length !== count; i++) {
      const entry = entries[i] as StoredEntry;
      if (compareIds(entry, end) > 0) break;
      out.push(entry);
    }
    return out;
  }

  /** Entries with an id greater than `after`, at most `count` (negative: all). */
  after(after: Id, count: number): StoredEntry[] {
    const next =
      after.seq < MAX_ID_PART ? { ms: after.ms, seq: after.seq + 1 } : { ms: after.ms + 1, seq: 0 };
    return this.range(next, { ms: MAX_ID_PART, seq: MAX_ID_PART }, count);
  }

  /** Deletes one entry; returns its size in bytes, or 0 when it was not there. */
  delete(id: Id): number {
    const i = this.#lowerBound(id);
    const entry = this.#entries[i];
    if (entry === undefined || compareIds(entry, id) !== 0) return 0;
    if (i === this.#head) this.#dropFront(1);
    else this.#entries.splice(i, 1);
    return entry.bytes;
  }

  /** Trims to at most `maxLen` entries (exactly). Returns [removed, bytes]. */
  trimToLength(maxLen: number): [number, number] {
    const excess = this.length - maxLen;
    return excess > 0 ? this.#dropFront(excess) : [0, 0];
  }

  /** Removes entries with an id below `minId`. Returns [removed, bytes]. */
  trimBelow(minId: Id): [number, number] {
    const n = this.#lowerBound(minId) - this.#head;
    return n > 0 ? this.#dropFront(n) : [0, 0];
  }

  #dropFront(n: number): [number, number] {
    let bytes = 0;
    const end = this.#head + n;
    for (let i = this.#head; i < end; i++) bytes += (this.#entries[i] as StoredEntry).bytes;
    this.#head = end;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else {
      // release the dropped entries for the garbage collector
      this.#entries.fill(undefined, end - n, end);
    }
    return [n, bytes];
  }
}

/** The reply shape of an entry: a copy, so callers cannot change what is stored. */
export function toStreamEntry(entry: StoredEntry): StreamEntry {
  return { id: entry.id, fields: { ...entry.fields } };
}
