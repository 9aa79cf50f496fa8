import cluster from 'node:cluster';
import {
  type Backend,
  type DataCommands,
  getScript,
  KEY_POSITIONS,
  type RUN_NOW,
  type RunsNow,
  runNowOf,
  type Script,
  ScriptError,
  type Subscription,
  ValidationError,
} from '@redbrick/core';
import { PKG } from '../errors.js';
import { createMemoryBackend } from '../memory-backend.js';
import { type Link, link, type SharedMemoryChannel } from './channel.js';
import { Outbox, type Reply, type Request, toWire, unpack } from './protocol.js';

/** Keys a scan step returns at most. */
const SCAN_BATCH = 512;

/** Every command a client may call by name (nothing else is reachable over the channel). */
const COMMANDS: ReadonlySet<string> = new Set([
  ...Object.keys(KEY_POSITIONS),
  'ping',
  'info',
  'time',
  'waitReplicas',
]);

export interface SharedMemoryHostOptions {
  /**
   * The backend the host serves. Usually a memory backend (the default);
   * any `Backend` works, but scripts run with their `local` body only on a
   * memory backend. The host closes it on `close()` only when it made it.
   * @default createMemoryBackend()
   */
  backend?: Backend;
  /**
   * Attach every `node:cluster` worker forked from now on (call in the
   * primary). Workers forked before the host was made are attached with
   * {@link SharedMemoryHost.attach}.
   * @default true in a cluster primary, false elsewhere
   */
  cluster?: boolean;
}

/** The process-wide side of the shared-memory backend. */
export interface SharedMemoryHost extends AsyncDisposable {
  /** The backend every attached client reads and writes. */
  readonly backend: Backend;
  /** How many channels are attached now. */
  readonly channels: number;
  /** How many subscriptions (channels, patterns, expiry listeners) clients hold now. */
  readonly subscriptions: number;
  /**
   * Serves the clients on the other end of `channel`: a forked `ChildProcess`
   * or cluster `Worker`, a `worker_threads` `Worker`, a `MessagePort`, or
   * `process` (when the host runs in a child serving its parent). Returns a
   * function that detaches it (dropping its subscriptions). When the other
   * side exits or disconnects it is detached on its own.
   */
  attach(channel: SharedMemoryChannel): () => void;
  /** Detaches every channel and closes the backend if the host created it. Idempotent. */
  close(): Promise<void>;
}

interface ClientState {
  readonly subscriptions: Map<number, Subscription>;
  readonly scans: Map<number, AsyncIterator<string>>;
}

/** What the host keeps per attached channel. */
class Attachment {
  readonly clients = new Map<string, ClientState>();
  #stop: () => void = () => undefined;
  readonly #outbox: Outbox;
  readonly #handle = (request: Request): void => this.host.handle(this, request);
  detached = false;

  constructor(
    readonly host: Host,
    readonly link: Link,
    readonly channel: SharedMemoryChannel,
  ) {
    this.#outbox = new Outbox((envelope) => this.detached || this.link.send(envelope));
  }

  start(): void {
    this.#stop = this.link.listen(
      (raw) => unpack(raw, this.#handle),
      () => this.detach(),
    );
  }

  client(id: string): ClientState {
    let state = this.clients.get(id);
    if (!state) {
      state = { subscriptions: new Map(), scans: new Map() };
      this.clients.set(id, state);
    }
    return state;
  }

  reply(message: Reply): void {
    if (!this.detached) this.#outbox.push(message);
  }

  /** Drops one client's subscriptions and scans. */
  drop(id: string): void {
    const state = this.clients.get(id);
    if (!state) return;
    this.clients.delete(id);
    for (const subscription of state.subscriptions.values()) void subscription.unsubscribe();
    for (const scan of state.scans.values()) void scan.return?.();
    this.host.subscriptionCount -= state.subscriptions.size;
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.#stop();
    for (const id of [...this.clients.keys()]) this.drop(id);
    this.host.attachments.delete(this);
  }
}

class Host implements SharedMemoryHost {
  readonly attachments = new Set<Attachment>();
  readonly backend: Backend;
  subscriptionCount = 0;
  readonly #owned: boolean;
  readonly #scripts = new Map<string, Script<unknown>>();
  #closed = false;
  #stopCluster: () => void = () => undefined;

