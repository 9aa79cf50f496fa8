import { hostname } from 'node:os';
import { assertKey, assertTtl, type Backend, ValidationError } from '@redbrick/core';
import { LockLostError, LockNotAcquiredError, PKG } from './errors.js';
import { mutexKeys } from './key-layout.js';
import { mutexAcquireScript, mutexExtendScript, mutexReleaseScript } from './mutex.js';
import { checkName } from './options.js';
import { newToken } from './owner-token.js';
import { sleep } from './wakeups.js';

/** Options of {@link QuorumMutex}. */
export interface QuorumMutexOptions {
  /**
   * Independent backends (separate Redis servers, not replicas of one
   * another, not one Cluster). Use an odd number, 3 or 5.
   */
  backends: readonly Backend[];
  /** Lease length in ms. @default 30000 */
  ttlMs?: number;
  /** How long `acquire` keeps trying, in ms. @default 10000 */
  waitMs?: number;
  /** Delay between rounds, in ms (jittered between half and all of it). @default 200 */
  retryDelayMs?: number;
  /**
   * Assumed clock drift between the servers and us, as a fraction of the
   * TTL (plus 2 ms), subtracted from the validity.
   * @default 0.01
   */
  driftFactor?: number;
  /** Owner part of the tokens. @default `${hostname}:${pid}` */
  owner?: string;
}

/** A lease held on a majority of the backends. It has no fencing token: see the README. */
export interface QuorumLease extends AsyncDisposable {
  readonly key: string;
  readonly token: string;
  /** How many backends granted it. */
  readonly votes: number;
  /** Milliseconds the lease can still be relied on (validity minus elapsed time). */
  readonly remainingMs: number;
  /** Aborts when the validity runs out (unless extended first). */
  readonly signal: AbortSignal;
  /** Releases on every backend; true when a majority confirmed. */
  release(): Promise<boolean>;
  /** Extends on every backend; throws `LOCK_LOST` unless a majority confirms in time. */
  extend(ttlMs?: number): Promise<void>;
}

/**
 * Redlock-style mutex over several independent backends: a lease counts
 * when a majority grants it and the grant took less than its TTL (minus
 * drift). It survives the loss of a minority of servers. It does not give
 * fencing tokens (independent counters cannot be made strictly increasing
 * across different majorities) and its safety rests on bounded clock drift,
 * pauses and network delays — see "Quorum locks" in the README.
 */
export class QuorumMutex {
  readonly #backends: readonly Backend[];
  readonly #quorum: number;
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #retryDelayMs: number;
  readonly #driftFactor: number;
  readonly #owner: string;

