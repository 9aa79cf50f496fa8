import { ValidationError } from './errors.js';

/** Throws a ValidationError unless `key` is a non-empty string. */
export function assertKey(key: unknown, field = 'key', pkg = 'core'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ValidationError(
      `[redbrick/${pkg}] ${field} must be a non-empty string, got ${describe(key)}`,
      { field },
    );
  }
}

/** Throws unless `value` is a finite number. */
export function assertFinite(value: unknown, field: string, pkg = 'core'): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError(
      `[redbrick/${pkg}] ${field} must be a finite number, got ${describe(value)}`,
      {
        field,
      },
    );
  }
}

/** Throws unless `value` is a safe integer within [min, max]. */
export function assertInteger(
  value: unknown,
  field: string,
  { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, pkg = 'core' } = {},
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range =
      min === Number.MIN_SAFE_INTEGER
        ? max === Number.MAX_SAFE_INTEGER
          ? 'an integer'
          : `an integer ≤ ${max}`
        : max === Number.MAX_SAFE_INTEGER
          ? `an integer ≥ ${min}`
          : `an integer from ${min} to ${max}`;
    throw new ValidationError(
      `[redbrick/${pkg}] ${field} must be ${range}, got ${describe(value)}`,
      {
        field,
      },
    );
  }
}

/** Throws unless `ttlMs` is a positive integer number of milliseconds. */
export function assertTtl(ttlMs: unknown, field = 'ttlMs', pkg = 'core'): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(
      `[redbrick/${pkg}] ${field} must be a positive integer number of milliseconds, got ${describe(ttlMs)}`,
      { field },
    );
  }
}

/** Throws unless `value` is a string. */
export function assertString(value: unknown, field: string, pkg = 'core'): asserts value is string {
  if (typeof value !== 'string') {
    throw new ValidationError(
      `[redbrick/${pkg}] ${field} must be a string, got ${describe(value)}`,
      { field },
    );
  }
}

/** A short, safe description of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
