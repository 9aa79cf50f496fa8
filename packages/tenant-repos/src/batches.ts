import {
  type Backend,
  type Codec,
  defineScript,
  json,
  key,
  type SyncCommands,
  tag,
} from '@redbrick/core';
import { assertCount, assertId, tenantScope } from './validate.js';

export interface BatchesOptions {
  /**
   * The backend shared by every tenant. The batches live under the tenant's scope;
   * the registry read by {@link Batches.pendingTenants} lives directly under this backend.
   */
  backend: Backend;
  /** Tenant id (escaped into the key prefix). */
  tenant: string;
  /** How items are stored. @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's batches (inside the tenant scope `t=<tenant>:`). */
export function batchKeys(tenant: string) {
  const t = tag(tenant);
  return {
    /** List: pending items of one service/entity/action, oldest first. */
    batch: (service: string, entity: string, action: string) =>
      key('batch', t, service, entity, action),
    /** Set: `<entity>:<action>` (escaped) of the service's non-empty lists. */
    lists: (service: string) => key('batch', t, service, 'lists'),
    /** The member of {@link lists} naming one list. */
    member: (entity: string, action: string) => key(entity, action),
  };
}

/** Keys of the cross-tenant registry (directly under the shared backend, not in a tenant scope). */
export const batchRegistryKeys = {
  /** Sorted set: tenant id → generation of its last enqueue to the service. */
  tenants: (service: string) => key('batch', 'pending', tag(service)),
  /** String: the service's generation counter (same slot as {@link tenants}). */
  generation: (service: string) => key('batch', 'pending', tag(service), 'gen'),
};

/** Appends an item and records its list as non-empty, in one step. */
export const batchEnqueueScript = defineScript<number>({
  name: 'tenant-repos.batches.enqueue',
  keys: 2,
  lua: `--[[ tenant-repos.batches.enqueue
  KEYS[1]  the batch list     KEYS[2]  the service's set of non-empty lists
  ARGV[1]  the encoded item   ARGV[2]  the list's member in KEYS[2]
  returns  the number of pending items in the list ]]
local n = redis.call('rpush', KEYS[1], ARGV[1])
redis.call('sadd', KEYS[2], ARGV[2])
return n`,
  local: (r: SyncCommands, [list, lists], [item, member]) => {
    const n = r.rpush(list as string, item as string);
    r.sadd(lists as string, member as string);
    return n;
  },
  decode: Number,
});

/** Takes up to ARGV[1] items off the head of a list in one step. */
export const batchDrainScript = defineScript<string[]>({
  name: 'tenant-repos.batches.drain',
  keys: 2,
  lua: `--[[ tenant-repos.batches.drain
  KEYS[1]  the batch list          KEYS[2]  the service's set of non-empty lists
  ARGV[1]  most items to take (≥ 1) ARGV[2] the list's member in KEYS[2]
  returns  the items taken, oldest first ]]
local n = tonumber(ARGV[1])
local items = redis.call('lrange', KEYS[1], 0, n - 1)
if #items > 0 then redis.call('ltrim', KEYS[1], #items, -1) end
if redis.call('llen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
return items`,
  local: (r: SyncCommands, [list, lists], [max, member]) => {
    const items = r.lrange(list as string, 0, Number(max) - 1);
    if (items.length > 0) r.ltrim(list as string, items.length, -1);
    if (r.llen(list as string) === 0) r.srem(lists as string, member as string);
    return items;
  },
  decode: (reply) => (Array.isArray(reply) ? reply.map(String) : []),
});

/** Drops the first ARGV[1] items of a list in one step. */
export const batchTrimScript = defineScript<number>({
  name: 'tenant-repos.batches.trim',
  keys: 2,
  lua: `--[[ tenant-repos.batches.trim
  KEYS[1]  the batch list        KEYS[2]  the service's set of non-empty lists
  ARGV[1]  items to drop (≥ 1)   ARGV[2]  the list's member in KEYS[2]
  returns  the number of items left ]]
redis.call('ltrim', KEYS[1], tonumber(ARGV[1]), -1)
local n = redis.call('llen', KEYS[1])
if n == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
return n`,
  local: (r: SyncCommands, [list, lists], [count, member]) => {
    r.ltrim(list as string, Number(count), -1);
    const n = r.llen(list as string);
    if (n === 0) r.srem(lists as string, member as string);
    return n;
  },
  decode: Number,
});

/** Registers a tenant as having pending items, with a fresh generation. */
export const batchMarkScript = defineScript<number>({
  name: 'tenant-repos.batches.mark',
  keys: 2,
  lua: `--[[ tenant-repos.batches.mark
  KEYS[1]  the service's tenant registry (zset)   KEYS[2]  its generation counter
  ARGV[1]  the tenant id
  returns  the new generation ]]
local g = redis.call('incr', KEYS[2])
redis.call('zadd', KEYS[1], g, ARGV[1])
return g`,
  local: (r: SyncCommands, [tenants, gen], [tenant]) => {
    const g = r.incrBy(gen as string, 1);
    r.zadd(tenants as string, { member: tenant as string, score: g });
    return g;
  },
  decode: Number,
});

/** Unregisters a tenant only if no enqueue registered it again since its generation was read. */
export const batchUnmarkScript = defineScript<number>({
  name: 'tenant-repos.batches.unmark',
  keys: 1,
  lua: `--[[ tenant-repos.batches.unmark
  KEYS[1]  the service's tenant registry (zset)
  ARGV[1]  the tenant id   ARGV[2]  the generation read before checking its lists
  returns  1 removed, 0 re-registered meanwhile (or already gone) ]]
local g = redis.call('zscore', KEYS[1], ARGV[1])
if g and tonumber(g) == tonumber(ARGV[2]) then
  redis.call('zrem', KEYS[1], ARGV[1])
  return 1
end
return 0`,
  local: (r: SyncCommands, [tenants], [tenant, generation]) => {
    const g = r.zscore(tenants as string, tenant as string);
    if (g === null || g !== Number(generation)) return 0;
    r.zrem(tenants as string, tenant as string);
    return 1;
  },
  decode: Number,
});

/**
 * Per-tenant batches of work items: `enqueue`, `trim` and `drain` are one script each on
 * the tenant's keys, so an item enqueued during a drain is either drained or stays pending
 * — never lost. `pendingTenants(service)` lists the tenants with pending items without
 * scanning any keyspace.
 */
export class Batches<T = unknown> {
  readonly tenant: string;
  readonly #root: Backend;
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof batchKeys>;
  readonly #codec: Codec<unknown>;

