import {
  type Backend,
  type Codec,
  defineScript,
  escapeKeyPart,
  json,
  key,
  RedbrickError,
  type SyncCommands,
  tag,
  unescapeKeyPart,
} from '@redbrick/core';
import { assertCount, assertId, resolveTtl } from './validate.js';

export interface ThreadBufferOptions {
  backend: Backend;
  /** Buffer name: the hash tag of all its keys (one Cluster slot per buffer). @default 'default' */
  name?: string;
  /** Most slots one thread may hold; 0 = unlimited. @default 0 */
  maxSlotsPerThread?: number;
  /** Most threads the buffer may hold; 0 = unlimited. @default 0 */
  maxThreads?: number;
  /** Idle lifetime of a thread in ms, refreshed by every append; null/0 = no expiry. @default null */
  ttlMs?: number | null;
  /** How slots are stored. Any process can read them (no signing keys). @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a thread buffer named `name`. */
export function threadBufferKeys(name: string) {
  const t = tag(name);
  return {
    /** List: one thread's slots, index = position. */
    thread: (threadId: string) => key('tb', t, 'thread', threadId),
    /** Set: escaped ids of the threads (members whose list expired are pruned when the limit is hit, and skipped when listed). */
    threads: key('tb', t, 'threads'),
  };
}

/** Appends a slot, enforcing both limits; returns the slot's index. */
export const threadAppendScript = defineScript<number>({
  name: 'tenant-repos.thread-buffer.append',
  keys: 2,
  lua: `--[[ tenant-repos.thread-buffer.append
  KEYS[1]  the thread's list
  KEYS[2]  the set of thread ids
  ARGV[1]  thread id, escaped (KEYS[1] ends with it)   ARGV[2] slot
  ARGV[3]  max slots (0: none)   ARGV[4] max threads (0: none)   ARGV[5] ttl ms (0: none)
  returns  the new slot's index, -1 thread full, -2 too many threads ]]
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
local len = redis.call('llen', KEYS[1])
local maxSlots = tonumber(ARGV[3])
local maxThreads = tonumber(ARGV[4])
if len == 0 and maxThreads > 0 and redis.call('sismember', KEYS[2], ARGV[1]) == 0
  and redis.call('scard', KEYS[2]) >= maxThreads then
  for _, id in ipairs(redis.call('smembers', KEYS[2])) do
    if redis.call('exists', prefix .. id) == 0 then redis.call('srem', KEYS[2], id) end
  end
  if redis.call('scard', KEYS[2]) >= maxThreads then return -2 end
end
if maxSlots > 0 and len >= maxSlots then return -1 end
local n = redis.call('rpush', KEYS[1], ARGV[2])
redis.call('sadd', KEYS[2], ARGV[1])
if tonumber(ARGV[5]) > 0 then redis.call('pexpire', KEYS[1], ARGV[5]) end
return n - 1`,
  local: (r: SyncCommands, [list, threads], [id, slot, maxS, maxT, ttl]) => {
    const l = list as string;
    const prefix = l.slice(0, l.length - (id as string).length);
    const set = threads as string;
    const len = r.llen(l);
    const maxSlots = Number(maxS);
    const maxThreads = Number(maxT);
    if (
      len === 0 &&
      maxThreads > 0 &&
      !r.sismember(set, id as string) &&
      r.scard(set) >= maxThreads
    ) {
      for (const member of r.smembers(set)) {
        if (r.exists(`${prefix}${member}`) === 0) r.srem(set, member);
      }
      if (r.scard(set) >= maxThreads) return -2;
    }
    if (maxSlots > 0 && len >= maxSlots) return -1;
    const n = r.rpush(l, slot as string);
    r.sadd(set, id as string);
    if (Number(ttl) > 0) r.pexpire(l, Number(ttl));
    return n - 1;
  },
  decode: (reply) => Number(reply),
});

/** Deletes a thread and its registration in one step. */
export const threadDeleteScript = defineScript<number>({
  name: 'tenant-repos.thread-buffer.delete',
  keys: 2,
  lua: `--[[ tenant-repos.thread-buffer.delete
  KEYS[1]  the thread's list   KEYS[2] the set of thread ids
  ARGV[1]  thread id, escaped
  returns  1 when the thread had slots, else 0 ]]
redis.call('srem', KEYS[2], ARGV[1])
return redis.call('del', KEYS[1])`,
  local: (r: SyncCommands, [list, threads], [id]) => {
    r.srem(threads as string, id as string);
    return r.del(list as string);
  },
  decode: (reply) => Number(reply),
});

/** Raised when a thread or the buffer is full (`code: 'LIMIT_EXCEEDED'`). */
export class ThreadLimitError extends RedbrickError {
  readonly limit: 'maxSlotsPerThread' | 'maxThreads';
  constructor(limit: 'maxSlotsPerThread' | 'maxThreads', message: string) {
    super('LIMIT_EXCEEDED', message);
    this.name = 'ThreadLimitError';
    this.limit = limit;
  }
}

/**
 * Per-thread context buffers shared by every process: `append` returns a unique, dense index
 * (0, 1, 2, …) per thread, atomically, with the limits enforced in the same step.
 */
export class ThreadBuffer<T = unknown> {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof threadBufferKeys>;
  readonly #maxSlots: number;
  readonly #maxThreads: number;
  readonly #ttlMs: number;
  readonly #codec: Codec<unknown>;

