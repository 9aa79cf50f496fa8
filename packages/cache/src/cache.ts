import { randomBytes } from 'node:crypto';
import {
  type Backend,
  BackendUnavailableError,
  key as buildKey,
  type Codec,
  type ConnectionState,
  describe,
  escapeGlob,
  escapeKeyPart,
  isRedbrickError,
  json,
  type Subscription,
  unescapeKeyPart,
  ValidationError,
  withDeadline,
  withSchema,
} from '@redbrick/core';
import { decodeEntry, encodeEntry, type StoredEntry } from './entry.js';
import { FactoryTimeoutError } from './errors.js';
import { type L1Entry, L1Store } from './l1-store.js';
import {
  type CacheOptions,
  checkKey,
  checkMeta,
  checkOptionalInt,
  checkTags,
  checkWriteOptions,
  type GetOrSetOptions,
  type SetEntryOptions,
  type SetManyItem,
} from './options.js';
import { tagAddScript, unlockScript } from './scripts.js';

/** Counters since the cache was created (namespaces share their root's counters). */
export interface CacheStats {
  /** Reads that found a fresh value (L1 or L2). */
  hits: number;
  /** Reads that found nothing usable. */
  misses: number;
  /** hits ÷ (hits + misses), 0 before the first read. */
  hitRate: number;
  sets: number;
  deletes: number;
  /** Backend failures and factory failures. */
  errors: number;
  /** Stale values served within their grace period. */
  staleServed: number;
  /** Hits answered by the in-process tier. */
  l1Hits: number;
  /** Hits answered by the backend. */
  l2Hits: number;
}

/** Events a cache emits, and what their listeners receive. */
export interface CacheEvents {
  hit: { key: string; tier: 'l1' | 'l2' };
  miss: { key: string };
  stale: { key: string; reason: 'refresh' | 'factory-error' | 'backend-error' | 'soft-timeout' };
  error: { key: string | undefined; error: unknown; operation: string };
}

/** An entry with what was stored beside it. */
export interface CacheEntry<V> {
  value: V;
  /** Wall-clock ms of the logical expiry. */
  expiresAt: number;
  /** True when the value is past its TTL but within its grace period. */
  stale: boolean;
  tags: string[];
  meta: Record<string, unknown> | undefined;
}

type Listener<E extends keyof CacheEvents> = (event: CacheEvents[E]) => void;

/** A two-tier cache. Create one with {@link createCache}. */
export interface Cache<V = unknown> extends AsyncDisposable {
  /** The name given at creation. */
  readonly name: string;
  /** The fresh value, or undefined. Throws `BACKEND_UNAVAILABLE` when the backend is down and no L1/grace value exists. */
  get(key: string): Promise<V | undefined>;
  /** The entry with its metadata, tags and expiry (stale entries within grace included), or undefined. */
  getEntry(key: string): Promise<CacheEntry<V> | undefined>;
  set(key: string, value: V, options?: SetEntryOptions): Promise<void>;
  /** The cached value, or the factory's (run once per process, or once overall with distributed single-flight). */
  getOrSet(key: string, factory: () => Promise<V> | V, options?: GetOrSetOptions): Promise<V>;
  /** True when the key was there. */
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** Removes every entry of this cache (namespaces included) with SCAN; never FLUSHDB. */
  clear(): Promise<void>;
  /** Values in key order, one backend round trip for the keys L1 does not have. */
  getMany(keys: readonly string[]): Promise<Array<V | undefined>>;
  /** Writes all items in one round trip. */
  setMany(items: ReadonlyArray<SetManyItem<V>>): Promise<void>;
  /** Returns how many keys existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  /** This cache's keys matching a glob pattern (`*`, `?`, `[..]`), via SCAN. */
  keys(pattern?: string): AsyncIterable<string>;
  /** A cache over the same backend whose keys live in their own namespace. */
  namespace(name: string): Cache<V>;
  /** Removes every entry of one namespace. */
  clearNamespace(name: string): Promise<void>;
  /** Removes every entry carrying any of the tags, on every instance. */
  invalidateTags(tags: readonly string[]): Promise<void>;
  stats(): CacheStats;
  /** Listens; returns the unsubscribe function. */
  on<E extends keyof CacheEvents>(event: E, listener: Listener<E>): () => void;
  /**
   * Resolves once cross-instance invalidation is subscribed. A failed
   * subscription is retried in the background, so while Redis is
   * unreachable this waits for it; `close()` settles it.
   */
  ready(): Promise<void>;
  /** Backend round-trip latency in ms. */
  ping(): Promise<number>;
  readonly isConnected: boolean;
  /** Unsubscribes and stops; does not close the backend. Idempotent. On a namespace view it does nothing. */
  close(): Promise<void>;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_BACKEND_TIMEOUT_MS = 1000;
const DEFAULT_LOCK_TTL_MS = 10_000;
const LOCK_POLL_MS = 20;
/** Backoff between attempts to subscribe to the invalidation channel. */
const SUBSCRIBE_RETRY_MIN_MS = 100;
const SUBSCRIBE_RETRY_MAX_MS = 2000;
const STORAGE_KEY_MEMO = 10_000;

interface Shared {
  backend: Backend;
  codec: Codec<unknown>;
  name: string;
  ttlMs: number;
  graceMs: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  backendTimeoutMs: number;
  /** The error of a backend call past `backendTimeoutMs`. */
  timedOut: () => Error;
  distributed: boolean;
  lockTtlMs: number;
  l1: L1Store | undefined;
  invalidation: boolean;
  channel: string;
  instanceId: string;
  counters: Omit<CacheStats, 'hitRate'>;
  listeners: { [E in keyof CacheEvents]: Set<Listener<E>> };
  inflight: Map<string, Promise<unknown>>;
  /** Settles (never rejects) with the invalidation subscription once one attempt has succeeded. */
  subscription: Promise<Subscription | undefined>;
  /** Settles after the first subscription attempt, whether it succeeded or not. */
  firstAttempt: Promise<void>;
  /**
   * L1 answers reads and is filled only while invalidations can reach it:
   * the backend connected and the invalidation channel subscribed (always
   * without cross-instance invalidation). Otherwise an L1 entry only stands
   * in for a backend that cannot answer.
   */
  coherent: boolean;
  /** Stops retrying the subscription (on close); `subscription` then settles empty. */
  stopRetrying: () => void;
  offConnection: () => void;
  closed: boolean;
  /** Bumped by every invalidation received: an L2 read that overlapped one is not kept in L1. */
  generation: number;
}

interface Message {
  /** Sender instance. */
  s: string;
  /** Storage keys to evict. */
  k?: string[];
  /** Storage key prefix to evict. */
  p?: string;
}

function emit<E extends keyof CacheEvents>(shared: Shared, event: E, payload: CacheEvents[E]) {
  const set = shared.listeners[event];
  if (set.size === 0) return;
  for (const listener of set) {
    try {
      listener(payload);
    } catch {
      // A throwing metrics hook must not break a cache read.
    }
  }
}

function checkName(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(
      `[redbrick/cache] ${field} must be a non-empty string, got ${describe(value)}`,
      { field },
    );
  }
}

