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

/** Adapts a channel; throws a ValidationError naming `field` for anything else. */
export function link(channel: unknown, field: string): Link {
  if (!isEmitter(channel)) {
    throw new ValidationError(
      `${PKG} ${field} must be a ChildProcess, cluster Worker, process, worker_threads Worker or MessagePort`,
      { field },
    );
  }
  const emitter = channel;
  const gone = ['exit', 'disconnect', 'close'];
  const listen = (onMessage: (raw: unknown) => void, onGone: () => void): (() => void) => {
    const message: Handler = (raw) => onMessage(raw);
    let fired = false;
    const lost: Handler = () => {
      if (fired) return;
      fired = true;
      onGone();
    };
    emitter.on('message', message);
    for (const event of gone) emitter.on(event, lost);
    return () => {
      emitter.off('message', message);
      for (const event of gone) emitter.off(event, lost);
    };
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