  /** The backend's synchronous script runner (a memory backend has one). */
  readonly #runNow: RunsNow[typeof RUN_NOW] | undefined;

  constructor(options: SharedMemoryHostOptions) {
    this.#owned = options.backend === undefined;
    this.backend = options.backend ?? createMemoryBackend();
    this.#runNow = runNowOf(this.backend);
    if (options.cluster ?? cluster.isPrimary) {
      const onFork = (worker: SharedMemoryChannel): void => {
        this.attach(worker);
      };
      cluster.on('fork', onFork);
      this.#stopCluster = () => cluster.off('fork', onFork);
    }
  }

  get channels(): number {
    return this.attachments.size;
  }

  get subscriptions(): number {
    return this.subscriptionCount;
  }

  attach(channel: SharedMemoryChannel): () => void {
    if (this.#closed)
      throw new ValidationError(`${PKG} the shared-memory host is closed`, { field: 'host' });
    // Attaching a channel twice would run each of its requests twice.
    for (const attached of this.attachments) {
      if (attached.channel === channel) return () => attached.detach();
    }
    const attachment = new Attachment(this, link(channel, 'channel'), channel);
    this.attachments.add(attachment);
    attachment.start();
    return () => attachment.detach();
  }

  /** The script registered under `name` with an identity decode: the raw reply crosses the channel. */
  #script(name: string, sha1: string | undefined): Script<unknown> {
    const cached = this.#scripts.get(name);
    // No SHA1: this client had this name accepted before (so it is cached).
    if (cached && (sha1 === undefined || cached.sha1 === sha1)) return cached;
    const script = getScript(name);
    if (!script) {
      throw new ScriptError(
        name,
        `${PKG} script "${name}" is not known to the shared-memory host: the host process must import the package that defines it (e.g. import '@redbrick/ratelimit') before workers run it`,
      );
    }
    if (sha1 !== undefined && script.sha1 !== sha1) {
      throw new ScriptError(
        name,
        `${PKG} script "${name}" differs between the worker and the shared-memory host (different package versions?)`,
      );
    }
    const raw: Script<unknown> = Object.freeze({ ...script, decode: (reply: unknown) => reply });
    this.#scripts.set(name, raw);
    return raw;
  }

