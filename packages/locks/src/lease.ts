import { assertTtl } from '@redbrick/core';
import { LockLostError, PKG } from './errors.js';

/** What a lease is a lease on. */
export type LeaseKind = 'mutex' | 'semaphore' | 'read' | 'write';

/** The round trips a lease needs from the service that granted it. */
export interface LeaseOps {
  /** Extends the lease to `ttlMs` from now (server time); false when it is no longer ours. */
  extend(ttlMs: number): Promise<boolean>;
  /** Releases the lease; false when it was no longer ours. */
  release(): Promise<boolean>;
}

/** Internal: what a service hands a new lease. */
export interface LeaseInit {
  kind: LeaseKind;
  key: string;
  token: string;
  fence: number;
  ttlMs: number;
  /** `performance.now()` just before the acquiring request was sent. */
  sentAt: number;
  ops: LeaseOps;
  watchdog: boolean;
  onLost: ((error: LockLostError) => void | Promise<void>) | undefined;
}

/**
 * The local view of a lease ends a little before the server's: the server
 * starts counting when the script runs (after we sent it), and the two
 * clocks may run at slightly different rates (1% + 2 ms, as Redlock assumes).
 */
function driftMs(ttlMs: number): number {
  return Math.floor(ttlMs * 0.01) + 2;
}

function reportCallbackError(error: unknown): void {
  const detail = error instanceof Error ? error.message : String(error);
  process.emitWarning(`${PKG} an onLost callback threw: ${detail}`, { code: 'REDBRICK_LOCKS' });
}

/**
 * A held lock, semaphore permit or read/write lease.
 *
 * - `fence` is the fencing token: strictly greater than every token handed
 *   out before for the same resource. Pass it to `fencedWrite`.
 * - `signal` aborts (with a `LockLostError` as reason) the moment the lease
 *   is known to be lost; `onLost` is called at the same time.
 * - `await using lease = await mutex.acquire(…)` releases at the end of
 *   the block, and throws `LOCK_LOST` there when the lease had been lost.
 */
export class Lease implements AsyncDisposable {
  /** `'mutex'`, `'semaphore'`, `'read'` or `'write'`. */
  readonly kind: LeaseKind;
  /** The resource name given to `acquire`. */
  readonly key: string;
  /** The owner token (`<owner>#<random>`): what `release` and `extend` compare. */
  readonly token: string;
  /** The fencing token: strictly increasing per resource, across all holders. */
  readonly fence: number;

  readonly #ops: LeaseOps;
  readonly #onLost: LeaseInit['onLost'];
  /** Made when `signal` is first read: most leases are never asked for one. */
  #controller: AbortController | undefined;
  /**
   * True when someone can observe a loss as it happens (watchdog, `onLost`,
   * `signal`): only then does an expiry timer run. Otherwise running out is
   * noticed lazily, by the next look at the lease, with the same outcome.
   */
  #observed: boolean;
  #ttlMs: number;
  /** `performance.now()` after which the lease can no longer be relied on. */
  #deadline: number;
  /** Send time of the newest extension applied to `#deadline`. */
  #appliedSentAt: number;
  #state: 'held' | 'lost' | 'released' = 'held';
  #lostError: LockLostError | undefined;
  #lastError: unknown;
  #expiryTimer: NodeJS.Timeout | undefined;
  #watchdogTimer: NodeJS.Timeout | undefined;
  #watchdog: boolean;
  #extending = 0;
  #ranOutWhileExtending = false;
  #releasing: Promise<boolean> | undefined;
  #releaseCalled = false;

