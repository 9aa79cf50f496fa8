import type { Backend } from '@redbrick/core';
import { fields, HandlerState, SharedState, Users } from '@redbrick/tenant-repos';

const profileFields = {
  displayName: fields.string,
  logins: fields.number,
  lastLoginAt: fields.date,
  documents: fields.number,
};

/** A user's profile, as stored by tenant-repos `Users`. */
export type Profile = {
  displayName?: string;
  logins?: number;
  lastLoginAt?: Date;
  documents?: number;
};

/** What the document summarizer remembers per user (tenant-repos `HandlerState`). */
export type SummarizerState = {
  documents: number;
  lastTitle: string;
  lastTokens: number;
  updatedAt: Date;
};

/** The handler whose state the demo keeps. */
export const SUMMARIZER = 'summarizer';

/** One tenant's repositories. */
interface TenantRepos {
  users: Users<typeof profileFields>;
  handlers: HandlerState<SummarizerState>;
  shared: SharedState;
}

/**
 * The tenant-repos side of the demo: profiles (`Users`), the summarizer's
 * per-user state (`HandlerState`) and named per-user states such as
 * preferences (`SharedState`), one set of repositories per tenant.
 */
export class Profiles {
  readonly #backend: Backend;
  readonly #repos = new Map<string, TenantRepos>();

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  #for(tenant: string): TenantRepos {
    let repos = this.#repos.get(tenant);
    if (!repos) {
      const backend = this.#backend;
      repos = {
        users: new Users({ backend, tenant, fields: profileFields }),
        handlers: new HandlerState<SummarizerState>({ backend, tenant }),
        shared: new SharedState({ backend, tenant }),
      };
      this.#repos.set(tenant, repos);
    }
    return repos;
  }

  /** Records a login: creates the profile on first login, counts logins. */
  async recordLogin(tenant: string, user: string, displayName: string | undefined): Promise<void> {
    const { users } = this.#for(tenant);
    const existing = await users.get(user);
    await users.upsert(user, {
      displayName: displayName ?? existing?.displayName ?? user,
      lastLoginAt: new Date(),
    });
    await users.incrementField(user, 'logins');
  }

  async profile(tenant: string, user: string): Promise<Profile | null> {
    return this.#for(tenant).users.get(user);
  }

  async updateProfile(tenant: string, user: string, displayName: string): Promise<Profile | null> {
    const { users } = this.#for(tenant);
    await users.updateField(user, 'displayName', displayName);
    return users.get(user);
  }

  /** Called by the document worker when a document is done. */
  async documentDone(tenant: string, user: string, title: string, tokens: number): Promise<void> {
    const repos = this.#for(tenant);
    const documents = (await repos.users.incrementField(user, 'documents')) ?? 0;
    await repos.handlers.upsert(user, SUMMARIZER, {
      documents,
      lastTitle: title,
      lastTokens: tokens,
      updatedAt: new Date(),
    });
  }

  async handlerState(tenant: string, user: string): Promise<SummarizerState | null> {
    return this.#for(tenant).handlers.get(user, SUMMARIZER);
  }

  async setSharedState(
    tenant: string,
    user: string,
    name: string,
    state: Record<string, unknown>,
  ): Promise<void> {
    await this.#for(tenant).shared.set(user, name, state);
  }

  /** Every named state of the user. */
  async sharedStates(
    tenant: string,
    user: string,
  ): Promise<Record<string, Record<string, unknown>>> {
    const { shared } = this.#for(tenant);
    const out: Record<string, Record<string, unknown>> = {};
    for (const name of await shared.listStates(user)) {
      const state = await shared.get(user, name);
      if (state) out[name] = state;
    }
    return out;
  }
}