function l1Entry(entry: StoredEntry, graceMs: number, bytes: number): L1Entry {
  return {
    value: entry.value,
    expiresAt: entry.expiresAt,
    staleUntil: entry.expiresAt + graceMs,
    bytes,
    tags: entry.tags,
    meta: entry.meta,
  };
}

/**
 * Creates a two-tier cache: an in-process LRU (L1) in front of `backend`
 * (L2), with stampede protection, grace periods, fail-safe, tags and
 * cross-instance invalidation.
 *
 * @example
 * const cache = createCache<User>({ backend, ttlMs: 60_000 });
 * const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id));
 */
export function createCache<V = unknown>(options: CacheOptions<V>): Cache<V> {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(
      `[redbrick/cache] options must be an object with a backend, got ${describe(options)}`,
      { field: 'options' },
    );
  }
  const backend = options.backend;
  if (
    typeof backend !== 'object' ||
    backend === null ||
    typeof (backend as Partial<Backend>).get !== 'function'
  ) {
    throw new ValidationError('[redbrick/cache] backend must be a redbrick Backend', {
      field: 'backend',
    });
  }
  const name = options.name ?? 'default';
  checkName(name, 'name');
  checkOptionalInt(options.ttlMs, 'ttlMs', 1);
  checkOptionalInt(options.graceMs, 'graceMs', 0);
  checkOptionalInt(options.softTimeoutMs, 'softTimeoutMs', 1);
  checkOptionalInt(options.hardTimeoutMs, 'hardTimeoutMs', 1);
  checkOptionalInt(options.backendTimeoutMs, 'backendTimeoutMs', 1);
  checkOptionalInt(options.lockTtlMs, 'lockTtlMs', 1);
  if (
    options.singleFlight !== undefined &&
    options.singleFlight !== 'process' &&
    options.singleFlight !== 'distributed'
  ) {
    throw new ValidationError(
      `[redbrick/cache] singleFlight must be 'process' or 'distributed', got ${describe(options.singleFlight)}`,
      { field: 'singleFlight' },
    );
  }
  if (options.l1 !== undefined && options.l1 !== false) {
    if (typeof options.l1 !== 'object' || options.l1 === null) {
      throw new ValidationError(
        `[redbrick/cache] l1 must be false or { maxEntries?, maxBytes? }, got ${describe(options.l1)}`,
        { field: 'l1' },
      );
    }
    checkOptionalInt(options.l1.maxEntries, 'l1.maxEntries', 1);
    checkOptionalInt(options.l1.maxBytes, 'l1.maxBytes', 1);
  }
  if (options.invalidation !== undefined && typeof options.invalidation !== 'boolean') {
    throw new ValidationError(
      `[redbrick/cache] invalidation must be a boolean, got ${describe(options.invalidation)}`,
      { field: 'invalidation' },
    );
  }
  const baseCodec = options.codec ?? json;
  const codec = options.schema ? withSchema(options.schema, baseCodec, 'cache') : baseCodec;
  const l1 =
    options.l1 === false
      ? undefined
      : new L1Store(options.l1?.maxEntries ?? 10_000, options.l1?.maxBytes ?? 64 * 1024 * 1024);
  const backendTimeoutMs = options.backendTimeoutMs ?? DEFAULT_BACKEND_TIMEOUT_MS;
  const shared: Shared = {
    backend,
    codec,
    name,
    ttlMs: options.ttlMs ?? backend.defaultTtlMs ?? DEFAULT_TTL_MS,
    graceMs: options.graceMs ?? 0,
    softTimeoutMs: options.softTimeoutMs,
    hardTimeoutMs: options.hardTimeoutMs,
    backendTimeoutMs,
    timedOut: () =>
      new BackendUnavailableError(
        `[redbrick/cache] the backend did not answer within backendTimeoutMs (${backendTimeoutMs} ms)`,
      ),
    distributed: options.singleFlight === 'distributed',
    lockTtlMs: options.lockTtlMs ?? options.hardTimeoutMs ?? DEFAULT_LOCK_TTL_MS,
    l1,
    invalidation: l1 !== undefined && options.invalidation !== false,
    channel: buildKey('cache', name, 'invalidate'),
    instanceId: randomBytes(8).toString('hex'),
    counters: {
      hits: 0,
      misses: 0,
      sets: 0,
      deletes: 0,
      errors: 0,
      staleServed: 0,
      l1Hits: 0,
      l2Hits: 0,
    },
    listeners: { hit: new Set(), miss: new Set(), stale: new Set(), error: new Set() },
    inflight: new Map(),
    subscription: Promise.resolve(undefined),
    firstAttempt: Promise.resolve(),
    coherent: true,
    stopRetrying: () => {},
    offConnection: () => {},
    closed: false,
    generation: 0,
  };
  if (shared.invalidation && l1) {
    const onMessage = (raw: string) => {
      let message: Message;
      try {
        message = JSON.parse(raw) as Message;
      } catch {
        return;
      }
      if (message.s === shared.instanceId) return;
      shared.generation++;
      if (message.p !== undefined) l1.deletePrefix(message.p);
      if (message.k) for (const k of message.k) l1.delete(k);
    };
    // Retried until it succeeds (a cache created while Redis is down or slow). L1 is filled
    // while the first attempt is in flight (as the subscription lands within a round trip);
    // once an attempt has failed, L1 is emptied and keeps nothing until a later one succeeds,
    // since no invalidation could reach it.
    let subscribed = true;
    let connected = backend.isConnected;
    const update = () => {
      shared.coherent = subscribed && connected;
    };
    update();
    /** Empties L1; a read of an old value still in flight must not land in it either. */
    const startAfresh = () => {
      shared.generation++;
      l1.deletePrefix('');
    };
    let settleFirst!: () => void;
    shared.firstAttempt = new Promise<void>((resolve) => {
      settleFirst = resolve;
    });
    shared.subscription = new Promise<Subscription | undefined>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      shared.stopRetrying = () => {
        if (timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        resolve(undefined);
      };
      const attempt = (delayMs: number): void => {
        timer = undefined;
        backend.subscribe(shared.channel, onMessage).then(
          (subscription) => {
            if (!subscribed) {
              startAfresh();
              subscribed = true;
              update();
            }
            settleFirst();
            resolve(subscription);
          },
          (error: unknown) => {
            subscribed = false;
            update();
            startAfresh();
            shared.counters.errors++;
            emit(shared, 'error', { key: undefined, error, operation: 'subscribe' });
            settleFirst();
            if (shared.closed) {
              resolve(undefined);
              return;
            }
            timer = setTimeout(attempt, delayMs, Math.min(delayMs * 2, SUBSCRIBE_RETRY_MAX_MS));
            timer.unref?.();
          },
        );
      };
      attempt(SUBSCRIBE_RETRY_MIN_MS);
    });
    // Invalidations sent while the connection (or the subscriber's) was down are lost: while it
    // is, L1 only stands in for a backend that cannot answer; after it, L1 starts afresh.
    shared.offConnection = backend.onConnectionChange((state: ConnectionState) => {
      if (state === 'ready') {
        if (!connected) startAfresh();
        connected = true;
      } else connected = false;
      update();
    });
  }
  return new TwoTierCache<V>(shared, buildKey('cache', name), true);
}

