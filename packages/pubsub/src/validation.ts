import { assertInteger, assertKey, describe, ValidationError } from '@redbrick/core';

/** Throws a ValidationError unless `value` is a non-empty string. */
export function checkName(value: unknown, field: string): asserts value is string {
  assertKey(value, field, 'pubsub');
}

/** Throws unless `value` is undefined or an integer within [min, max]. */
export function checkOptionalInteger(
  value: unknown,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number | undefined {
  if (value === undefined) return;
  assertInteger(value, field, { min, max, pkg: 'pubsub' });
}

/** Throws unless `value` is undefined or a function. */
export function checkOptionalFunction(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new ValidationError(
      `[redbrick/pubsub] ${field} must be a function, got ${describe(value)}`,
      { field },
    );
  }
}

/** Throws unless `value` is a function. */
export function checkFunction(value: unknown, field: string): void {
  if (typeof value !== 'function') {
    throw new ValidationError(
      `[redbrick/pubsub] ${field} must be a function, got ${describe(value)}`,
      { field },
    );
  }
}

/** Throws unless `value` is one of `allowed` (or undefined). */
export function checkOneOf<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
): asserts value is T | undefined {
  if (value === undefined) return;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(
      `[redbrick/pubsub] ${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
      { field },
    );
  }
}