  /** @internal Leases are made by the lock services. */
  constructor(init: LeaseInit) {
    this.kind = init.kind;
    this.key = init.key;
    this.token = init.token;
    this.fence = init.fence;
    this.#ops = init.ops;
    this.#onLost = init.onLost;
    this.#ttlMs = init.ttlMs;
    this.#deadline = init.sentAt + init.ttlMs - driftMs(init.ttlMs);
    this.#appliedSentAt = init.sentAt;
    this.#watchdog = init.watchdog;
    this.#observed = init.watchdog || init.onLost !== undefined;
    if (this.#observed) this.#armExpiry();
    if (this.#watchdog) this.#scheduleWatchdog(this.#watchdogInterval());
  }

  /** The lease length in ms (changed by `extend(ttlMs)`). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Aborts, with a `LockLostError` as `reason`, when the lease is lost. */
  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === undefined) {
      controller = new AbortController();
      this.#controller = controller;
      this.#noticeExpiry();
      if (this.#lostError) controller.abort(this.#lostError);
      else if (!this.#observed) {
        this.#observed = true;
        this.#armExpiry();
      }
    }
    return controller.signal;
  }

  /** True once the lease is known to be lost. */
  get lost(): boolean {
    this.#noticeExpiry();
    return this.#state === 'lost';
  }

  /** The `LockLostError` that ended the lease, if it was lost. */
  get lostError(): LockLostError | undefined {
    this.#noticeExpiry();
    return this.#lostError;
  }

  /** True once `release()` confirmed the release. */
  get released(): boolean {
    return this.#state === 'released';
  }

  /** Milliseconds this lease can still be relied on (a conservative local estimate); 0 when no longer held. */
  get remainingMs(): number {
    if (this.#state !== 'held') return 0;
    return Math.max(0, Math.floor(this.#deadline - performance.now()));
  }

  /** True while the lease is held and has time left. */
  get held(): boolean {
    return this.remainingMs > 0;
  }

  /**
   * Extends the lease to `ttlMs` from now (one round trip). Throws
   * `LOCK_LOST` when the lease is no longer ours, and passes backend errors
   * through (the lease stays valid until it runs out).
   */
  async extend(ttlMs: number = this.#ttlMs): Promise<void> {
    assertTtl(ttlMs, 'ttlMs', 'locks');
    if (this.#state === 'released') {
      throw new LockLostError(
        this.key,
        `${PKG} ${this.kind} "${this.key}": the lease was released`,
      );
    }
    if (this.#state === 'held' && (await this.#renew(ttlMs))) return;
    throw this.#lostError ?? new LockLostError(this.key, `${PKG} ${this.kind} "${this.key}" lost`);
  }

  /**
   * Releases the lease (one round trip; compare-and-delete by token, so it
   * never removes someone else's lock). Resolves true when released, false
   * when the lease had already been lost (then the lease is marked lost).
   * Calling it again returns the same result.
   */
  release(): Promise<boolean> {
    this.#releaseCalled = true;
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  /** Releases the lease at the end of an `await using` block; throws `LOCK_LOST` if it had been lost. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#releaseCalled) return;
    const released = await this.release();
    if (!released && this.#lostError) throw this.#lostError;
  }

  async #release(): Promise<boolean> {
    this.#noticeExpiry();
    this.#stopTimers();
    let released: boolean;
    try {
      released = await this.#ops.release();
    } catch (error) {
      // The backend did not answer: the lease runs out on its own. Allow another try.
      this.#releasing = undefined;
      throw error;
    }
    if (released) {
      if (this.#state === 'held') this.#state = 'released';
    } else {
      this.#lose('it had already run out or been taken when it was released');
    }
    return released;
  }

  #watchdogInterval(): number {
    return Math.max(1, Math.floor(this.#ttlMs / 3));
  }

  #scheduleWatchdog(delayMs: number): void {
    clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = setTimeout(() => {
      this.#watchdogTimer = undefined;
      void this.#tick();
    }, delayMs);
    this.#watchdogTimer.unref?.();
  }

  /** One watchdog step. Never rejects: every outcome is a reschedule or a loss. */
  async #tick(): Promise<void> {
    if (this.#state !== 'held') return;
    try {
      if ((await this.#renew(this.#ttlMs)) && this.#state === 'held') {
        this.#scheduleWatchdog(this.#watchdogInterval());
      }
    } catch {
      // Unreachable backend: try again soon; the expiry timer reports the loss if it lasts.
      if (this.#state === 'held') {
        this.#scheduleWatchdog(Math.max(5, Math.floor(this.#ttlMs / 10)));
      }
    }
  }

  /** One extension round trip; updates the deadline or marks the lease lost. */
  async #renew(ttlMs: number): Promise<boolean> {
    const sentAt = performance.now();
    if (sentAt >= this.#deadline) {
      this.#lose('it ran out before it was extended', this.#lastError);
      return false;
    }
    this.#extending++;
    try {
      const ok = await this.#ops.extend(ttlMs);
      if (this.#state !== 'held') return false;
      if (!ok) {
        this.#lose('an extension found it expired or held by another owner');
        return false;
      }
      if (sentAt >= this.#appliedSentAt) {
        this.#appliedSentAt = sentAt;
        this.#ttlMs = ttlMs;
        this.#deadline = sentAt + ttlMs - driftMs(ttlMs);
        this.#ranOutWhileExtending = false;
        this.#armExpiry();
      }
      return true;
    } catch (error) {
      this.#lastError = error;
      throw error;
    } finally {
      this.#extending--;
      if (
        this.#extending === 0 &&
        this.#ranOutWhileExtending &&
        this.#state === 'held' &&
        performance.now() >= this.#deadline
      ) {
        this.#lose('it ran out while the backend did not confirm an extension', this.#lastError);
      }
    }
  }

  /** Without an expiry timer: marks the lease lost if it ran out (what the timer would have done). */
  #noticeExpiry(): void {
    if (this.#observed || this.#state !== 'held') return;
    if (performance.now() < this.#deadline) return;
    if (this.#extending > 0) {
      this.#ranOutWhileExtending = true;
      return;
    }
    this.#lose(`it ran out after ${this.#ttlMs} ms without being extended`, this.#lastError);
  }

  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    if (this.#state !== 'held' || !this.#observed) return;
    const delay = Math.max(0, Math.ceil(this.#deadline - performance.now()));
    this.#expiryTimer = setTimeout(() => this.#onExpiry(), delay);
    this.#expiryTimer.unref?.();
  }

  #onExpiry(): void {
    this.#expiryTimer = undefined;
    if (this.#state !== 'held') return;
    if (performance.now() < this.#deadline) {
      this.#armExpiry();
      return;
    }
    // An extension in flight may still prove the lease never lapsed: let it decide.
    if (this.#extending > 0) {
      this.#ranOutWhileExtending = true;
      return;
    }
    this.#lose(
      this.#watchdog
        ? 'it ran out: the watchdog could not extend it in time'
        : `it ran out after ${this.#ttlMs} ms without being extended`,
      this.#lastError,
    );
  }

  #stopTimers(): void {
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#watchdogTimer);
    this.#expiryTimer = undefined;
    this.#watchdogTimer = undefined;
  }

  #lose(reason: string, cause?: unknown): void {
    if (this.#state !== 'held') return;
    this.#state = 'lost';
    this.#stopTimers();
    const error = new LockLostError(
      this.key,
      `${PKG} ${this.kind} "${this.key}" (fence ${this.fence}) lost: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
    this.#lostError = error;
    this.#controller?.abort(error);
    const onLost = this.#onLost;
    if (!onLost) return;
    try {
      const result = onLost(error);
      if (result && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(undefined, reportCallbackError);
      }
    } catch (callbackError) {
      reportCallbackError(callbackError);
    }
  }
}

/**
 * Runs `fn` while holding `lease`, then always releases it. Resolves with
 * fn's value only when the lease held throughout; rejects with `LOCK_LOST`
 * when it was lost (with fn's error as cause if fn threw too), with fn's
 * error when fn threw, and with the backend's error when the release could
 * not be confirmed (the lease then runs out on its own).
 */
export async function runWithLease<T>(
  lease: Lease,
  fn: (lease: Lease) => T | Promise<T>,
): Promise<T> {
  let value: T | undefined;
  let failed = false;
  let failure: unknown;
  try {
    value = await fn(lease);
  } catch (error) {
    failed = true;
    failure = error;
  }
  let releaseFailed = false;
  let releaseError: unknown;
  try {
    await lease.release();
  } catch (error) {
    releaseFailed = true;
    releaseError = error;
  }
  const lost = lease.lostError;
  if (lost) {
    if (!failed) throw lost;
    throw new LockLostError(lease.key, `${lost.message}; the critical section also threw`, {
      cause: failure,
    });
  }
  if (failed) throw failure;
  if (releaseFailed) throw releaseError;
  return value as T;
}