class TwoTierCache<V> implements Cache<V> {
  private readonly entryPrefix: string;
  private readonly storageKeys = new Map<string, string>();

  constructor(
    private readonly shared: Shared,
    private readonly base: string,
    private readonly root: boolean,
  ) {
    this.entryPrefix = `${base}:e:`;
  }

  get name(): string {
    return this.shared.name;
  }

  get isConnected(): boolean {
    return !this.shared.closed && this.shared.backend.isConnected;
  }

  private storageKey(k: string): string {
    // Escaping runs a regex replace; hot keys are looked up instead (bounded memo).
    let sk = this.storageKeys.get(k);
    if (sk === undefined) {
      sk = this.entryPrefix + escapeKeyPart(k);
      if (this.storageKeys.size >= STORAGE_KEY_MEMO) this.storageKeys.clear();
      this.storageKeys.set(k, sk);
    }
    return sk;
  }

  private tagKey(t: string): string {
    return `${this.base}:t:${escapeKeyPart(t)}`;
  }

  private lockKey(k: string): string {
    return `${this.base}:l:${escapeKeyPart(k)}`;
  }

  private checkOpen(): void {
    if (this.shared.closed) {
      throw new ValidationError('[redbrick/cache] the cache is closed', { field: 'cache' });
    }
  }