  constructor(options: BatchesOptions) {
    assertId(options.tenant, 'tenant');
    this.tenant = options.tenant;
    this.#root = options.backend;
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = batchKeys(options.tenant);
    this.#codec = options.codec ?? json;
  }

  /**
   * Appends an item; returns how many are pending in that list. Two round trips: the
   * append (one script), then the tenant's registration for {@link pendingTenants}.
   */
  async enqueue(service: string, entity: string, action: string, item: T): Promise<number> {
    const list = this.#key(service, entity, action);
    const encoded = this.#codec.encode(item);
    const n = await this.#backend.run(
      batchEnqueueScript,
      [list, this.#keys.lists(service)],
      [encoded, this.#keys.member(entity, action)],
    );
    // After the append, never before: see pendingTenants for why the order matters.
    await this.#root.run(
      batchMarkScript,
      [batchRegistryKeys.tenants(service), batchRegistryKeys.generation(service)],
      [this.tenant],
    );
    return n;
  }

  /** Reads up to `count` pending items without taking them. */
  async getChunk(service: string, entity: string, action: string, count: number): Promise<T[]> {
    assertCount(count, 'count', 1);
    const stored = await this.#backend.lrange(this.#key(service, entity, action), 0, count - 1);
    return stored.map((s) => this.#codec.decode(s) as T);
  }

  /** Drops the first `count` pending items (after processing a `getChunk`); returns how many are left. */
  async trim(service: string, entity: string, action: string, count: number): Promise<number> {
    assertCount(count, 'count', 1);
    return this.#backend.run(
      batchTrimScript,
      [this.#key(service, entity, action), this.#keys.lists(service)],
      [count, this.#keys.member(entity, action)],
    );
  }

  /** Number of pending items. */
  async pending(service: string, entity: string, action: string): Promise<number> {
    return this.#backend.llen(this.#key(service, entity, action));
  }

  /** Atomically takes up to `max` items (oldest first). */
  async drain(service: string, entity: string, action: string, max = 100): Promise<T[]> {
    assertCount(max, 'max', 1);
    const stored = await this.#backend.run(
      batchDrainScript,
      [this.#key(service, entity, action), this.#keys.lists(service)],
      [max, this.#keys.member(entity, action)],
    );
    return stored.map((s) => this.#codec.decode(s) as T);
  }

  /**
   * Ids of every tenant (on this backend, not only this instance's) with at least one pending
   * item for `service`, sorted. One read of the service's registry plus one `SCARD` per
   * registered tenant; tenants whose lists are all empty are dropped from the registry with a
   * check-and-remove script that keeps them if an enqueue registered them again meanwhile,
   * so a tenant with pending items is never dropped.
   */
  async pendingTenants(service: string): Promise<string[]> {
    assertId(service, 'service');
    const registry = batchRegistryKeys.tenants(service);
    const entries = await this.#root.zrangeByScore(registry, '-inf', '+inf', {
      withScores: true,
    });
    const counts = await Promise.all(
      entries.map(({ member }) =>
        tenantScope(this.#root, member).scard(batchKeys(member).lists(service)),
      ),
    );
    const pending: string[] = [];
    const empty: Array<Promise<number>> = [];
    entries.forEach(({ member, score }, i) => {
      if ((counts[i] ?? 0) > 0) pending.push(member);
      else empty.push(this.#root.run(batchUnmarkScript, [registry], [member, score]));
    });
    await Promise.all(empty);
    return pending.sort();
  }

  #key(service: string, entity: string, action: string): string {
    assertId(service, 'service');
    assertId(entity, 'entity');
    assertId(action, 'action');
    return this.#keys.batch(service, entity, action);
  }
}
