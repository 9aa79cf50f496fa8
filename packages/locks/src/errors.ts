import { RedbrickError } from '@redbrick/core';

/** What every error of this package may carry (core does not export its own options type). */
export interface LockErrorOptions {
  cause?: unknown;
}

/** Why a lock was not acquired: held by another owner, or won but not confirmed by replicas. */
export type NotAcquiredReason = 'held' | 'replication';

/** Prefix of every message this package writes. */
export const PKG = '[redbrick/locks]';

/**
 * The lock (or permit, or latch) was not obtained within `waitMs`.
 * Code `LOCK_NOT_ACQUIRED`. Safe to retry later.
 */
export class LockNotAcquiredError extends RedbrickError {
  /** The resource name that was asked for. */
  readonly key: string;
  /** How long the call waited, in ms. */
  readonly waitedMs: number;
  /** `'held'`: another owner had it; `'replication'`: won, but too few replicas confirmed it. */
  readonly reason: NotAcquiredReason;

  constructor(
    key: string,
    message: string,
    waitedMs: number,
    options?: LockErrorOptions & { reason?: NotAcquiredReason },
  ) {
    super('LOCK_NOT_ACQUIRED', message, options);
    this.name = 'LockNotAcquiredError';
    this.key = key;
    this.waitedMs = waitedMs;
    this.reason = options?.reason ?? 'held';
  }
}

/**
 * A lease stopped being valid while its holder still relied on it: it ran
 * out before it was extended, an extension found another owner, or the
 * release found the lock already gone. Code `LOCK_LOST`. The critical
 * section may have overlapped another holder's: use fencing tokens for
 * anything that must never be written twice.
 */
export class LockLostError extends RedbrickError {
  /** The resource name whose lease was lost. */
  readonly key: string;

  constructor(key: string, message: string, options?: LockErrorOptions) {
    super('LOCK_LOST', message, options);
    this.name = 'LockLostError';
    this.key = key;
  }
}
