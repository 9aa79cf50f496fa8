import { randomBytes } from 'node:crypto';
import {
  type Backend,
  defineScript,
  json,
  key,
  type SyncCommands,
  tag,
  ValidationError,
} from '@redbrick/core';
import { assertId, PKG, resolveTtl } from './validate.js';

/** A stored session. */
export interface Session<T = unknown> {
  id: string;
  userId: string;
  data: T;
  /** Creation time, ms since the epoch (client clock). */
  createdAt: number;
}

export interface SessionsOptions {
  /** The backend (scope it per tenant with `backend.scoped()` if sessions are per tenant). */
  backend: Backend;
  /** Idle lifetime of a session in ms (sliding) or total lifetime (absolute). @default 86_400_000 (1 day) */
  ttlMs?: number;
  /** Every `get` pushes expiry back by `ttlMs` (sliding). `false`: expiry is fixed at creation/`touch`. @default true */
  sliding?: boolean;
}

/** Reads a session and, with ARGV[1] > 0, pushes its expiry back in the same step. */
export const sessionGetScript = defineScript<string | null>({
  name: 'tenant-repos.sessions.get',
  keys: 1,
  lua: `--[[ tenant-repos.sessions.get
  KEYS[1]  the session key
  ARGV[1]  sliding ttl in ms (0: leave the expiry alone)
  returns  the stored session, or nil ]]
local v = redis.call('get', KEYS[1])
if v and tonumber(ARGV[1]) > 0 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return v`,
  local: (r: SyncCommands, [k], [ttl]) => {
    const v = r.get(k as string);
    if (v !== null && Number(ttl) > 0) r.pexpire(k as string, Number(ttl));
    return v;
  },
  decode: (reply) => (typeof reply === 'string' ? reply : null),
});

/** Where sessions live. */
export const sessionKeys = {
  /** String: the JSON session, with its expiry as TTL. */
  session: (id: string) => key('sess', tag(id)),
  /** Set: ids of one user's sessions (stale ids are dropped when listed). */
  user: (userId: string) => key('sess', 'user', tag(userId)),
};

/** Server-side sessions with crypto-random ids and sliding or absolute expiry. */
export class Sessions<T = unknown> {
  readonly #backend: Backend;
  readonly #ttlMs: number;
  readonly #sliding: boolean;

  constructor(options: SessionsOptions) {
    this.#backend = options.backend;
    const ttl = resolveTtl(options.ttlMs, 86_400_000);
    if (ttl === 0) {
      throw new ValidationError(`[redbrick/${PKG}] Sessions need a positive ttlMs`, {
        field: 'ttlMs',
      });
    }
    this.#ttlMs = ttl;
    this.#sliding = options.sliding ?? true;
  }

  /** Creates a session and returns its id (32 random bytes, base64url). */
  async create(userId: string, data: T): Promise<string> {
    assertId(userId, 'userId');
    const id = randomBytes(32).toString('base64url');
    const session: Session<T> = { id, userId, data, createdAt: Date.now() };
    const stored = json.encode(session);
    const results = await this.#backend
      .pipeline()
      .add('set', sessionKeys.session(id), stored, { ttlMs: this.#ttlMs })
      .add('sadd', sessionKeys.user(userId), id)
      .exec();
    for (const r of results) if (!r.ok) throw r.error;
    return id;
  }

  /** The session, or null when it does not exist or expired. Sliding sessions are extended. */
  async get(id: string): Promise<Session<T> | null> {
    assertId(id, 'sessionId');
    const stored = await this.#backend.run(
      sessionGetScript,
      [sessionKeys.session(id)],
      [this.#sliding ? this.#ttlMs : 0],
    );
    return stored === null ? null : this.#decode(stored);
  }

  /** Merges `data` into the session data (objects only), keeping its expiry. False when gone. */
  async update(id: string, data: Partial<T>): Promise<boolean> {
    assertId(id, 'sessionId');
    const current = await this.#backend.get(sessionKeys.session(id));
    if (current === null) return false;
    const session = this.#decode(current);
    session.data = { ...(session.data as object), ...(data as object) } as T;
    return this.#backend.set(sessionKeys.session(id), json.encode(session), {
      xx: true,
      keepTtl: true,
    });
  }

  /** Pushes expiry back to `ttlMs` (default: the configured one) from now. False when gone. */
  async touch(id: string, ttlMs?: number): Promise<boolean> {
    assertId(id, 'sessionId');
    const ttl = resolveTtl(ttlMs, this.#ttlMs);
    if (ttl === 0) {
      throw new ValidationError(`[redbrick/${PKG}] touch: ttlMs must be positive`, {
        field: 'ttlMs',
      });
    }
    return this.#backend.pexpire(sessionKeys.session(id), ttl);
  }

  /** Deletes a session. True when it existed. */
  async destroy(id: string): Promise<boolean> {
    assertId(id, 'sessionId');
    const current = await this.#backend.get(sessionKeys.session(id));
    if (current === null) return false;
    const session = this.#decode(current);
    const deleted = await this.#backend.del(sessionKeys.session(id));
    await this.#backend.srem(sessionKeys.user(session.userId), id);
    return deleted === 1;
  }

  /** Live sessions of a user, oldest first. */
  async listForUser(userId: string): Promise<Array<Session<T>>> {
    assertId(userId, 'userId');
    const ids = await this.#backend.smembers(sessionKeys.user(userId));
    if (ids.length === 0) return [];
    const pipe = this.#backend.pipeline();
    for (const id of ids) pipe.add('get', sessionKeys.session(id));
    const results = await pipe.exec();
    const live: Array<Session<T>> = [];
    const stale: string[] = [];
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      if (typeof r.value === 'string') live.push(this.#decode(r.value));
      else stale.push(ids[i] as string);
    });
    if (stale.length > 0) await this.#backend.srem(sessionKeys.user(userId), ...stale);
    return live.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Deletes every session of a user; returns how many were live. */
  async revokeAllForUser(userId: string): Promise<number> {
    assertId(userId, 'userId');
    const ids = await this.#backend.smembers(sessionKeys.user(userId));
    if (ids.length === 0) return 0;
    const pipe = this.#backend.pipeline();
    for (const id of ids) pipe.add('del', sessionKeys.session(id));
    pipe.add('srem', sessionKeys.user(userId), ...ids);
    const results = await pipe.exec();
    let n = 0;
    for (const r of results.slice(0, ids.length)) {
      if (!r.ok) throw r.error;
      n += r.value as number;
    }
    return n;
  }

  #decode(stored: string): Session<T> {
    let value: unknown;
    try {
      value = json.decode(stored);
    } catch (cause) {
      throw new ValidationError(`[redbrick/${PKG}] stored session is not valid JSON`, {
        field: 'stored value',
        cause,
      });
    }
    const s = value as Partial<Session<T>> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s.id !== 'string' ||
      typeof s.userId !== 'string' ||
      typeof s.createdAt !== 'number'
    ) {
      throw new ValidationError(`[redbrick/${PKG}] stored session has an unexpected shape`, {
        field: 'stored value',
      });
    }
    return s as Session<T>;
  }
}
