import { BackendUnavailableError, ClosedError } from '@redbrick/core';
import type { Op } from './commands.js';
import type { Client } from './connection.js';
import { isUnavailable, PKG } from './errors.js';
import { type Caller, sendOp } from './scripts.js';

/**
 * A small pool of extra connections for blocking reads (XREADGROUP BLOCK),
 * so a consumer waiting for entries never stalls the commands behind it on
 * the main connection. At most `max` connections; further calls wait for
 * one to come free. Every call has a deadline (BLOCK + command timeout): a
 * call past it fails with BackendUnavailableError and its connection is
 * dropped (it may still be blocked on the server).
 */
export class BlockingPool {
  readonly #create: () => Promise<Client>;
  readonly #max: number;
  readonly #idle: Client[] = [];
  readonly #all = new Set<Client>();
  #waiters: Array<(client: Client | Error) => void> = [];
  #creating = 0;
  #closed = false;

  constructor(create: () => Promise<Client>, max: number) {
    this.#create = create;
    this.#max = Math.max(1, max);
  }

  /** Connections currently open. */
  get size(): number {
    return this.#all.size;
  }

  run<T>(op: Op<T>, deadlineMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError(`${PKG} the backend is closed`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let current: Client | undefined;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        if (current) this.#discard(current);
        reject(
          new BackendUnavailableError(
            `${PKG} ${op.method}: no reply within ${deadlineMs} ms (block time + command timeout)${current ? '' : ' — every blocking connection stayed busy'}`,
          ),
        );
      }, deadlineMs);
      this.#acquire().then(
        (client) => {
          if (settled) {
            this.#release(client);
            return;
          }
          current = client;
          sendOp(client as unknown as Caller, op).then(
            (value) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              this.#release(client);
              resolve(value);
            },
            (error: unknown) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              const message = error instanceof Error ? error.message : String(error);
              if (isUnavailable(message)) this.#discard(client);
              else this.#release(client);
              reject(error);
            },
          );
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #acquire(): Promise<Client> {
    while (this.#idle.length > 0) {
      const client = this.#idle.pop() as Client;
      if (client.status === 'ready') return Promise.resolve(client);
      this.#discard(client);
    }
    if (this.#all.size + this.#creating < this.#max) return this.#open();
    return new Promise((resolve, reject) => {
      this.#waiters.push((client) => (client instanceof Error ? reject(client) : resolve(client)));
    });
  }

  async #open(): Promise<Client> {
    this.#creating++;
    try {
      const client = await this.#create();
      if (this.#closed) {
        client.disconnect();
        throw new ClosedError(`${PKG} the backend is closed`);
      }
      this.#all.add(client);
      return client;
    } finally {
      this.#creating--;
    }
  }

  #release(client: Client): void {
    if (this.#closed || !this.#all.has(client)) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter(client);
    else this.#idle.push(client);
  }

  #discard(client: Client): void {
    this.#all.delete(client);
    const i = this.#idle.indexOf(client);
    if (i !== -1) this.#idle.splice(i, 1);
    client.disconnect();
    // Capacity came free: open a connection for the next waiter.
    const waiter = this.#waiters.shift();
    if (waiter && !this.#closed) {
      this.#open().then(waiter, (error: unknown) =>
        waiter(error instanceof Error ? error : new Error(String(error))),
      );
    }
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters) waiter(new ClosedError(`${PKG} the backend is closed`));
    this.#waiters = [];
    for (const client of this.#all) client.disconnect();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
