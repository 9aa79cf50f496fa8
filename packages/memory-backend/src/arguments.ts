import {
  assertFinite,
  assertInteger,
  assertKey,
  assertString,
  assertTtl,
  describe,
  type ScoreBound,
  type SetOptions,
  ValidationError,
} from '@redbrick/core';

/*
 * Checks at the API edge, with core's assertions: the same fields and the
 * same rules as the Redis backend, so bad input fails the same way on both.
 */

const P = 'memory-backend';

export function checkKey(key: unknown, field = 'key'): asserts key is string {
  assertKey(key, field, P);
}

export function checkKeys(keys: readonly unknown[], command: string): void {
  if (keys.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${command} needs at least one key`, {
      field: 'keys',
    });
  }
  for (let i = 0; i < keys.length; i++) assertKey(keys[i], `${command}: keys[${i}]`, P);
}

export function checkString(value: unknown, field: string): asserts value is string {
  assertString(value, field, P);
}

export function checkName(value: unknown, field: string): asserts value is string {
  assertKey(value, field, P);
}

export function checkStrings(values: readonly unknown[], field: string, command: string): void {
  if (values.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${command} needs at least one ${field}`, {
      field: `${field}s`,
    });
  }
  for (let i = 0; i < values.length; i++) assertString(values[i], `${field}s[${i}]`, P);
}

export function checkInteger(value: unknown, field: string, min?: number): asserts value is number {
  if (min === undefined) assertInteger(value, field, { pkg: P });
  else assertInteger(value, field, { min, pkg: P });
}

export function checkFinite(value: unknown, field: string): asserts value is number {
  assertFinite(value, field, P);
}

export function checkTtl(value: unknown, field = 'ttlMs'): asserts value is number {
  assertTtl(value, field, P);
}

/** Checks SET options: a valid TTL, not combined with keepTtl, and not both nx and xx. */
export function checkSetOptions(options: SetOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(
      `[redbrick/${P}] set: options must be an object, got ${describe(options)}`,
      { field: 'options' },
    );
  }
  if (options.ttlMs !== undefined) {
    assertTtl(options.ttlMs, 'ttlMs', P);
    if (options.keepTtl) {
      throw new ValidationError(`[redbrick/${P}] set: ttlMs and keepTtl cannot be combined`, {
        field: 'keepTtl',
      });
    }
  }
  if (options.nx && options.xx) {
    throw new ValidationError(`[redbrick/${P}] set: nx and xx cannot be combined`, {
      field: 'nx',
    });
  }
}

/** A score: any number but NaN (`±Infinity` allowed, as in Redis). */
export function checkScore(value: unknown, field: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new ValidationError(
      `[redbrick/${P}] ${field} must be a number (±Infinity allowed), got ${describe(value)}`,
      { field },
    );
  }
  return value === 0 ? 0 : value; // -0 is stored and reported as 0
}

const EXCLUSIVE = /^\((?:[+-]?inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$/i;

/** A parsed score bound: the value and whether it is exclusive. */
export interface Bound {
  value: number;
  exclusive: boolean;
}

export function parseBound(bound: ScoreBound, field: string): Bound {
  if (typeof bound === 'number') {
    if (Number.isNaN(bound)) {
      throw new ValidationError(`[redbrick/${P}] ${field} must not be NaN`, { field });
    }
    return { value: bound, exclusive: false };
  }
  if (bound === '-inf') return { value: Number.NEGATIVE_INFINITY, exclusive: false };
  if (bound === '+inf') return { value: Number.POSITIVE_INFINITY, exclusive: false };
  if (typeof bound === 'string' && EXCLUSIVE.test(bound)) {
    const text = bound.slice(1).toLowerCase();
    const value =
      text === 'inf' || text === '+inf'
        ? Number.POSITIVE_INFINITY
        : text === '-inf'
          ? Number.NEGATIVE_INFINITY
          : Number(text);
    return { value, exclusive: true };
  }
  throw new ValidationError(
    `[redbrick/${P}] ${field} must be a number, '-inf', '+inf' or '(<number>' for an exclusive bound, got ${describe(bound)}`,
    { field },
  );
}

/** Checks a `Record<string, string>` of fields (hset, xadd); returns its keys. */
export function checkFields(fields: unknown, command: string): string[] {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new ValidationError(
      `[redbrick/${P}] ${command}: fields must be an object of strings, got ${describe(fields)}`,
      { field: 'fields' },
    );
  }
  const names = Object.keys(fields);
  if (names.length === 0) {
    throw new ValidationError(`[redbrick/${P}] ${command} needs at least one field`, {
      field: 'fields',
    });
  }
  const record = fields as Record<string, unknown>;
  for (const name of names) assertString(record[name], `fields.${name}`, P);
  return names;
}
