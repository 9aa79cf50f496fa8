import { type Backend, key } from '@redbrick/core';
import { fencedRead, fencedWrite, Mutex } from '@redbrick/locks';

/** The result of one checkout. */
export interface CheckoutResult {
  /** The tenant's checkout count after this one. */
  count: number;
  /** The fencing token of the lease that wrote it. */
  fence: number;
  /** How long the request waited for the lock, in ms. */
  waitedMs: number;
}

/**
 * A per-tenant checkout counter kept correct under concurrent clicks: a
 * read-modify-write (with a deliberate pause in the middle, where a race
 * would lose updates) inside a `Mutex`, written with the lease's fencing
 * token so a holder that overran its lease could not overwrite a newer count.
 */
export class Checkout {
  readonly #backend: Backend;
  readonly #mutex: Mutex;
  readonly #workMs: number;

  constructor(backend: Backend, workMs = 25) {
    this.#backend = backend;
    this.#mutex = new Mutex({ backend, ttlMs: 5_000, waitMs: 15_000 });
    this.#workMs = workMs;
  }

  async checkout(tenant: string): Promise<CheckoutResult> {
    const started = Date.now();
    const counter = key('checkout', tenant, 'count');
    return this.#mutex.withLock(key('checkout', tenant), async ({ fence }) => {
      const waitedMs = Date.now() - started;
      const current = await fencedRead(this.#backend, counter);
      const next = (current ? Number(current.value) : 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, this.#workMs));
      const { written } = await fencedWrite(this.#backend, counter, fence, String(next));
      if (!written) throw new Error('checkout lost its lease to a newer holder');
      return { count: next, fence, waitedMs };
    });
  }

  async count(tenant: string): Promise<number> {
    const current = await fencedRead(this.#backend, key('checkout', tenant, 'count'));
    return current ? Number(current.value) : 0;
  }
}
