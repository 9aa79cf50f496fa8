import { ValidationError } from '@redbrick/core';
import { PKG } from '../errors.js';
import type { Envelope } from './protocol.js';

type Handler = (...args: unknown[]) => void;

/** The event-emitter side every IPC endpoint of Node has. */
interface Emitter {
  on(event: string, listener: Handler): unknown;
  off(event: string, listener: Handler): unknown;
}

/**
 * An IPC endpoint the shared-memory backend can talk over: a forked child
 * process or `node:cluster` worker (`send`), the current process in a
 * child or cluster worker (`process`), a `worker_threads` `Worker`, its
 * `parentPort`, or any `MessagePort`.
 */
export type SharedMemoryChannel =
  | {
      send(message: unknown, callback?: (error: Error | null) => void): unknown;
      on(event: string, listener: Handler): unknown;
      off(event: string, listener: Handler): unknown;
    }
  | {
      postMessage(message: unknown): void;
      on(event: string, listener: Handler): unknown;
      off(event: string, listener: Handler): unknown;
    };

/** A channel reduced to what the host and the client use. */
export interface Link {
  send(envelope: Envelope): boolean;
  /** Listens for messages and for the other side going away; returns a function that stops both. */
  listen(onMessage: (raw: unknown) => void, onGone: () => void): () => void;
}

function isEmitter(value: unknown): value is Emitter {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Emitter).on === 'function' &&
    typeof (value as Emitter).off === 'function'
  );
}

/** What one client (or host attachment) listens for on a channel. */
interface Subscriber {
  message(raw: unknown): void;
  gone(): void;
}

/** The events after which the other side of a channel is gone. */
const GONE = ['exit', 'disconnect', 'close'] as const;

/**
 * The one set of listeners on a channel, however many clients use it: a
 * listener per client would pass Node's default of 10 listeners per event
 * (MaxListenersExceededWarning on the ChildProcess, cluster Worker or
 * `process`) as soon as an app or a test file opens an 11th backend on it.
 */
class Hub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #message: Handler = (raw) => {
    for (const subscriber of this.#subscribers) subscriber.message(raw);
  };
  readonly #gone: Handler = () => {
    for (const subscriber of this.#subscribers) subscriber.gone();
  };

  constructor(readonly emitter: Emitter) {
    emitter.on('message', this.#message);
    for (const event of GONE) emitter.on(event, this.#gone);
  }

  add(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => {
      if (!this.#subscribers.delete(subscriber) || this.#subscribers.size > 0) return;
      // The last one out removes the listeners (which also un-refs `process`' channel).
      if (hubs.get(this.emitter) === this) hubs.delete(this.emitter);
      this.emitter.off('message', this.#message);
      for (const event of GONE) this.emitter.off(event, this.#gone);
    };
  }
}

const hubs = new WeakMap<Emitter, Hub>();

/** Adapts a channel; throws a ValidationError naming `field` for anything else. */
export function link(channel: unknown, field: string): Link {
  if (!isEmitter(channel)) {
    throw new ValidationError(
      `${PKG} ${field} must be a ChildProcess, cluster Worker, process, worker_threads Worker or MessagePort`,
      { field },
    );
  }
  const emitter = channel;
  const listen = (onMessage: (raw: unknown) => void, onGone: () => void): (() => void) => {
    let fired = false;
    let hub = hubs.get(emitter);
    if (hub === undefined) {
      hub = new Hub(emitter);
      hubs.set(emitter, hub);
    }
    return hub.add({
      message: onMessage,
      gone: () => {
        if (fired) return;
        fired = true;
        onGone();
      },
    });
  };
  const port = channel as { postMessage?: unknown; send?: unknown; connected?: unknown };
  if (typeof port.postMessage === 'function') {
    const post = port.postMessage as (message: unknown) => void;
    return {
      send(envelope) {
        try {
          post.call(channel, envelope);
          return true;
        } catch {
          return false;
        }
      },
      listen,
    };
  }
  if (typeof port.send === 'function') {
    const send = port.send as (
      message: unknown,
      callback: (error: Error | null) => void,
    ) => unknown;
    const ignore = (): void => undefined;
    return {
      send(envelope) {
        if (port.connected === false) return false;
        try {
          send.call(channel, envelope, ignore);
          return true;
        } catch {
          return false;
        }
      },
      listen,
    };
  }
  throw new ValidationError(
    `${PKG} ${field} has no IPC channel (a process must be forked with an 'ipc' stdio entry, e.g. by child_process.fork or node:cluster)`,
    { field },
  );
}