  constructor(options: QuorumMutexOptions) {
    const backends = options?.backends;
    if (!Array.isArray(backends) || backends.length === 0) {
      throw new ValidationError(`${PKG} backends must be a non-empty array of Backends`, {
        field: 'backends',
      });
    }
    for (const b of backends) {
      if (typeof (b as Partial<Backend> | null)?.run !== 'function') {
        throw new ValidationError(`${PKG} every entry of backends must be a redbrick Backend`, {
          field: 'backends',
        });
      }
    }
    this.#backends = [...backends];
    this.#quorum = Math.floor(backends.length / 2) + 1;
    this.#ttlMs = options.ttlMs ?? 30_000;
    assertTtl(this.#ttlMs, 'ttlMs', 'locks');
    this.#waitMs = options.waitMs ?? 10_000;
    if (!Number.isSafeInteger(this.#waitMs) || this.#waitMs < 0) {
      throw new ValidationError(`${PKG} waitMs must be an integer ≥ 0`, { field: 'waitMs' });
    }
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    assertTtl(this.#retryDelayMs, 'retryDelayMs', 'locks');
    this.#driftFactor = options.driftFactor ?? 0.01;
    if (
      typeof this.#driftFactor !== 'number' ||
      !(this.#driftFactor >= 0 && this.#driftFactor < 0.5)
    ) {
      throw new ValidationError(`${PKG} driftFactor must be a number from 0 to 0.5`, {
        field: 'driftFactor',
      });
    }
    this.#owner = options.owner ?? `${hostname()}:${process.pid}`;
    assertKey(this.#owner, 'owner', 'locks');
  }

  /** How many backends must agree. */
  get quorum(): number {
    return this.#quorum;
  }

  /**
   * Acquires `key` on a majority, retrying until `waitMs`. Rejects with
   * `LOCK_NOT_ACQUIRED` when no round reached a majority in time, and with
   * the backends' error when fewer than a majority can be reached at all.
   */
  async acquire(
    key: string,
    options: { ttlMs?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<QuorumLease> {
    const name = checkName(key);
    const ttlMs = options.ttlMs ?? this.#ttlMs;
    assertTtl(ttlMs, 'ttlMs', 'locks');
    const waitMs = options.waitMs ?? this.#waitMs;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) {
      throw new ValidationError(`${PKG} waitMs must be an integer ≥ 0`, { field: 'waitMs' });
    }
    const { signal } = options;
    signal?.throwIfAborted();
    const keys = mutexKeys(name);
    const token = newToken(this.#owner);
    const started = performance.now();
    for (;;) {
      const sentAt = performance.now();
      const outcomes = await Promise.allSettled(
        this.#backends.map((b) =>
          b.run(mutexAcquireScript, [keys.lock, keys.fence], [token, ttlMs]),
        ),
      );
      const votes = outcomes.filter((o) => o.status === 'fulfilled' && o.value.acquired).length;
      const validity = ttlMs - (performance.now() - sentAt) - this.#drift(ttlMs);
      if (votes >= this.#quorum && validity > 0 && !signal?.aborted) {
        return this.#lease(name, token, votes, sentAt + ttlMs - this.#drift(ttlMs), ttlMs);
      }
      await this.#releaseAll(name, token);
      const errors = outcomes.filter((o) => o.status === 'rejected');
      if (this.#backends.length - errors.length < this.#quorum) {
        throw (errors[0] as PromiseRejectedResult).reason;
      }
      signal?.throwIfAborted();
      const left = started + waitMs - performance.now();
      if (left <= 0) {
        throw new LockNotAcquiredError(
          name,
          `${PKG} quorum mutex "${name}": no majority (${this.#quorum} of ${this.#backends.length}) granted it within ${waitMs} ms`,
          waitMs,
        );
      }
      const delay = this.#retryDelayMs / 2 + Math.random() * (this.#retryDelayMs / 2);
      await sleep(Math.min(delay, left), signal);
    }
  }

  #drift(ttlMs: number): number {
    return Math.floor(ttlMs * this.#driftFactor) + 2;
  }

  async #releaseAll(name: string, token: string): Promise<number> {
    const { lock } = mutexKeys(name);
    const outcomes = await Promise.allSettled(
      this.#backends.map((b) => b.run(mutexReleaseScript, [lock], [token])),
    );
    return outcomes.filter((o) => o.status === 'fulfilled' && o.value).length;
  }

  #lease(name: string, token: string, votes: number, deadline: number, ttl: number): QuorumLease {
    const controller = new AbortController();
    let validUntil = deadline;
    let ttlMs = ttl;
    let timer: NodeJS.Timeout | undefined;
    let released: Promise<boolean> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          if (!released) {
            controller.abort(
              new LockLostError(name, `${PKG} quorum mutex "${name}": the validity ran out`),
            );
          }
        },
        Math.max(0, validUntil - performance.now()),
      );
      timer.unref?.();
    };
    arm();
    const { lock } = mutexKeys(name);
    const lease: QuorumLease = {
      key: name,
      token,
      votes,
      get remainingMs() {
        return controller.signal.aborted
          ? 0
          : Math.max(0, Math.floor(validUntil - performance.now()));
      },
      signal: controller.signal,
      release: () => {
        clearTimeout(timer);
        released ??= this.#releaseAll(name, token).then((n) => n >= this.#quorum);
        return released;
      },
      extend: async (next = ttlMs) => {
        assertTtl(next, 'ttlMs', 'locks');
        const sentAt = performance.now();
        const outcomes = await Promise.allSettled(
          this.#backends.map((b) => b.run(mutexExtendScript, [lock], [token, next])),
        );
        const ok = outcomes.filter((o) => o.status === 'fulfilled' && o.value).length;
        const validity = next - (performance.now() - sentAt) - this.#drift(next);
        if (ok < this.#quorum || validity <= 0 || controller.signal.aborted) {
          const error = new LockLostError(
            name,
            `${PKG} quorum mutex "${name}": only ${ok} of ${this.#backends.length} backends extended it`,
          );
          clearTimeout(timer);
          if (!controller.signal.aborted) controller.abort(error);
          throw error;
        }
        ttlMs = next;
        validUntil = sentAt + next - this.#drift(next);
        arm();
      },
      [Symbol.asyncDispose]: async () => {
        if (!released) await lease.release();
      },
    };
    return lease;
  }
}
