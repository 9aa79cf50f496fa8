import type { Backend, Subscription } from '@redbrick/core';

/*
 * Release messages, as published by the release scripts:
 *   ''       one holder left: wake one local waiter (each process wakes one,
 *            so a release costs about one attempt per waiting process, not
 *            one per waiter)
 *   '*'      several waiters may proceed (a writer left, a latch opened): wake all
 *   <token>  fair mode: only the waiter with this token may proceed
 */
export const WAKE_ONE = '';
export const WAKE_ALL = '*';

/** A waiter's handle on its channel: sleep until woken, a timeout, or an abort. */
export interface Waiter {
  /** Call before each attempt: wake-ups that arrive while it is in flight are remembered. */
  beginAttempt(): void;
  /**
   * After a failed attempt: true when a wake-up meant for this waiter (or a
   * "wake all", or a "wake one" nobody was asleep for) arrived while the
   * attempt was in flight — its answer may be stale, so try again at once.
   */
  missedWake(): boolean;
  /** Resolves after `ms` or when woken; rejects with `signal.reason` on abort. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
  /** Leaves the channel (the last waiter unsubscribes). Idempotent. */
  leave(): void;
}

function abortable(
  ms: number,
  signal: AbortSignal | undefined,
  register: (wake: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
    const timer = setTimeout(() => finish(), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    register(() => finish());
  });
}

/** A plain timer sleep that an AbortSignal cuts short (polling mode). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return abortable(ms, signal, () => undefined);
}

class ChannelWaiter implements Waiter {
  readonly token: string;
  readonly #channel: Channel;
  #wake: (() => void) | undefined;
  #left = false;
  #allMark = 0;
  #missed = false;

  constructor(channel: Channel, token: string) {
    this.#channel = channel;
    this.token = token;
  }

  get sleeping(): boolean {
    return this.#wake !== undefined;
  }

  /** Wakes the waiter if it sleeps; otherwise remembers the wake-up for its attempt in flight. */
  wake(): boolean {
    const wake = this.#wake;
    this.#wake = undefined;
    if (wake) wake();
    else this.#missed = true;
    return wake !== undefined;
  }

  beginAttempt(): void {
    this.#allMark = this.#channel.wakeAllCount;
    this.#missed = false;
  }

  missedWake(): boolean {
    if (this.#channel.wakeAllCount !== this.#allMark || this.#missed) {
      this.#missed = false;
      return true;
    }
    return this.#channel.takeSpareWake();
  }

  async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    this.#missed = false;
    try {
      await abortable(ms, signal, (wake) => {
        this.#wake = wake;
      });
    } finally {
      this.#wake = undefined;
    }
  }

  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#wake = undefined;
    this.#channel.remove(this);
  }
}

class Channel {
  /** How many "wake all" messages arrived. */
  wakeAllCount = 0;
  /** "Wake one" messages that found nobody asleep: owed to an attempt in flight. */
  #spareWakes = 0;
  readonly ready: Promise<void>;
  readonly #waiters = new Set<ChannelWaiter>();
  readonly #subscription: Promise<Subscription | undefined>;
  readonly #onEmpty: () => void;

  constructor(backend: Backend, name: string, onEmpty: () => void) {
    this.#onEmpty = onEmpty;
    // A channel that cannot be subscribed falls back to polling: attempts report real errors.
    this.#subscription = backend
      .subscribe(name, (message) => this.#deliver(message))
      .then(
        (s) => s,
        () => undefined,
      );
    this.ready = this.#subscription.then(() => undefined);
  }

  add(token: string): ChannelWaiter {
    const waiter = new ChannelWaiter(this, token);
    this.#waiters.add(waiter);
    return waiter;
  }

  remove(waiter: ChannelWaiter): void {
    if (!this.#waiters.delete(waiter) || this.#waiters.size > 0) return;
    this.#onEmpty();
    void this.#subscription.then((s) => s?.unsubscribe()).catch(() => undefined);
  }

  takeSpareWake(): boolean {
    if (this.#spareWakes === 0) return false;
    this.#spareWakes--;
    return true;
  }

  #deliver(message: string): void {
    if (message === WAKE_ALL) {
      this.wakeAllCount++;
      for (const waiter of this.#waiters) waiter.wake();
      return;
    }
    if (message !== WAKE_ONE) {
      for (const waiter of this.#waiters) {
        if (waiter.token === message) {
          waiter.wake();
          return;
        }
      }
      return;
    }
    // Oldest sleeping waiter first (local arrival order); if all are mid-attempt, one retries.
    for (const waiter of this.#waiters) {
      if (waiter.sleeping && waiter.wake()) return;
    }
    this.#spareWakes = Math.min(this.#spareWakes + 1, this.#waiters.size);
  }
}

/**
 * The pub/sub side of waiting: one subscription per busy channel per
 * service instance, shared by all its local waiters, dropped when the last
 * waiter leaves.
 */
export class Wakeups {
  readonly #backend: Backend;
  readonly #channels = new Map<string, Channel>();

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Joins `channel` as the waiter `token`; resolves once the subscription is active (or failed: then polling). */
  async join(channel: string, token: string): Promise<Waiter> {
    let ch = this.#channels.get(channel);
    if (!ch) {
      const created: Channel = new Channel(this.#backend, channel, () => {
        if (this.#channels.get(channel) === created) this.#channels.delete(channel);
      });
      ch = created;
      this.#channels.set(channel, created);
    }
    const waiter = ch.add(token);
    await ch.ready;
    return waiter;
  }
}

/** A waiter that only polls (wakeups: 'poll', or no pub/sub). */
export const pollingWaiter: Waiter = {
  beginAttempt: () => undefined,
  missedWake: () => false,
  sleep,
  leave: () => undefined,
};
