import {
  type ExpiredListener,
  type MessageListener,
  matchGlob,
  type PatternListener,
  type Subscription,
} from '@redbrick/core';

/*
 * In-process pub/sub. Every subscribe / psubscribe / onExpired call is one
 * registration and counts like one Redis client in PUBLISH's reply.
 * Delivery is asynchronous and ordered: messages are queued and handed out
 * on the next turn of the event loop (setImmediate), so a listener never
 * runs inside a command or a script, and two listeners publishing to each
 * other cannot starve I/O.
 */

interface Registration {
  active: boolean;
}

interface ChannelRegistration extends Registration {
  readonly listener: MessageListener;
}

interface PatternRegistration extends Registration {
  readonly pattern: string;
  readonly listener: PatternListener;
}

interface ExpiredRegistration extends Registration {
  readonly listener: ExpiredListener;
}

const CHANNEL = 0;
const PATTERN = 1;
const EXPIRED = 2;
type Kind = typeof CHANNEL | typeof PATTERN | typeof EXPIRED;

/** Rethrows a listener's exception outside delivery, so one bad listener cannot stop the others. */
function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

export class PubSub {
  readonly #channels = new Map<string, Set<ChannelRegistration>>();
  readonly #patterns = new Map<string, Set<PatternRegistration>>();
  readonly #expired = new Set<ExpiredRegistration>();
  /** Flat queue: kind, registration, message (or key), channel — four slots per delivery. */
  #queue: unknown[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;

  /** True when someone listens for expired keys (the keyspace skips the event otherwise). */
  get watchingExpired(): boolean {
    return this.#expired.size > 0;
  }

  publish(channel: string, message: string): number {
    let receivers = 0;
    const subscribers = this.#channels.get(channel);
    if (subscribers !== undefined) {
      for (const registration of subscribers) {
        this.#enqueue(CHANNEL, registration, message, channel);
        receivers++;
      }
    }
    if (this.#patterns.size > 0) {
      for (const [pattern, registrations] of this.#patterns) {
        if (!matchGlob(pattern, channel)) continue;
        for (const registration of registrations) {
          this.#enqueue(PATTERN, registration, message, channel);
          receivers++;
        }
      }
    }
    return receivers;
  }

  expired(key: string): void {
    for (const registration of this.#expired) this.#enqueue(EXPIRED, registration, key, '');
  }

  subscribe(channel: string, listener: MessageListener): Subscription {
    const registration: ChannelRegistration = { active: true, listener };
    return this.#add(this.#channels, channel, registration);
  }

  psubscribe(pattern: string, listener: PatternListener): Subscription {
    const registration: PatternRegistration = { active: true, pattern, listener };
    return this.#add(this.#patterns, pattern, registration);
  }

  onExpired(listener: ExpiredListener): Subscription {
    const registration: ExpiredRegistration = { active: true, listener };
    this.#expired.add(registration);
    return {
      unsubscribe: async () => {
        registration.active = false;
        this.#expired.delete(registration);
      },
    };
  }

  #add<R extends Registration>(
    map: Map<string, Set<R>>,
    name: string,
    registration: R,
  ): Subscription {
    let set = map.get(name);
    if (set === undefined) {
      set = new Set();
      map.set(name, set);
    }
    set.add(registration);
    return {
      unsubscribe: async () => {
        if (!registration.active) return;
        registration.active = false;
        const current = map.get(name);
        if (current === undefined) return;
        current.delete(registration);
        if (current.size === 0) map.delete(name);
      },
    };
  }

  #enqueue(kind: Kind, registration: Registration, message: string, channel: string): void {
    this.#queue.push(kind, registration, message, channel);
    this.#scheduled ??= setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = undefined;
    const queue = this.#queue;
    this.#queue = [];
    for (let i = 0; i < queue.length; i += 4) {
      const registration = queue[i + 1] as Registration;
      // Unsubscribed after the message was published: Redis would not deliver it either.
      if (!registration.active) continue;
      const message = queue[i + 2] as string;
      try {
        switch (queue[i] as Kind) {
          case CHANNEL:
            (registration as ChannelRegistration).listener(message, queue[i + 3] as string);
            break;
          case PATTERN: {
            const r = registration as PatternRegistration;
            r.listener(message, queue[i + 3] as string, r.pattern);
            break;
          }
          case EXPIRED:
            (registration as ExpiredRegistration).listener(message);
            break;
        }
      } catch (error) {
        report(error);
      }
    }
  };

  /** Drops every registration and anything not yet delivered. */
  close(): void {
    for (const set of this.#channels.values()) for (const r of set) r.active = false;
    for (const set of this.#patterns.values()) for (const r of set) r.active = false;
    for (const r of this.#expired) r.active = false;
    this.#channels.clear();
    this.#patterns.clear();
    this.#expired.clear();
    this.#queue = [];
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
  }
}