  handle(from: Attachment, request: Request): void {
    const { c, i } = request;
    // Answers with what `work` gives: when it settles if it is a promise, at once if it is a value
    // (a script run by an in-process backend's synchronous runner). Replies carry their request's
    // id, so their order does not matter.
    const settle = (work: () => unknown): void => {
      let result: unknown;
      try {
        result = work();
      } catch (error) {
        from.reply({ t: 'err', c, i, e: toWire(error) });
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (v: unknown) => from.reply({ t: 'ok', c, i, v }),
          (error: unknown) => from.reply({ t: 'err', c, i, e: toWire(error) }),
        );
      } else {
        from.reply({ t: 'ok', c, i, v: result });
      }
    };
    const backend = this.backend;
    switch (request.t) {
      case 'call': {
        const method = request.m;
        if (!COMMANDS.has(method)) {
          settle(() =>
            Promise.reject(
              new ValidationError(`${PKG} unknown command "${method}"`, { field: 'command' }),
            ),
          );
          return;
        }
        settle(() =>
          (backend[method as keyof DataCommands] as (...a: unknown[]) => Promise<unknown>)(
            ...request.a,
          ),
        );
        return;
      }
      case 'run': {
        const runNow = this.#runNow;
        settle(() => {
          const script = this.#script(request.n, request.h);
          return runNow === undefined
            ? backend.run(script, request.k, request.a)
            : runNow(script, request.k, request.a);
        });
        return;
      }
      case 'pipe': {
        const pipeline = backend.pipeline();
        try {
          for (const [command, args] of request.q) {
            if (!COMMANDS.has(command))
              throw new ValidationError(`${PKG} unknown command "${command}"`, {
                field: 'command',
              });
            (pipeline.add as (c: string, ...a: unknown[]) => unknown)(command, ...args);
          }
        } catch (error) {
          from.reply({ t: 'err', c, i, e: toWire(error) });
          return;
        }
        pipeline.exec().then(
          (results) =>
            from.reply({
              t: 'pipe',
              c,
              i,
              r: results.map((r) =>
                r.ok ? { ok: true, v: r.value } : { ok: false, e: toWire(r.error) },
              ),
            }),
          (error: unknown) => from.reply({ t: 'err', c, i, e: toWire(error) }),
        );
        return;
      }
      case 'sub': {
        const { s, k, n } = request;
        const state = from.client(c);
        settle(async () => {
          const subscription =
            k === 'channel'
              ? await backend.subscribe(n, (m, ch) => from.reply({ t: 'msg', c, s, m, ch }))
              : k === 'pattern'
                ? await backend.psubscribe(n, (m, ch, p) =>
                    from.reply({ t: 'msg', c, s, m, ch, p }),
                  )
                : await backend.onExpired((key) => from.reply({ t: 'exp', c, s, k: key }));
          if (from.detached || from.clients.get(c) !== state) {
            await subscription.unsubscribe();
          } else {
            state.subscriptions.set(s, subscription);
            this.subscriptionCount++;
          }
          return null;
        });
        return;
      }
      case 'unsub': {
        const state = from.clients.get(c);
        const subscription = state?.subscriptions.get(request.s);
        if (state && subscription) {
          state.subscriptions.delete(request.s);
          this.subscriptionCount--;
        }
        settle(async () => {
          await subscription?.unsubscribe();
          return null;
        });
        return;
      }
      case 'scan': {
        const state = from.client(c);
        settle(async () => {
          const iterator = backend
            .scan(request.o as Parameters<Backend['scan']>[0])
            [Symbol.asyncIterator]();
          state.scans.set(request.s, iterator);
          return this.#step(state, request.s);
        });
        return;
      }
      case 'scanNext': {
        const state = from.client(c);
        settle(() => this.#step(state, request.s));
        return;
      }
      case 'scanEnd': {
        const iterator = from.clients.get(c)?.scans.get(request.s);
        from.clients.get(c)?.scans.delete(request.s);
        settle(async () => {
          await iterator?.return?.();
          return null;
        });
        return;
      }
      case 'bye':
        from.drop(c);
        from.reply({ t: 'ok', c, i, v: null });
        return;
    }
  }

  /** The next batch of a scan: `[keys, done]`. */
  async #step(state: ClientState, id: number): Promise<[string[], boolean]> {
    const iterator = state.scans.get(id);
    if (!iterator) return [[], true];
    const keys: string[] = [];
    try {
      while (keys.length < SCAN_BATCH) {
        const next = await iterator.next();
        if (next.done) {
          state.scans.delete(id);
          return [keys, true];
        }
        keys.push(next.value);
      }
    } catch (error) {
      state.scans.delete(id);
      throw error;
    }
    return [keys, false];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopCluster();
    for (const attachment of [...this.attachments]) attachment.detach();
    if (this.#owned) await this.backend.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the host of a shared-memory backend: the one process (or thread)
 * that owns the data — a `node:cluster` primary, or the main thread of an
 * app with `worker_threads`. Clients made with `createSharedMemoryBackend`
 * in the workers forward every call to it; scripts run here with their
 * `local` body, one at a time, so they stay atomic across processes. The
 * host must have imported every package whose scripts the workers run.
 *
 * @example
 * import cluster from 'node:cluster';
 * import '@redbrick/ratelimit'; // registers its scripts in the host
 * if (cluster.isPrimary) {
 *   createSharedMemoryHost(); // attaches every cluster worker forked from now on
 *   cluster.fork();
 * }
 */
export function createSharedMemoryHost(options: SharedMemoryHostOptions = {}): SharedMemoryHost {
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(`${PKG} createSharedMemoryHost options must be an object`, {
      field: 'options',
    });
  }
  if (
    options.backend !== undefined &&
    (options.backend === null || typeof options.backend.run !== 'function')
  ) {
    throw new ValidationError(`${PKG} backend must be a redbrick Backend`, { field: 'backend' });
  }
  if (options.cluster !== undefined && typeof options.cluster !== 'boolean') {
    throw new ValidationError(`${PKG} cluster must be a boolean`, { field: 'cluster' });
  }
  return new Host(options);
}
