import { randomUUID } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { Generic, Triggers } from '@redbrick/tenant-repos';
import type { EventBus } from './events.js';

const ACTION = 'reminder';

interface StoredReminder {
  user: string;
  text: string;
}

/**
 * Reminders: tenant-repos `Triggers` fire after N seconds (on the server
 * clock; any instance's poll loop may fire it, exactly once unless a
 * handler dies mid-way) and the reminder text lives in a tenant-scoped
 * `Generic` value. A fired reminder becomes a `reminder` event.
 */
export class Reminders {
  readonly #backend: Backend;
  readonly #triggers: Triggers;
  readonly #texts = new Map<string, Generic<StoredReminder>>();
  readonly #stop: () => void;

  constructor(backend: Backend, events: EventBus, pollMs = 200) {
    this.#backend = backend;
    this.#triggers = new Triggers({ backend, name: 'demo-reminders', pollMs });
    this.#stop = this.#triggers.onFire(async ({ id }) => {
      const [tenant, reminderId] = splitId(id);
      const texts = this.#store(tenant);
      const reminder = await texts.get(reminderId);
      if (!reminder) return;
      await events.emit(tenant, 'reminder', { user: reminder.user, text: reminder.text });
      await texts.delete(reminderId);
    });
  }

  #store(tenant: string): Generic<StoredReminder> {
    let store = this.#texts.get(tenant);
    if (!store) {
      store = new Generic<StoredReminder>({ backend: this.#backend, tenant });
      this.#texts.set(tenant, store);
    }
    return store;
  }

  /** Schedules a reminder; returns its id. */
  async schedule(tenant: string, user: string, text: string, inMs: number): Promise<string> {
    const id = randomUUID();
    // The text expires well after the trigger is due, in case it never fires.
    await this.#store(tenant).set(id, { user, text }, { ttlMs: inMs + 3_600_000 });
    await this.#triggers.schedule(ACTION, `${tenant}|${id}`, { inMs });
    return id;
  }

  async close(): Promise<void> {
    this.#stop();
    await this.#triggers.close();
  }
}

function splitId(id: string): [string, string] {
  const bar = id.indexOf('|');
  return [id.slice(0, bar), id.slice(bar + 1)];
}
