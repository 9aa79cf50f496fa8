import { type Backend, type Codec, json, key, tag } from '@redbrick/core';
import { assertId, resolveTtl, tenantScope } from './validate.js';

export interface GenericOptions {
  backend: Backend;
  tenant: string;
  /** Default TTL in ms; `null`/`0`/absent: no expiry. */
  ttlMs?: number | null;
  /** How values are stored (wrap with core's `withSchema` to validate). @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's generic values. */
export function genericKeys(tenant: string) {
  const t = tag(tenant);
  return { value: (name: string) => key('kv', t, name) };
}

/** Tenant-scoped key-value for anything the other repositories do not cover. */
export class Generic<T = unknown> {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof genericKeys>;
  readonly #ttlMs: number;
  readonly #codec: Codec<unknown>;

  constructor(options: GenericOptions) {
    assertId(options.tenant, 'tenant');
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = genericKeys(options.tenant);
    this.#ttlMs = resolveTtl(options.ttlMs, 0);
    this.#codec = options.codec ?? json;
  }

  /** Stores a value; the TTL is part of the same SET (none clears an earlier TTL). */
  async set(name: string, value: T, options?: { ttlMs?: number | null }): Promise<void> {
    assertId(name, 'name');
    const ttl = resolveTtl(options?.ttlMs, this.#ttlMs);
    const stored = this.#codec.encode(value);
    await this.#backend.set(this.#keys.value(name), stored, ttl > 0 ? { ttlMs: ttl } : undefined);
  }

  /** The value, or undefined when there is none. */
  async get(name: string): Promise<T | undefined> {
    assertId(name, 'name');
    const stored = await this.#backend.get(this.#keys.value(name));
    return stored === null ? undefined : (this.#codec.decode(stored) as T);
  }

  async delete(name: string): Promise<boolean> {
    assertId(name, 'name');
    return (await this.#backend.del(this.#keys.value(name))) === 1;
  }

  async exists(name: string): Promise<boolean> {
    assertId(name, 'name');
    return (await this.#backend.exists(this.#keys.value(name))) === 1;
  }
}
