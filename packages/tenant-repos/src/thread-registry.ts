import { randomUUID } from 'node:crypto';
import { type Backend, defineScript, key, type SyncCommands, tag } from '@redbrick/core';
import { assertId } from './validate.js';

export interface ThreadRegistryOptions {
  backend: Backend;
  /** Registry name: the hash tag of its keys. @default 'default' */
  name?: string;
}

/** Keys of a thread registry named `name`. */
export function threadRegistryKeys(name: string) {
  const t = tag(name);
  return {
    /** Hash: chain → uuid. */
    byChain: key('treg', t, 'chain'),
    /** Hash: uuid → chain. */
    byUuid: key('treg', t, 'uuid'),
  };
}

/** Returns the chain's uuid, registering ARGV[2] when it has none. */
export const registryGetOrCreateScript = defineScript<string>({
  name: 'tenant-repos.thread-registry.get-or-create',
  keys: 2,
  lua: `--[[ tenant-repos.thread-registry.get-or-create
  KEYS[1]  hash chain → uuid   KEYS[2] hash uuid → chain
  ARGV[1]  chain   ARGV[2] uuid to use when the chain is new
  returns  the chain's uuid ]]
local existing = redis.call('hget', KEYS[1], ARGV[1])
if existing then return existing end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('hset', KEYS[2], ARGV[2], ARGV[1])
return ARGV[2]`,
  local: (r: SyncCommands, [byChain, byUuid], [chain, uuid]) => {
    const existing = r.hget(byChain as string, chain as string);
    if (existing !== null) return existing;
    r.hset(byChain as string, { [chain as string]: uuid as string });
    r.hset(byUuid as string, { [uuid as string]: chain as string });
    return uuid;
  },
  decode: (reply) => String(reply),
});

/** Removes a chain and its uuid, both directions at once. */
export const registryDeleteScript = defineScript<number>({
  name: 'tenant-repos.thread-registry.delete',
  keys: 2,
  lua: `--[[ tenant-repos.thread-registry.delete
  KEYS[1]  hash chain → uuid   KEYS[2] hash uuid → chain
  ARGV[1]  chain
  returns  1 deleted, 0 unknown chain ]]
local uuid = redis.call('hget', KEYS[1], ARGV[1])
if not uuid then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], uuid)
return 1`,
  local: (r: SyncCommands, [byChain, byUuid], [chain]) => {
    const uuid = r.hget(byChain as string, chain as string);
    if (uuid === null) return 0;
    r.hdel(byChain as string, chain as string);
    r.hdel(byUuid as string, uuid);
    return 1;
  },
  decode: (reply) => Number(reply),
});

/** A two-way map chain ↔ uuid with an atomic get-or-create: one uuid per chain, ever. */
export class ThreadRegistry {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof threadRegistryKeys>;

  constructor(options: ThreadRegistryOptions) {
    const name = options.name ?? 'default';
    assertId(name, 'name');
    this.#backend = options.backend;
    this.#keys = threadRegistryKeys(name);
  }

  /** The chain's uuid; registers a new random one when the chain is unknown. Race-free. */
  async getOrCreate(chain: string): Promise<string> {
    assertId(chain, 'chain');
    return this.#backend.run(
      registryGetOrCreateScript,
      [this.#keys.byChain, this.#keys.byUuid],
      [chain, randomUUID()],
    );
  }

  /** The chain's uuid, or null. */
  async getUuid(chain: string): Promise<string | null> {
    assertId(chain, 'chain');
    return this.#backend.hget(this.#keys.byChain, chain);
  }

  /** The uuid's chain, or null. */
  async getChain(uuid: string): Promise<string | null> {
    assertId(uuid, 'uuid');
    return this.#backend.hget(this.#keys.byUuid, uuid);
  }

  /** Forgets a chain (both directions). True when it was registered. */
  async delete(chain: string): Promise<boolean> {
    assertId(chain, 'chain');
    return (
      (await this.#backend.run(
        registryDeleteScript,
        [this.#keys.byChain, this.#keys.byUuid],
        [chain],
      )) === 1
    );
  }

  /** Every registered chain → uuid. */
  async listAll(): Promise<Record<string, string>> {
    return this.#backend.hgetall(this.#keys.byChain);
  }
}
