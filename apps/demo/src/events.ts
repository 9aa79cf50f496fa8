import { type Backend, key } from '@redbrick/core';
import { type Channel, type ChannelSubscription, createChannel } from '@redbrick/pubsub';
import { z } from 'zod';

const eventSchema = z.object({
  tenant: z.string(),
  type: z.string(),
  at: z.number(),
  data: z.record(z.string(), z.unknown()),
});

/** Something that happened for a tenant: job progress, a reminder, a checkout… */
export type DemoEvent = z.infer<typeof eventSchema>;

/** How many recent events are kept per tenant. */
const RECENT = 50;

/**
 * The demo's event bus: events go out on one pub/sub channel (so every
 * instance's SSE clients see every instance's events) and into a short
 * per-tenant list (so a reloaded page shows what happened recently).
 */
export class EventBus {
  readonly #backend: Backend;
  readonly #channel: Channel<DemoEvent>;
  readonly #listeners = new Set<(event: DemoEvent) => void>();
  #subscription: ChannelSubscription | undefined;

  private constructor(backend: Backend) {
    this.#backend = backend;
    this.#channel = createChannel({
      backend,
      name: 'demo-events',
      schema: eventSchema,
      onError: (error) => console.error('[demo] event listener failed', error),
    });
  }

  /** Opens the bus and subscribes to the channel (resolves once subscribed). */
  static async open(backend: Backend): Promise<EventBus> {
    const bus = new EventBus(backend);
    bus.#subscription = await bus.#channel.subscribe((event) => {
      for (const listener of bus.#listeners) listener(event);
    });
    return bus;
  }

  /** Records and publishes an event. */
  async emit(tenant: string, type: string, data: Record<string, unknown>): Promise<DemoEvent> {
    const event: DemoEvent = { tenant, type, at: Date.now(), data };
    const list = key('events', tenant);
    await this.#backend.lpush(list, JSON.stringify(event));
    await this.#backend.ltrim(list, 0, RECENT - 1);
    await this.#channel.publish(event);
    return event;
  }

  /** Calls `listener` for every event of every tenant; returns the unsubscribe function. */
  listen(listener: (event: DemoEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** How many listeners (open event streams of this instance) there are. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** The tenant's recent events, newest first. */
  async recent(tenant: string): Promise<DemoEvent[]> {
    const raw = await this.#backend.lrange(key('events', tenant), 0, RECENT - 1);
    const events: DemoEvent[] = [];
    for (const item of raw) {
      const parsed = eventSchema.safeParse(safeJson(item));
      if (parsed.success) events.push(parsed.data);
    }
    return events;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
