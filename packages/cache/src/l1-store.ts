/** One value held in process memory. */
export interface L1Entry {
  /** The decoded value (shared by every reader: do not mutate it). */
  value: unknown;
  /** Wall-clock ms after which the value is stale. */
  expiresAt: number;
  /** Wall-clock ms after which the value is gone (expiresAt + grace). */
  staleUntil: number;
  /** Estimated size in bytes. */
  bytes: number;
  /** Tags the entry was written with. */
  tags: readonly string[] | undefined;
  /** Metadata stored beside the value. */
  meta: Record<string, unknown> | undefined;
}

/**
 * The in-process tier: an LRU bounded by entry count and by estimated bytes.
 * A `Map` keeps insertion order, so re-inserting on a hit makes the first key
 * the least recently used one.
 */
export class L1Store {
  private readonly entries = new Map<string, L1Entry>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry, touched as most recently used; gone entries are dropped. */
  get(key: string, now: number): L1Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.staleUntil <= now) {
      this.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: L1Entry): void {
    if (entry.bytes > this.maxBytes) {
      this.delete(key);
      return;
    }
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.bytes -= old.bytes;
    this.entries.delete(key);
  }

  /** Drops every key starting with `prefix` (all keys when empty). */
  deletePrefix(prefix: string): void {
    if (prefix === '') {
      this.entries.clear();
      this.bytes = 0;
      return;
    }
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  /** Drops every entry carrying one of `tags`. */
  deleteTagged(tags: ReadonlySet<string>, prefix: string): void {
    for (const [key, entry] of [...this.entries]) {
      if (!key.startsWith(prefix) || entry.tags === undefined) continue;
      if (entry.tags.some((t) => tags.has(t))) this.delete(key);
    }
  }
}
