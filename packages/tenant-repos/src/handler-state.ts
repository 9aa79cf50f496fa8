import {
  type Backend,
  type Codec,
  defineScript,
  json,
  key,
  type SyncCommands,
  tag,
  ValidationError,
} from '@redbrick/core';
import { assertId, PKG, resolveTtl, tenantScope } from './validate.js';

/** Writes hash fields (replacing or merging) and applies the TTL in one step. */
export const hashWriteScript = defineScript<number>({
  name: 'tenant-repos.hash.write',
  keys: 1,
  lua: `--[[ tenant-repos.hash.write
  KEYS[1]  the hash
  ARGV[1]  mode: replace (drop other fields) | merge   ARGV[2] ttl ms (0: no expiry)
  ARGV[3…] field/value pairs
  returns  1 ]]
if ARGV[1] == 'replace' then redis.call('del', KEYS[1]) end
if #ARGV > 2 then
  local args = {}
  for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('hset', KEYS[1], unpack(args))
end
if redis.call('exists', KEYS[1]) == 1 then
  if tonumber(ARGV[2]) > 0 then redis.call('pexpire', KEYS[1], ARGV[2]) else redis.call('persist', KEYS[1]) end
end
return 1`,
  local: (r: SyncCommands, [k], [mode, ttl, ...pairs]) => {
    const h = k as string;
    if (mode === 'replace') r.del(h);
    if (pairs.length > 0) {
      const values: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        values[pairs[i] as string] = pairs[i + 1] as string;
      }
      r.hset(h, values);
    }
    if (r.exists(h) === 1) {
      if (Number(ttl) > 0) r.pexpire(h, Number(ttl));
      else r.persist(h);
    }
    return 1;
  },
  decode: (reply) => Number(reply),
});

export interface HandlerStateOptions {
  backend: Backend;
  tenant: string;
  /** TTL of a state in ms, refreshed by every write; `null`/`0`/absent: no expiry. */
  ttlMs?: number | null;
  /** Codec of each field's value. @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's handler states. */
export function handlerStateKeys(tenant: string) {
  const t = tag(tenant);
  return {
    /** Hash: one handler's state for one user, field → encoded value. */
    state: (userId: string, handler: string) => key('hs', t, userId, handler),
  };
}

/** Per-user, per-handler state objects: one hash, each top-level field encoded on its own. */
export class HandlerState<T extends Record<string, unknown> = Record<string, unknown>> {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof handlerStateKeys>;
  readonly #ttlMs: number;
  readonly #codec: Codec<unknown>;

  constructor(options: HandlerStateOptions) {
    assertId(options.tenant, 'tenant');
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = handlerStateKeys(options.tenant);
    this.#ttlMs = resolveTtl(options.ttlMs, 0);
    this.#codec = options.codec ?? json;
  }

  /** Replaces the whole state. */
  async set(
    userId: string,
    handler: string,
    state: T,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    await this.#write('replace', userId, handler, state, options?.ttlMs);
  }

  /** Merges `partial` into the state: fields not given keep their value. */
  async upsert(
    userId: string,
    handler: string,
    partial: Partial<T>,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    await this.#write('merge', userId, handler, partial, options?.ttlMs);
  }

  /** Sets one field. */
  async updateField<K extends keyof T & string>(
    userId: string,
    handler: string,
    field: K,
    value: T[K],
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    assertId(field, 'field');
    const partial: Partial<T> = {};
    partial[field] = value;
    await this.#write('merge', userId, handler, partial, options?.ttlMs);
  }

  /** The state, or null when there is none. */
  async get(userId: string, handler: string): Promise<T | null> {
    const stored = await this.#backend.hgetall(this.#key(userId, handler));
    const names = Object.keys(stored);
    if (names.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const name of names) out[name] = this.#codec.decode(stored[name] as string);
    return out as T;
  }

  /** Deletes the state. True when it existed. */
  async delete(userId: string, handler: string): Promise<boolean> {
    return (await this.#backend.del(this.#key(userId, handler))) === 1;
  }

  async #write(
    mode: 'replace' | 'merge',
    userId: string,
    handler: string,
    values: Partial<T>,
    ttlMs: number | null | undefined,
  ): Promise<void> {
    const k = this.#key(userId, handler);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new ValidationError(`[redbrick/${PKG}] state must be an object`, { field: 'state' });
    }
    const ttl = resolveTtl(ttlMs, this.#ttlMs);
    const args: Array<string | number> = [mode, ttl];
    for (const [name, value] of Object.entries(values)) {
      if (value !== undefined) args.push(name, this.#codec.encode(value));
    }
    await this.#backend.run(hashWriteScript, [k], args);
  }

  #key(userId: string, handler: string): string {
    assertId(userId, 'userId');
    assertId(handler, 'handler');
    return this.#keys.state(userId, handler);
  }
}
