import { hostname } from 'node:os';
import { assertInteger, assertKey, assertTtl, type Backend, ValidationError } from '@redbrick/core';
import type { LockLostError } from './errors.js';
import { PKG } from './errors.js';

/** How waiters learn that a lock was released. */
export type WakeupMode = 'pubsub' | 'poll';

/** Options every lock service takes. */
export interface LockServiceOptions {
  /** Where the locks live. Use `backend.scoped(prefix)` to keep tenants apart. */
  backend: Backend;
  /**
   * How long a lease lasts unless it is extended, in ms. A holder that
   * crashes blocks others for at most this long.
   * @default 30000
   */
  ttlMs?: number;
  /**
   * How long `acquire` waits for a busy lock before it fails with
   * `LOCK_NOT_ACQUIRED`, in ms. `0` tries once; `Infinity` waits until the
   * signal aborts.
   * @default 10000
   */
  waitMs?: number;
  /**
   * `'pubsub'`: a release publishes on the lock's channel and wakes one
   * waiter per process at once, with polling every `maxRetryDelayMs` as the
   * fallback (lost messages, expired leases). `'poll'`: waiters only retry
   * with jittered exponential backoff.
   * @default 'pubsub'
   */
  wakeups?: WakeupMode;
  /**
   * First delay between attempts when polling, in ms; it doubles up to
   * `maxRetryDelayMs`, each delay jittered to between half and all of it.
   * @default 50
   */
  retryDelayMs?: number;
  /**
   * Longest delay between attempts, in ms (also the pub/sub fallback poll).
   * A waiter never sleeps past the moment the blocking lease expires.
   * @default 1000
   */
  maxRetryDelayMs?: number;
  /**
   * Who holds the lock, as shown by `listLocks` and checked by
   * `removeStaleLocks` (every token starts with it).
   * @default `${hostname}:${pid}`
   */
  owner?: string;
}

/** Per-call options of `acquire` / `tryAcquire`. */
export interface AcquireOptions {
  /** Lease length in ms. @default the service's `ttlMs` */
  ttlMs?: number;
  /** How long to wait for a busy lock, in ms. @default the service's `waitMs` (`tryAcquire`: 0) */
  waitMs?: number;
  /** Abort waiting. The call rejects with `signal.reason`; a lock won at that moment is released. */
  signal?: AbortSignal;
  /**
   * Extend the lease every `ttlMs / 3` while it is held, until it is
   * released or an extension fails (then the lease is lost: `onLost` runs
   * and `lease.signal` aborts).
   * @default false for `acquire`, true for `withLock`
   */
  watchdog?: boolean;
  /**
   * Called once when the lease is lost while held (it ran out, an
   * extension found another owner, or the backend stayed unreachable until
   * it ran out). Errors it throws are reported as process warnings.
   */
  onLost?: (error: LockLostError) => void | Promise<void>;
}

/** The service options with defaults applied. */
export interface ResolvedServiceOptions {
  backend: Backend;
  ttlMs: number;
  waitMs: number;
  wakeups: WakeupMode;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  owner: string;
}

/** Per-call options after validation. */
export interface ResolvedAcquireOptions {
  ttlMs: number;
  waitMs: number;
  signal: AbortSignal | undefined;
  watchdog: boolean;
  onLost: ((error: LockLostError) => void | Promise<void>) | undefined;
}

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_WAIT_MS = 10_000;

function checkWait(value: unknown, field: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  assertInteger(value, field, { min: 0, pkg: 'locks' });
  return value;
}

function checkBackend(backend: unknown): Backend {
  const b = backend as Partial<Backend> | null | undefined;
  if (typeof b !== 'object' || b === null || typeof b.run !== 'function') {
    throw new ValidationError(`${PKG} backend must be a redbrick Backend (from createBackend())`, {
      field: 'backend',
    });
  }
  return b as Backend;
}

/** Validates the options every service shares. Throws a ValidationError naming the field. */
export function resolveServiceOptions(options: LockServiceOptions): ResolvedServiceOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`${PKG} options must be an object with a backend`, {
      field: 'options',
    });
  }
  const backend = checkBackend(options.backend);
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  assertTtl(ttlMs, 'ttlMs', 'locks');
  const waitMs = checkWait(options.waitMs ?? DEFAULT_WAIT_MS, 'waitMs');
  const wakeups = options.wakeups ?? 'pubsub';
  if (wakeups !== 'pubsub' && wakeups !== 'poll') {
    throw new ValidationError(
      `${PKG} wakeups must be 'pubsub' or 'poll', got ${JSON.stringify(wakeups)}`,
      { field: 'wakeups' },
    );
  }
  const retryDelayMs = options.retryDelayMs ?? 50;
  assertInteger(retryDelayMs, 'retryDelayMs', { min: 1, pkg: 'locks' });
  const maxRetryDelayMs = options.maxRetryDelayMs ?? Math.max(1000, retryDelayMs);
  assertInteger(maxRetryDelayMs, 'maxRetryDelayMs', { min: retryDelayMs, pkg: 'locks' });
  const owner = options.owner ?? `${hostname()}:${process.pid}`;
  assertKey(owner, 'owner', 'locks');
  return { backend, ttlMs, waitMs, wakeups, retryDelayMs, maxRetryDelayMs, owner };
}

/** Validates a resource name: a non-empty string. */
export function checkName(name: unknown, field = 'key'): string {
  assertKey(name, field, 'locks');
  return name;
}

/** Validates per-call options and fills in the service defaults. */
export function resolveAcquireOptions(
  options: AcquireOptions | undefined,
  service: ResolvedServiceOptions,
  /** `fixedWaitMs` overrides any `waitMs` the caller passed (tryAcquire: one attempt). */
  defaults: { waitMs?: number; fixedWaitMs?: number; watchdog: boolean },
): ResolvedAcquireOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new ValidationError(`${PKG} options must be an object`, { field: 'options' });
  }
  const ttlMs = o.ttlMs ?? service.ttlMs;
  assertTtl(ttlMs, 'ttlMs', 'locks');
  const waitMs =
    defaults.fixedWaitMs ?? checkWait(o.waitMs ?? defaults.waitMs ?? service.waitMs, 'waitMs');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new ValidationError(`${PKG} signal must be an AbortSignal`, { field: 'signal' });
  }
  if (o.onLost !== undefined && typeof o.onLost !== 'function') {
    throw new ValidationError(`${PKG} onLost must be a function`, { field: 'onLost' });
  }
  const watchdog = o.watchdog ?? defaults.watchdog;
  if (typeof watchdog !== 'boolean') {
    throw new ValidationError(`${PKG} watchdog must be a boolean`, { field: 'watchdog' });
  }
  return { ttlMs, waitMs, signal: o.signal, watchdog, onLost: o.onLost };
}
