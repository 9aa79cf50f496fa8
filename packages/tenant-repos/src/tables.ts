import {
  type Backend,
  type Codec,
  escapeKeyPart,
  json,
  key,
  tag,
  unescapeKeyPart,
  ValidationError,
} from '@redbrick/core';
import { sharedStateDeleteScript, sharedStateWriteScript } from './shared-state.js';
import { assertId, PKG, resolveTtl, tenantScope } from './validate.js';

export interface TablesOptions {
  backend: Backend;
  tenant: string;
  /** TTL of a row in ms, refreshed by every write; `null`/`0`/absent: no expiry. */
  ttlMs?: number | null;
  /** Codec of each column's value. @default core's `json` */
  codec?: Codec<unknown>;
}

/** Keys of a tenant's table rows. */
export function tableKeys(tenant: string) {
  const t = tag(tenant);
  return {
    /** Hash: one row, column → encoded value. */
    row: (table: string, pk: string) => key('tbl', t, pk, 'r', table),
    /** Set: escaped names of the tables that hold a row with this primary key. */
    tables: (pk: string) => key('tbl', t, pk, 'tables'),
  };
}

/**
 * Rows by table and primary key, with `deleteAllByPk(pk)` across tables. Writes and deletes
 * are the same scripts as `SharedState` (a hash plus the set of tables per key, in step).
 */
export class Tables {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof tableKeys>;
  readonly #ttlMs: number;
  readonly #codec: Codec<unknown>;

  constructor(options: TablesOptions) {
    assertId(options.tenant, 'tenant');
    this.#backend = tenantScope(options.backend, options.tenant);
    this.#keys = tableKeys(options.tenant);
    this.#ttlMs = resolveTtl(options.ttlMs, 0);
    this.#codec = options.codec ?? json;
  }

  /** Replaces a row. */
  async set(
    table: string,
    pk: string,
    row: Record<string, unknown>,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    await this.#write('replace', table, pk, row, options?.ttlMs);
  }

  /** Sets one column of a row (creating it). */
  async updateField(
    table: string,
    pk: string,
    column: string,
    value: unknown,
    options?: { ttlMs?: number | null },
  ): Promise<void> {
    assertId(column, 'column');
    await this.#write('merge', table, pk, { [column]: value }, options?.ttlMs);
  }

  /** A row, or null. */
  async get(table: string, pk: string): Promise<Record<string, unknown> | null> {
    const stored = await this.#backend.hgetall(this.#row(table, pk));
    const columns = Object.keys(stored);
    if (columns.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const c of columns) out[c] = this.#codec.decode(stored[c] as string);
    return out;
  }

  /** Deletes a row. True when it existed. */
  async delete(table: string, pk: string): Promise<boolean> {
    const k = this.#row(table, pk);
    return (
      (await this.#backend.run(
        sharedStateDeleteScript,
        [this.#keys.tables(pk), k],
        [escapeKeyPart(table)],
      )) === 1
    );
  }

  /** Deletes the rows with this primary key in every table; returns how many existed. */
  async deleteAllByPk(pk: string): Promise<number> {
    assertId(pk, 'pk');
    const escaped = await this.#backend.smembers(this.#keys.tables(pk));
    const keys = escaped.map((e) => this.#keys.row(unescapeKeyPart(e), pk));
    return this.#backend.run(sharedStateDeleteScript, [this.#keys.tables(pk), ...keys], escaped);
  }

  async #write(
    mode: 'replace' | 'merge',
    table: string,
    pk: string,
    values: Record<string, unknown>,
    ttlMs: number | null | undefined,
  ): Promise<void> {
    const k = this.#row(table, pk);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new ValidationError(`[redbrick/${PKG}] row must be an object`, { field: 'row' });
    }
    const ttl = resolveTtl(ttlMs, this.#ttlMs);
    const args: Array<string | number> = [escapeKeyPart(table), mode, ttl];
    for (const [c, v] of Object.entries(values)) {
      if (v !== undefined) args.push(c, this.#codec.encode(v));
    }
    await this.#backend.run(sharedStateWriteScript, [k, this.#keys.tables(pk)], args);
  }

  #row(table: string, pk: string): string {
    assertId(table, 'table');
    assertId(pk, 'pk');
    return this.#keys.row(table, pk);
  }
}
