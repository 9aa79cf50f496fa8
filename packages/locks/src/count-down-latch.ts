import {
  assertInteger,
  assertTtl,
  type Backend,
  defineScript,
  RedbrickError,
  ValidationError,
} from '@redbrick/core';
import { PKG } from './errors.js';
import { latchKeys } from './key-layout.js';
import { checkName, type WakeupMode } from './options.js';
import { LUA_NOTIFY } from './waiting.js';
import { pollingWaiter, WAKE_ALL, type Waiter, Wakeups } from './wakeups.js';

export const latchCountDownScript = defineScript<number | null>({
  name: 'locks.latch.count-down',
  keys: 1,
  lua: `--[[ locks.latch.count-down
  KEYS[1]  the latch (string: the remaining count)
  returns  the remaining count, never below 0; the count-down that reaches 0 publishes
           '*' on KEYS[1]..':open'. -1 when the latch does not exist (expired or never made) ]]
${LUA_NOTIFY}
if not redis.call('get', KEYS[1]) then return -1 end
local n = redis.call('decr', KEYS[1])
if n < 0 then
  redis.call('incr', KEYS[1])
  return 0
end
if n == 0 then notify(KEYS[1] .. ':open', '*') end
return n`,
  local(r, [latch = '']) {
    if (r.get(latch) === null) return -1;
    const n = r.incrBy(latch, -1);
    if (n < 0) {
      r.incrBy(latch, 1);
      return 0;
    }
    if (n === 0) r.publish(`${latch}:open`, WAKE_ALL);
    return n;
  },
  decode: (reply) => (typeof reply === 'number' && reply >= 0 ? reply : null),
});

/** Options of {@link CountDownLatch}. */
export interface CountDownLatchOptions {
  backend: Backend;
  /** How long a latch lives after `create`, in ms. @default 86400000 (a day) */
  ttlMs?: number;
  /** How long `wait` waits by default, in ms (`Infinity`: until the signal aborts). @default 10000 */
  waitMs?: number;
  /** `'pubsub'`: the count-down that reaches zero wakes waiters at once. @default 'pubsub' */
  wakeups?: WakeupMode;
  /** How often a waiter checks anyway, in ms (jittered). @default 1000 */
  maxRetryDelayMs?: number;
}

/**
 * A distributed count-down latch: `create` it with a count, workers call
 * `countDown`, and `wait` resolves once the count reaches zero. A latch
 * that does not exist (not yet created, or expired) is closed.
 *
 * @example
 * const latch = new CountDownLatch({ backend });
 * await latch.create('import:42', 3);
 * // … three workers each call latch.countDown('import:42') …
 * await latch.wait('import:42', { waitMs: 60_000 });
 */
export class CountDownLatch {
  readonly #backend: Backend;
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #pollMs: number;
  readonly #wakeups: Wakeups | undefined;

  constructor(options: CountDownLatchOptions) {
    if (typeof options?.backend?.run !== 'function') {
      throw new ValidationError(`${PKG} backend must be a redbrick Backend`, { field: 'backend' });
    }
    this.#backend = options.backend;
    this.#ttlMs = options.ttlMs ?? 86_400_000;
    assertTtl(this.#ttlMs, 'ttlMs', 'locks');
    this.#waitMs = options.waitMs ?? 10_000;
    if (this.#waitMs !== Number.POSITIVE_INFINITY) {
      assertInteger(this.#waitMs, 'waitMs', { min: 0, pkg: 'locks' });
    }
    this.#pollMs = options.maxRetryDelayMs ?? 1000;
    assertInteger(this.#pollMs, 'maxRetryDelayMs', { min: 1, pkg: 'locks' });
    const wakeups = options.wakeups ?? 'pubsub';
    if (wakeups !== 'pubsub' && wakeups !== 'poll') {
      throw new ValidationError(`${PKG} wakeups must be 'pubsub' or 'poll'`, { field: 'wakeups' });
    }
    this.#wakeups = wakeups === 'pubsub' ? new Wakeups(this.#backend) : undefined;
  }

  /**
   * Creates the latch `key` with `count` (≥ 1) unless it exists. True when
   * created, false when a latch of that name already exists.
   */
  create(key: string, count: number, options: { ttlMs?: number } = {}): Promise<boolean> {
    try {
      const { count: countKey } = latchKeys(checkName(key));
      assertInteger(count, 'count', { min: 1, pkg: 'locks' });
      const ttlMs = options.ttlMs ?? this.#ttlMs;
      assertTtl(ttlMs, 'ttlMs', 'locks');
      return this.#backend.set(countKey, String(count), { nx: true, ttlMs });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Counts down by one (one round trip). Resolves with the remaining count
   * (0: open; never below 0), or null when the latch does not exist.
   */
  countDown(key: string): Promise<number | null> {
    try {
      const { count } = latchKeys(checkName(key));
      return this.#backend.run(latchCountDownScript, [count]);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The remaining count, or null when the latch does not exist. */
  async count(key: string): Promise<number | null> {
    const value = await this.#backend.get(latchKeys(checkName(key)).count);
    return value === null ? null : Math.max(0, Number(value));
  }

  /** Removes the latch. True when it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.#backend.del(latchKeys(checkName(key)).count)) === 1;
  }

  /**
   * Resolves once the count of `key` is zero. Rejects with a `TIMEOUT`
   * RedbrickError after `waitMs`, with `signal.reason` on abort, and with
   * the backend's error when it cannot be reached.
   */
  async wait(key: string, options: { waitMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const name = checkName(key);
    const waitMs = options.waitMs ?? this.#waitMs;
    if (waitMs !== Number.POSITIVE_INFINITY) {
      assertInteger(waitMs, 'waitMs', { min: 0, pkg: 'locks' });
    }
    const { signal } = options;
    signal?.throwIfAborted();
    const keys = latchKeys(name);
    const started = performance.now();
    const isOpen = async () => (await this.count(name)) === 0;
    if (await isOpen()) return;
    let waiter: Waiter = pollingWaiter;
    try {
      if (this.#wakeups) waiter = await this.#wakeups.join(keys.channel, '');
      let tryNow = this.#wakeups !== undefined;
      for (;;) {
        if (!tryNow) {
          const left = started + waitMs - performance.now();
          if (left <= 0) {
            throw new RedbrickError(
              'TIMEOUT',
              `${PKG} latch "${name}" did not open within ${waitMs} ms`,
            );
          }
          await waiter.sleep(
            Math.min(this.#pollMs / 2 + Math.random() * (this.#pollMs / 2), left),
            signal,
          );
        }
        waiter.beginAttempt();
        if (await isOpen()) return;
        signal?.throwIfAborted();
        tryNow = waiter.missedWake();
      }
    } finally {
      waiter.leave();
    }
  }
}
