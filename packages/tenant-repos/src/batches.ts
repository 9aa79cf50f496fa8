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
  backend: Backend;
  /** Tenant id (escaped into the key prefix). */
  tenant: string;
  /** How items are stored. @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's batches. */
export function batchKeys(tenant: string) {
  const t = tag(tenant);
  return {
    /** List: pending items of one service/entity/action, oldest first. */
    batch: (service: string, entity: string, action: string) =>
      key('batch', t, service, entity, action),
  };
}

/** Takes up to ARGV[1] items off the head of a list in one step. */
export const batchDrainScript = defineScript<string[]>({
  name: 'tenant-repos.batches.drain',
  keys: 1,
  lua: `--[[ tenant-repos.batches.drain
  KEYS[1]  the batch list
  ARGV[1]  most items to take (≥ 1)
  returns  the items taken, oldest first ]]
local n = tonumber(ARGV[1])
local items = redis.call('lrange', KEYS[1], 0, n - 1)
if #items > 0 then redis.call('ltrim', KEYS[1], #items, -1) end
return items`,
  local: (r: SyncCommands, [k], [max]) => {
    const items = r.lrange(k as string, 0, Number(max) - 1);
    if (items.length > 0) r.ltrim(k as string, items.length, -1);
    return items;
  },
  decode: (reply) => (Array.isArray(reply) ? reply.map(String) : []),
});

/**
 * Per-tenant batches of work items: `enqueue` is one RPUSH, `drain` one script that takes
 * the head of the list, so an item enqueued during a drain is either drained or stays pending
 * — never lost.
 */
export class Batches<T = unknown> {
  readonly tenant: string;
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof batchKeys>;
  readonly #codec: Codec<unknown>;

  constructor(options: BatchesOptions) {
    assertId(options.tenant, 'tenant');
    this.tenant = options.tenant;
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = batchKeys(options.tenant);
    this.#codec = options.codec ?? json;
  }

  /** Appends an item; returns how many are pending. */
  async enqueue(service: string, entity: string, action: string, item: T): Promise<number> {
    return this.#backend.rpush(this.#key(service, entity, action), this.#codec.encode(item));
  }

  /** Reads up to `count` pending items without taking them. */
  async getChunk(service: string, entity: string, action: string, count: number): Promise<T[]> {
    assertCount(count, 'count', 1);
    const stored = await this.#backend.lrange(this.#key(service, entity, action), 0, count - 1);
    return stored.map((s) => this.#codec.decode(s) as T);
  }

  /** Drops the first `count` pending items (after processing a `getChunk`). */
  async trim(service: string, entity: string, action: string, count: number): Promise<void> {
    assertCount(count, 'count', 1);
    await this.#backend.ltrim(this.#key(service, entity, action), count, -1);
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
      [this.#key(service, entity, action)],
      [max],
    );
    return stored.map((s) => this.#codec.decode(s) as T);
  }

  #key(service: string, entity: string, action: string): string {
    assertId(service, 'service');
    assertId(entity, 'entity');
    assertId(action, 'action');
    return this.#keys.batch(service, entity, action);
  }
}
