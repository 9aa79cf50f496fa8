import { type Backend, describe, escapeKeyPart, ValidationError } from '@redbrick/core';

const PKG = 'tenant-repos';
/** Longest tenant, user, thread or chain id accepted, in UTF-16 code units. */
export const MAX_ID_LENGTH = 512;

/**
 * Throws a `ValidationError` naming `field` unless `value` is a non-empty
 * string of at most {@link MAX_ID_LENGTH} characters. Any character is
 * allowed: ids are escaped before they become part of a key.
 */
export function assertId(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new ValidationError(
      `[redbrick/${PKG}] ${field} must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${describe(value)}`,
      { field },
    );
  }
}

/**
 * Resolves a TTL option: `undefined` falls back to `fallback`; `null` and `0`
 * mean "no expiry" (returned as 0); otherwise a positive integer of ms.
 */
export function resolveTtl(
  ttlMs: number | null | undefined,
  fallback: number,
  field = 'ttlMs',
): number {
  if (ttlMs === undefined) return fallback;
  if (ttlMs === null || ttlMs === 0) return 0;
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 0) {
    throw new ValidationError(
      `[redbrick/${PKG}] ${field} must be a positive integer number of milliseconds, 0 or null (no expiry), got ${describe(ttlMs)}`,
      { field },
    );
  }
  return ttlMs;
}

/** Throws unless `value` is a finite number. */
export function assertFiniteNumber(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError(
      `[redbrick/${PKG}] ${field} must be a finite number, got ${describe(value)}`,
      { field },
    );
  }
}

/** Throws unless `value` is a non-negative safe integer (0 = unlimited for limits). */
export function assertCount(value: unknown, field: string, min = 0): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(
      `[redbrick/${PKG}] ${field} must be an integer ≥ ${min}, got ${describe(value)}`,
      { field },
    );
  }
}

/**
 * The view of `backend` that holds one tenant's keys: `backend.scoped()`
 * with the tenant id escaped (`% : { }` percent-encoded), so any id — with
 * glob characters, braces, separators or unicode — maps to its own prefix
 * and no tenant's prefix is a prefix of another's.
 */
export function tenantScope(backend: Backend, tenant: string): Backend {
  assertId(tenant, 'tenant');
  return backend.scoped(`t=${escapeKeyPart(tenant)}`);
}

export { PKG };
