import {
  type Backend,
  type Codec,
  defineScript,
  escapeKeyPart,
  json,
  key,
  type SyncCommands,
  tag,
  unescapeKeyPart,
  ValidationError,
} from '@redbrick/core';
import { assertId, PKG, resolveTtl, tenantScope } from './validate.js';

export interface SharedStateOptions {
  backend: Backend;
  tenant: string;
  /** TTL of a state in ms, refreshed by every write; `null`/`0`/absent: no expiry. */
  ttlMs?: number | null;
  /** Codec of each field's value. @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's shared states. */
export function sharedStateKeys(tenant: string) {
  const t = tag(tenant);
  return {
    /** Hash: one named state of one user. */
    state: (userId: string, name: string) => key('ss', t, userId, 's', name),
    /** Set: escaped names of the user's states. */
    names: (userId: string) => key('ss', t, userId, 'names'),
  };
}

/** Writes a state's fields (replace or merge), registers its name and applies the TTL. */
export const sharedStateWriteScript = defineScript<number>({
  name: 'tenant-repos.shared-state.write',
  keys: 2,
  lua: `--[[ tenant-repos.shared-state.write
  KEYS[1]  the state hash   KEYS[2] the user's set of state names
  ARGV[1]  escaped state name   ARGV[2] replace | merge   ARGV[3] ttl ms (0: none)
  ARGV[4…] field/value pairs
  returns  1 ]]
if ARGV[2] == 'replace' then redis.call('del', KEYS[1]) end
if #ARGV > 3 then
  local args = {}
  for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('hset', KEYS[1], unpack(args))
end
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('sadd', KEYS[2], ARGV[1])
  if tonumber(ARGV[3]) > 0 then redis.call('pexpire', KEYS[1], ARGV[3]) else redis.call('persist', KEYS[1]) end
else
  redis.call('srem', KEYS[2], ARGV[1])
end
return 1`,
  local: (r: SyncCommands, [h, names], [name, mode, ttl, ...pairs]) => {
    const k = h as string;
    if (mode === 'replace') r.del(k);
    if (pairs.length > 0) {
      const values: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        values[pairs[i] as string] = pairs[i + 1] as string;
      }
      r.hset(k, values);
    }
    if (r.exists(k) === 1) {
      r.sadd(names as string, name as string);
      if (Number(ttl) > 0) r.pexpire(k, Number(ttl));
      else r.persist(k);
    } else {
      r.srem(names as string, name as string);
    }
    return 1;
  },
  decode: (reply) => Number(reply),
});

/** Deletes one state (ARGV[1] given) or all of a user's states (no ARGV). */
export const sharedStateDeleteScript = defineScript<number>({
  name: 'tenant-repos.shared-state.delete',
  lua: `--[[ tenant-repos.shared-state.delete
  KEYS[1]  the user's set of state names   KEYS[2…] the state hashes to delete
  ARGV[…]  their escaped names
  returns  how many states existed ]]
local n = 0
for i = 2, #KEYS do
  n = n + redis.call('del', KEYS[i])
  redis.call('srem', KEYS[1], ARGV[i - 1])
end
return n`,
  local: (r: SyncCommands, [names, ...states], escaped) => {
    let n = 0;
    for (const [i, k] of states.entries()) {
      n += r.del(k);
      r.srem(names as string, escaped[i] as string);
    }
    return n;
  },
  decode: (reply) => Number(reply),
});

/** Per-user named state objects shared by every handler of a tenant. */
export class SharedState {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof sharedStateKeys>;
  readonly #ttlMs: number;
  readonly #codec: Codec<unknown>;

  constructor(options: SharedStateOptions) {
    assertId(options.tenant, 'tenant');
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = sharedStateKeys(options.tenant);
    this.#ttlMs = resolveTtl(options.ttlMs, 0);
    this.#codec = options.codec ?? json;
  }

  /** Replaces a state. */
  async set(
    userId: string,
    name: string,
    state: Record<string, unknown>,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    await this.#write('replace', userId, name, state, options?.ttlMs);
  }

  /** Sets one field of a state (creating it). */
  async setField(
    userId: string,
    name: string,
    field: string,
    value: unknown,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    assertId(field, 'field');
    await this.#write('merge', userId, name, { [field]: value }, options?.ttlMs);
  }

  /** A state, or null. */
  async get(userId: string, name: string): Promise<Record<string, unknown> | null> {
    const stored = await this.#backend.hgetall(this.#state(userId, name));
    const fields = Object.keys(stored);
    if (fields.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f] = this.#codec.decode(stored[f] as string);
    return out;
  }

  /** One field of a state, or undefined. */
  async getField(userId: string, name: string, field: string): Promise<unknown> {
    assertId(field, 'field');
    const stored = await this.#backend.hget(this.#state(userId, name), field);
    return stored === null ? undefined : this.#codec.decode(stored);
  }

  /** Names of the user's live states, sorted. */
  async listStates(userId: string): Promise<string[]> {
    assertId(userId, 'userId');
    const names = (await this.#backend.smembers(this.#keys.names(userId))).map(unescapeKeyPart);
    if (names.length === 0) return [];
    const pipe = this.#backend.pipeline();
    for (const n of names) pipe.add('exists', this.#keys.state(userId, n));
    const results = await pipe.exec();
    return names
      .filter((_, i) => {
        const r = results[i];
        if (r && !r.ok) throw r.error;
        return r?.ok === true && r.value === 1;
      })
      .sort();
  }

  /** Deletes one state. True when it existed. */
  async delete(userId: string, name: string): Promise<boolean> {
    const k = this.#state(userId, name);
    return (
      (await this.#backend.run(
        sharedStateDeleteScript,
        [this.#keys.names(userId), k],
        [escapeKeyPart(name)],
      )) === 1
    );
  }

  /** Deletes every state of the user; returns how many existed. */
  async clearAll(userId: string): Promise<number> {
    assertId(userId, 'userId');
    const escaped = await this.#backend.smembers(this.#keys.names(userId));
    const keys = escaped.map((e) => this.#keys.state(userId, unescapeKeyPart(e)));
    return this.#backend.run(sharedStateDeleteScript, [this.#keys.names(userId), ...keys], escaped);
  }

  async #write(
    mode: 'replace' | 'merge',
    userId: string,
    name: string,
    values: Record<string, unknown>,
    ttlMs: number | null | undefined,
  ): Promise<void> {
    const k = this.#state(userId, name);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new ValidationError(`[redbrick/${PKG}] state must be an object`, { field: 'state' });
    }
    const ttl = resolveTtl(ttlMs, this.#ttlMs);
    const args: Array<string | number> = [escapeKeyPart(name), mode, ttl];
    for (const [f, v] of Object.entries(values)) {
      if (v !== undefined) args.push(f, this.#codec.encode(v));
    }
    await this.#backend.run(sharedStateWriteScript, [k, this.#keys.names(userId)], args);
  }

  #state(userId: string, name: string): string {
    assertId(userId, 'userId');
    assertId(name, 'name');
    return this.#keys.state(userId, name);
  }
}