  private fail(key: string | undefined, operation: string, error: unknown): void {
    this.shared.counters.errors++;
    emit(this.shared, 'error', { key, error, operation });
  }

  private call<T>(promise: Promise<T>): Promise<T> {
    return withDeadline(promise, this.shared.backendTimeoutMs, this.shared.timedOut);
  }

  private hit(key: string, tier: 'l1' | 'l2'): void {
    const c = this.shared.counters;
    c.hits++;
    if (tier === 'l1') c.l1Hits++;
    else c.l2Hits++;
    if (this.shared.listeners.hit.size > 0) emit(this.shared, 'hit', { key, tier });
  }

  private miss(key: string): void {
    this.shared.counters.misses++;
    if (this.shared.listeners.miss.size > 0) emit(this.shared, 'miss', { key });
  }

  private stale(key: string, reason: CacheEvents['stale']['reason']): void {
    this.shared.counters.staleServed++;
    emit(this.shared, 'stale', { key, reason });
  }

  private publish(message: Omit<Message, 's'>): Promise<void> {
    if (!this.shared.invalidation) return Promise.resolve();
    const text = JSON.stringify({ s: this.shared.instanceId, ...message });
    return this.call(this.shared.backend.publish(this.shared.channel, text)).then(
      () => undefined,
      (error: unknown) => this.fail(undefined, 'publish', error),
    );
  }

  /** Reads L2; returns the decoded entry (fresh or in grace). */
  private async readL2(k: string, sk: string): Promise<L1Entry | undefined> {
    const generation = this.shared.generation;
    const stored = await this.call(this.shared.backend.get(sk));
    if (stored === null) return undefined;
    return this.accept(k, sk, stored, generation);
  }

  /**
   * Decodes a stored entry and keeps it in L1 — unless an invalidation
   * arrived while the read was in flight: the reply may predate the write
   * that invalidation announced (the reply and the message travel on two
   * connections), and keeping it would serve an old value until its TTL.
   */
  private accept(k: string, sk: string, stored: string, generation: number): L1Entry {
    const entry = l1Entry(
      decodeEntry(this.shared.codec, stored, k),
      this.shared.graceMs,
      stored.length * 2,
    );
    if (
      this.shared.l1 &&
      this.shared.coherent &&
      generation === this.shared.generation &&
      entry.staleUntil > Date.now()
    ) {
      this.shared.l1.set(sk, entry);
    }
    return entry;
  }