  constructor(options: ThreadBufferOptions) {
    const name = options.name ?? 'default';
    assertId(name, 'name');
    this.#maxSlots = options.maxSlotsPerThread ?? 0;
    this.#maxThreads = options.maxThreads ?? 0;
    assertCount(this.#maxSlots, 'maxSlotsPerThread');
    assertCount(this.#maxThreads, 'maxThreads');
    this.#ttlMs = resolveTtl(options.ttlMs, 0);
    this.#backend = options.backend;
    this.#keys = threadBufferKeys(name);
    this.#codec = options.codec ?? json;
  }

  /** Appends a slot and returns its index. Throws `LIMIT_EXCEEDED` when a limit is hit. */
  async append(threadId: string, slot: T): Promise<number> {
    assertId(threadId, 'threadId');
    const stored = this.#codec.encode(slot);
    const index = await this.#backend.run(
      threadAppendScript,
      [this.#keys.thread(threadId), this.#keys.threads],
      [escapeKeyPart(threadId), stored, this.#maxSlots, this.#maxThreads, this.#ttlMs],
    );
    if (index === -1) {
      throw new ThreadLimitError(
        'maxSlotsPerThread',
        `[redbrick/tenant-repos] thread "${threadId}" already holds maxSlotsPerThread (${this.#maxSlots}) slots`,
      );
    }
    if (index === -2) {
      throw new ThreadLimitError(
        'maxThreads',
        `[redbrick/tenant-repos] the buffer already holds maxThreads (${this.#maxThreads}) threads`,
      );
    }
    return index;
  }

  /** Every slot of a thread, in index order ([] when none). */
  async getThread(threadId: string): Promise<T[]> {
    assertId(threadId, 'threadId');
    const stored = await this.#backend.lrange(this.#keys.thread(threadId), 0, -1);
    return stored.map((s) => this.#codec.decode(s) as T);
  }

  /** One slot, or undefined when there is none at `index`. */
  async getSlot(threadId: string, index: number): Promise<T | undefined> {
    assertId(threadId, 'threadId');
    assertCount(index, 'index');
    const stored = await this.#backend.lindex(this.#keys.thread(threadId), index);
    return stored === null ? undefined : (this.#codec.decode(stored) as T);
  }

  /** Number of slots in a thread. */
  async length(threadId: string): Promise<number> {
    assertId(threadId, 'threadId');
    return this.#backend.llen(this.#keys.thread(threadId));
  }

  async exists(threadId: string): Promise<boolean> {
    assertId(threadId, 'threadId');
    return (await this.#backend.exists(this.#keys.thread(threadId))) === 1;
  }

  /** Deletes a thread. True when it existed. */
  async delete(threadId: string): Promise<boolean> {
    assertId(threadId, 'threadId');
    return (
      (await this.#backend.run(
        threadDeleteScript,
        [this.#keys.thread(threadId), this.#keys.threads],
        [escapeKeyPart(threadId)],
      )) === 1
    );
  }

  /** Ids of the threads that hold slots, sorted. Reads the thread set (no KEYS, no full scan). */
  async listThreads(): Promise<string[]> {
    const ids = (await this.#backend.smembers(this.#keys.threads)).map(unescapeKeyPart).sort();
    if (ids.length === 0) return [];
    const pipe = this.#backend.pipeline();
    for (const id of ids) pipe.add('exists', this.#keys.thread(id));
    const results = await pipe.exec();
    return ids.filter((_, i) => {
      const r = results[i];
      if (r && !r.ok) throw r.error;
      return r?.ok === true && r.value === 1;
    });
  }

  /** Deletes every thread; returns how many held slots. */
  async clear(): Promise<number> {
    let n = 0;
    for (const id of await this.#backend.smembers(this.#keys.threads)) {
      // Members are escaped ids.
      const threadId = unescapeKeyPart(id);
      if (await this.delete(threadId)) n++;
    }
    return n;
  }
}