  async get(k: string): Promise<V | undefined> {
    checkKey(k);
    this.checkOpen();
    const sk = this.storageKey(k);
    const now = Date.now();
    const cached = this.shared.l1?.get(sk, now);
    if (cached !== undefined && cached.expiresAt > now && this.shared.coherent) {
      this.hit(k, 'l1');
      return cached.value as V;
    }
    const generation = this.shared.generation;
    let stored: string | null;
    try {
      // Inlined L2 read (no extra async frame): this is the L2-hit hot path.
      stored = await withDeadline(
        this.shared.backend.get(sk),
        this.shared.backendTimeoutMs,
        this.shared.timedOut,
      );
    } catch (error) {
      this.fail(k, 'get', error);
      if (cached !== undefined) {
        this.stale(k, 'backend-error');
        return cached.value as V;
      }
      throw error;
    }
    const entry = stored === null ? undefined : this.accept(k, sk, stored, generation);
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      this.hit(k, 'l2');
      return entry.value as V;
    }
    this.miss(k);
    return undefined;
  }

  async getEntry(k: string): Promise<CacheEntry<V> | undefined> {
    checkKey(k);
    this.checkOpen();
    const sk = this.storageKey(k);
    const now = Date.now();
    let entry = this.shared.l1?.get(sk, now);
    if (entry === undefined || entry.expiresAt <= now || !this.shared.coherent) {
      try {
        entry = await this.readL2(k, sk);
      } catch (error) {
        if (isRedbrickError(error, 'VALIDATION') || entry === undefined) throw error;
        this.fail(k, 'getEntry', error);
      }
    }
    if (entry === undefined) return undefined;
    return {
      value: entry.value as V,
      expiresAt: entry.expiresAt,
      stale: entry.expiresAt <= Date.now(),
      tags: entry.tags ? [...entry.tags] : [],
      meta: entry.meta,
    };
  }

  async has(k: string): Promise<boolean> {
    return (await this.get(k)) !== undefined;
  }

  private encode(
    k: string,
    value: V,
    ttlMs: number,
    tags: readonly string[] | undefined,
    meta: Record<string, unknown> | undefined,
  ): { stored: string; entry: L1Entry } {
    if (value === undefined) {
      throw new ValidationError(
        `[redbrick/cache] value for key ${JSON.stringify(k)} must not be undefined (undefined means "not cached")`,
        { field: 'value' },
      );
    }
    const expiresAt = Date.now() + ttlMs;
    let stored: string;
    try {
      stored = encodeEntry(this.shared.codec, value, expiresAt, tags, meta);
    } catch (error) {
      if (isRedbrickError(error, 'VALIDATION')) {
        throw new ValidationError(
          `[redbrick/cache] value for key ${JSON.stringify(k)} cannot be stored: ${(error as Error).message}`,
          { field: 'value', cause: error },
        );
      }
      throw error;
    }
    // L1 keeps the value as decoded from what was stored, so both tiers return the same thing.
    const decoded = decodeEntry(this.shared.codec, stored, k);
    return { stored, entry: l1Entry(decoded, 0, stored.length * 2) };
  }

  private async write(
    k: string,
    value: V,
    options: {
      ttlMs?: number;
      graceMs?: number;
      tags?: readonly string[];
      meta?: Record<string, unknown>;
    },
  ): Promise<L1Entry> {
    const ttlMs = options.ttlMs ?? this.shared.ttlMs;
    const graceMs = options.graceMs ?? this.shared.graceMs;
    const sk = this.storageKey(k);
    const { stored, entry } = this.encode(k, value, ttlMs, options.tags, options.meta);
    entry.staleUntil = entry.expiresAt + graceMs;
    const physical = ttlMs + graceMs;
    const b = this.shared.backend;
    try {
      if (options.tags && options.tags.length > 0) {
        const p = b.pipeline().add('set', sk, stored, { ttlMs: physical });
        const tagged = this.call(
          Promise.all([
            p.exec().then((r) => {
              const failed = r.find((x) => !x.ok);
              if (failed && !failed.ok) throw failed.error;
            }),
            ...options.tags.map((t) => b.run(tagAddScript, [this.tagKey(t)], [physical, sk])),
          ]),
        );
        await tagged;
      } else {
        await this.call(b.set(sk, stored, { ttlMs: physical }));
      }
    } catch (error) {
      // The write may or may not have landed: never keep a value here that L2 may not have.
      this.shared.l1?.delete(sk);
      this.fail(k, 'set', error);
      throw error;
    }
    this.shared.counters.sets++;
    this.shared.generation++; // a read of the old value still in flight must not land in L1
    if (this.shared.coherent) this.shared.l1?.set(sk, entry);
    await this.publish({ k: [sk] });
    return entry;
  }

  async set(k: string, value: V, options?: SetEntryOptions): Promise<void> {
    checkKey(k);
    checkWriteOptions(options);
    checkTags(options?.tags);
    checkMeta(options?.meta);
    this.checkOpen();
    await this.write(k, value, options ?? {});
  }

  async getOrSet(
    k: string,
    factory: () => Promise<V> | V,
    options: GetOrSetOptions = {},
  ): Promise<V> {
    checkKey(k);
    if (typeof factory !== 'function') {
      throw new ValidationError(
        `[redbrick/cache] factory must be a function, got ${describe(factory)}`,
        { field: 'factory' },
      );
    }
    checkWriteOptions(options);
    checkTags(options.tags);
    checkMeta(options.meta);
    checkOptionalInt(options.softTimeoutMs, 'softTimeoutMs', 1);
    checkOptionalInt(options.hardTimeoutMs, 'hardTimeoutMs', 1);
    this.checkOpen();
    const sk = this.storageKey(k);
    const now = Date.now();
    const coherent = this.shared.coherent;
    const cached = this.shared.l1?.get(sk, now);
    if (cached !== undefined && cached.expiresAt > now && coherent) {
      this.hit(k, 'l1');
      return cached.value as V;
    }
    // An L1 entry kept while invalidations could not arrive is only a fallback for a backend
    // that cannot answer.
    let staleEntry = coherent ? cached : undefined;
    let backendDown = false;
    try {
      const entry = await this.readL2(k, sk);
      if (entry !== undefined) {
        if (entry.expiresAt > Date.now()) {
          this.hit(k, 'l2');
          return entry.value as V;
        }
        staleEntry = entry;
      }
    } catch (error) {
      if (isRedbrickError(error, 'VALIDATION')) throw error;
      this.fail(k, 'get', error);
      backendDown = true;
      staleEntry ??= cached;
    }
    if (staleEntry !== undefined && staleEntry.staleUntil > Date.now()) {
      // With a soft timeout, wait that long for a fresh value; the stale one is the fallback.
      const soft = options.softTimeoutMs ?? this.shared.softTimeoutMs;
      if (soft !== undefined && !backendDown) {
        return this.refresh(k, sk, factory, options, staleEntry);
      }
      // Otherwise serve stale now and refresh once in the background.
      this.stale(k, backendDown ? 'backend-error' : 'refresh');
      if (!backendDown) {
        this.refresh(k, sk, factory, options, staleEntry).catch(() => {});
      }
      return staleEntry.value as V;
    }
    this.miss(k);
    return this.refresh(k, sk, factory, options, undefined);
  }

  /** Runs the factory once per key per process (and once overall with distributed single-flight). */
  private refresh(
    k: string,
    sk: string,
    factory: () => Promise<V> | V,
    options: GetOrSetOptions,
    stale: L1Entry | undefined,
  ): Promise<V> {
    const running = this.shared.inflight.get(sk);
    if (running) return running as Promise<V>;
    const promise = this.compute(k, sk, factory, options, stale).finally(() => {
      this.shared.inflight.delete(sk);
    });
    this.shared.inflight.set(sk, promise);
    return promise;
  }

  private async compute(
    k: string,
    sk: string,
    factory: () => Promise<V> | V,
    options: GetOrSetOptions,
    stale: L1Entry | undefined,
  ): Promise<V> {
    let token: string | undefined;
    if (this.shared.distributed) {
      const waited = await this.acquireOrWait(k, sk);
      if (waited.value !== undefined) return waited.value.value as V;
      token = waited.token;
    }
    try {
      const { value, fresh } = await this.runFactory(k, factory, options, stale);
      if (!fresh) return value;
      try {
        await this.write(k, value, options);
      } catch (error) {
        if (isRedbrickError(error, 'VALIDATION')) throw error;
        // The backend is down: the caller still gets its value.
      }
      return value;
    } finally {
      if (token !== undefined) {
        await this.call(this.shared.backend.run(unlockScript, [this.lockKey(k)], [token])).catch(
          (error: unknown) => this.fail(k, 'unlock', error),
        );
      }
    }
  }

  /**
   * Takes the key's lock, or waits for its holder's value. Returns the token
   * when this process must compute, or the value another process stored.
   */
  private async acquireOrWait(k: string, sk: string): Promise<{ token?: string; value?: L1Entry }> {
    const token = randomBytes(12).toString('hex');
    const lock = this.lockKey(k);
    const deadline = Date.now() + this.shared.lockTtlMs + this.shared.backendTimeoutMs;
    while (Date.now() < deadline) {
      try {
        const got = await this.call(
          this.shared.backend.set(lock, token, { nx: true, ttlMs: this.shared.lockTtlMs }),
        );
        // Another process may have stored the value between our read and the lock.
        const entry = await this.readL2(k, sk);
        if (entry !== undefined && entry.expiresAt > Date.now()) {
          if (got) await this.call(this.shared.backend.run(unlockScript, [lock], [token]));
          return { value: entry };
        }
        if (got) return { token };
      } catch (error) {
        if (isRedbrickError(error, 'VALIDATION')) throw error;
        // No lock to be had from a backend that is down: compute locally.
        this.fail(k, 'lock', error);
        return {};
      }
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
    return {};
  }

  private async runFactory(
    k: string,
    factory: () => Promise<V> | V,
    options: GetOrSetOptions,
    stale: L1Entry | undefined,
  ): Promise<{ value: V; fresh: boolean }> {
    const soft = options.softTimeoutMs ?? this.shared.softTimeoutMs;
    const hard = options.hardTimeoutMs ?? this.shared.hardTimeoutMs;
    const sk = this.storageKey(k);
    const lastGood = (): L1Entry | undefined => {
      const now = Date.now();
      const fromL1 = this.shared.l1?.get(sk, now);
      if (fromL1 !== undefined && fromL1.staleUntil > now) return fromL1;
      if (stale !== undefined && stale.staleUntil > now) return stale;
      return undefined;
    };
    const work = Promise.resolve().then(factory);
    const timers: NodeJS.Timeout[] = [];
    const race: Array<Promise<{ value: V; fresh: boolean }>> = [
      work.then((value) => ({ value, fresh: true })),
    ];
    let timedOut = false;
    if (soft !== undefined && lastGood() !== undefined) {
      race.push(
        new Promise<{ value: V; fresh: boolean }>((resolve) => {
          timers.push(
            setTimeout(() => {
              const good = lastGood();
              if (good === undefined) return;
              timedOut = true;
              this.stale(k, 'soft-timeout');
              resolve({ value: good.value as V, fresh: false });
            }, soft),
          );
        }),
      );
    }
    if (hard !== undefined) {
      race.push(
        new Promise<never>((_, reject) => {
          timers.push(
            setTimeout(() => {
              timedOut = true;
              reject(new FactoryTimeoutError(k, hard));
            }, hard),
          );
        }),
      );
    }
    try {
      return await Promise.race(race);
    } catch (error) {
      this.fail(k, 'factory', error);
      const good = lastGood();
      if (good !== undefined) {
        this.stale(k, 'factory-error');
        return { value: good.value as V, fresh: false };
      }
      throw error;
    } finally {
      for (const t of timers) clearTimeout(t);
      if (timedOut) {
        // A factory that outlived a timeout still stores its result when it arrives.
        work.then(
          (value) => this.write(k, value, options).catch(() => {}),
          () => {},
        );
      }
    }
  }

  async delete(k: string): Promise<boolean> {
    checkKey(k);
    this.checkOpen();
    return (await this.deleteKeys([k])) > 0;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.checkKeys(keys);
    this.checkOpen();
    if (keys.length === 0) return 0;
    return this.deleteKeys(keys);
  }

  private checkKeys(keys: readonly string[]): void {
    if (!Array.isArray(keys)) {
      throw new ValidationError(
        `[redbrick/cache] keys must be an array of non-empty strings, got ${describe(keys)}`,
        { field: 'keys' },
      );
    }
    keys.forEach((k, i) => {
      checkKey(k, `keys[${i}]`);
    });
  }

  private async deleteKeys(keys: readonly string[]): Promise<number> {
    const sks = keys.map((k) => this.storageKey(k));
    for (const sk of sks) this.shared.l1?.delete(sk);
    let removed = 0;
    try {
      // One DEL per key, pipelined: the backend groups them per Cluster node.
      const p = this.shared.backend.pipeline();
      for (const sk of sks) p.add('del', sk);
      const results = await this.call(p.exec());
      for (const r of results) {
        if (!r.ok) throw r.error;
        removed += r.value as number;
      }
    } catch (error) {
      this.fail(keys[0], 'delete', error);
      throw error;
    }
    this.shared.counters.deletes += keys.length;
    this.shared.generation++;
    for (const sk of sks) this.shared.l1?.delete(sk);
    await this.publish({ k: sks });
    return removed;
  }

  async getMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    this.checkKeys(keys);
    this.checkOpen();
    const out = new Array<V | undefined>(keys.length);
    const now = Date.now();
    const wanted: number[] = [];
    const fallbacks = new Map<number, L1Entry>();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const cached = this.shared.l1?.get(this.storageKey(k), now);
      if (cached !== undefined && cached.expiresAt > now && this.shared.coherent) {
        this.hit(k, 'l1');
        out[i] = cached.value as V;
      } else {
        if (cached !== undefined) fallbacks.set(i, cached);
        wanted.push(i);
      }
    }
    if (wanted.length === 0) return out;
    let results: Array<string | null>;
    const generation = this.shared.generation;
    try {
      const p = this.shared.backend.pipeline();
      for (const i of wanted) p.add('get', this.storageKey(keys[i] as string));
      const replies = await this.call(p.exec());
      results = replies.map((r) => {
        if (!r.ok) throw r.error;
        return r.value as string | null;
      });
    } catch (error) {
      this.fail(undefined, 'getMany', error);
      if (wanted.some((i) => !fallbacks.has(i))) throw error;
      for (const [i, entry] of fallbacks) {
        this.stale(keys[i] as string, 'backend-error');
        out[i] = entry.value as V;
      }
      return out;
    }
    const t = Date.now();
    wanted.forEach((i, j) => {
      const k = keys[i] as string;
      const stored = results[j];
      const entry =
        stored === null || stored === undefined
          ? undefined
          : this.accept(k, this.storageKey(k), stored, generation);
      if (entry !== undefined && entry.expiresAt > t) {
        this.hit(k, 'l2');
        out[i] = entry.value as V;
      } else {
        this.miss(k);
        out[i] = undefined;
      }
    });
    return out;
  }

  async setMany(items: ReadonlyArray<SetManyItem<V>>): Promise<void> {
    if (!Array.isArray(items)) {
      throw new ValidationError(
        `[redbrick/cache] items must be an array of { key, value, ttlMs? }, got ${describe(items)}`,
        { field: 'items' },
      );
    }
    items.forEach((item, i) => {
      if (typeof item !== 'object' || item === null) {
        throw new ValidationError(
          `[redbrick/cache] items[${i}] must be { key, value, ttlMs? }, got ${describe(item)}`,
          { field: `items[${i}]` },
        );
      }
      checkKey(item.key, `items[${i}].key`);
      checkOptionalInt(item.ttlMs, `items[${i}].ttlMs`, 1);
    });
    this.checkOpen();
    if (items.length === 0) return;
    // Encode everything first: one bad value writes nothing.
    const graceMs = this.shared.graceMs;
    const prepared = items.map((item) => {
      const ttlMs = item.ttlMs ?? this.shared.ttlMs;
      const { stored, entry } = this.encode(item.key, item.value, ttlMs, undefined, undefined);
      entry.staleUntil = entry.expiresAt + graceMs;
      return { sk: this.storageKey(item.key), stored, entry, physical: ttlMs + graceMs };
    });
    const p = this.shared.backend.pipeline();
    for (const x of prepared) p.add('set', x.sk, x.stored, { ttlMs: x.physical });
    try {
      const results = await this.call(p.exec());
      for (const r of results) if (!r.ok) throw r.error;
    } catch (error) {
      for (const x of prepared) this.shared.l1?.delete(x.sk);
      this.fail(undefined, 'setMany', error);
      throw error;
    }
    this.shared.counters.sets += prepared.length;
    this.shared.generation++;
    if (this.shared.coherent) for (const x of prepared) this.shared.l1?.set(x.sk, x.entry);
    await this.publish({ k: prepared.map((x) => x.sk) });
  }

  async *keys(pattern = '*'): AsyncIterable<string> {
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw new ValidationError(
        `[redbrick/cache] pattern must be a non-empty glob string, got ${describe(pattern)}`,
        { field: 'pattern' },
      );
    }
    this.checkOpen();
    const match = escapeGlob(this.entryPrefix) + escapeKeyPart(pattern);
    const seen = new Set<string>();
    for await (const sk of this.shared.backend.scan({ match, count: 500 })) {
      if (seen.has(sk)) continue;
      seen.add(sk);
      yield unescapeKeyPart(sk.slice(this.entryPrefix.length));
    }
  }

  namespace(ns: string): Cache<V> {
    checkName(ns, 'namespace');
    return new TwoTierCache<V>(this.shared, `${this.base}:n:${escapeKeyPart(ns)}`, false);
  }

  async clearNamespace(ns: string): Promise<void> {
    checkName(ns, 'namespace');
    this.checkOpen();
    await this.clearPrefix(`${this.base}:n:${escapeKeyPart(ns)}:`);
  }

  async clear(): Promise<void> {
    this.checkOpen();
    await this.clearPrefix(`${this.base}:`);
  }

  private async clearPrefix(prefix: string): Promise<void> {
    this.shared.l1?.deletePrefix(prefix);
    const b = this.shared.backend;
    try {
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const p = b.pipeline();
        for (const sk of batch) p.add('del', sk);
        batch = [];
        const results = await this.call(p.exec());
        for (const r of results) if (!r.ok) throw r.error;
      };
      for await (const sk of b.scan({ match: `${escapeGlob(prefix)}*`, count: 500 })) {
        // Locks of running single-flights stay: deleting them would let a second process compute.
        if (sk.startsWith(`${this.base}:l:`)) continue;
        batch.push(sk);
        if (batch.length >= 500) await flush();
      }
      await flush();
    } catch (error) {
      this.fail(undefined, 'clear', error);
      throw error;
    }
    this.shared.generation++;
    this.shared.l1?.deletePrefix(prefix);
    await this.publish({ p: prefix });
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    checkTags(tags);
    this.checkOpen();
    if (tags.length === 0) return;
    const b = this.shared.backend;
    this.shared.l1?.deleteTagged(new Set(tags), this.entryPrefix);
    let sks: string[];
    try {
      const members = await this.call(Promise.all(tags.map((t) => b.smembers(this.tagKey(t)))));
      sks = [...new Set(members.flat())];
      const p = b.pipeline();
      for (const sk of sks) p.add('del', sk);
      for (const t of tags) p.add('del', this.tagKey(t));
      const results = await this.call(p.exec());
      for (const r of results) if (!r.ok) throw r.error;
    } catch (error) {
      this.fail(undefined, 'invalidateTags', error);
      throw error;
    }
    this.shared.generation++;
    for (const sk of sks) this.shared.l1?.delete(sk);
    this.shared.counters.deletes += sks.length;
    await this.publish({ k: sks });
  }

  stats(): CacheStats {
    const c = this.shared.counters;
    const reads = c.hits + c.misses;
    return { ...c, hitRate: reads === 0 ? 0 : c.hits / reads };
  }

  on<E extends keyof CacheEvents>(event: E, listener: Listener<E>): () => void {
    const set = this.shared.listeners[event] as Set<Listener<E>> | undefined;
    if (set === undefined) {
      throw new ValidationError(
        `[redbrick/cache] event must be 'hit', 'miss', 'stale' or 'error', got ${describe(event)}`,
        { field: 'event' },
      );
    }
    if (typeof listener !== 'function') {
      throw new ValidationError(
        `[redbrick/cache] listener must be a function, got ${describe(listener)}`,
        { field: 'listener' },
      );
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  async ready(): Promise<void> {
    await this.shared.subscription;
  }

  async ping(): Promise<number> {
    this.checkOpen();
    await this.shared.firstAttempt;
    return this.call(this.shared.backend.ping());
  }

  async close(): Promise<void> {
    // A namespace is a view: closing it leaves the cache it came from open.
    if (!this.root || this.shared.closed) return;
    this.shared.closed = true;
    this.shared.offConnection();
    this.shared.stopRetrying();
    const sub = await this.shared.subscription;
    await sub?.unsubscribe().catch(() => {});
    this.shared.l1?.deletePrefix('');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
