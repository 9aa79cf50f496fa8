import { randomBytes } from 'node:crypto';
import {
  type Backend,
  ConflictError,
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
  /**
   * Idle lifetime of a session in ms (with `sliding`) or its lifetime from creation / the last
   * `touch` (without). A positive integer. @default 86_400_000 (1 day)
   */
  ttlMs?: number;
  /** Every `get` pushes expiry back to `ttlMs` from now (sliding). `false`: only `touch` extends. @default true */
  sliding?: boolean;
  /**
   * Hard cap in ms on a session's whole life, counted from its creation on the server clock:
   * neither a sliding `get` nor `touch` ever extends it past creation + `absoluteTtlMs`.
   * `null`, `0` or absent: no cap. @default null
   */
  absoluteTtlMs?: number | null;
}

/** Where sessions live. */
export const sessionKeys = {
  /** Hash: `s` → the session as JSON, `d` → absolute deadline in server ms (`0`: none); expiry as TTL. */
  session: (id: string) => key('sess', tag(id)),
  /** Set: ids of one user's sessions (stale ids are dropped when listed). */
  user: (userId: string) => key('sess', 'user', tag(userId)),
};

function serverNow(r: SyncCommands): number {
  return Math.floor(r.time());
}

const NOW_LUA = `local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Stores a new session with its TTL and absolute deadline. */
export const sessionCreateScript = defineScript<number>({
  name: 'tenant-repos.sessions.create',
  keys: 1,
  lua: `--[[ tenant-repos.sessions.create
  KEYS[1]  the session key (hash)
  ARGV[1]  the session JSON   ARGV[2] ttl in ms (> 0)   ARGV[3] absolute cap in ms (0: none)
  returns  1 ]]
${NOW_LUA}
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local deadline = 0
if cap > 0 then
  deadline = now + cap
  if cap < ttl then ttl = cap end
end
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], 's', ARGV[1], 'd', deadline)
redis.call('pexpire', KEYS[1], ttl)
return 1`,
  local: (r: SyncCommands, [k], [stored, ttlArg, capArg]) => {
    const now = serverNow(r);
    let ttl = Number(ttlArg);
    const cap = Number(capArg);
    let deadline = 0;
    if (cap > 0) {
      deadline = now + cap;
      if (cap < ttl) ttl = cap;
    }
    r.del(k as string);
    r.hset(k as string, { s: stored as string, d: String(deadline) });
    r.pexpire(k as string, ttl);
    return 1;
  },
  decode: Number,
});

/**
 * Reads a session and, with ARGV[1] > 0, sets its expiry to ARGV[1] ms from now — but never
 * past its absolute deadline — in the same step.
 */
export const sessionGetScript = defineScript<string | null>({
  name: 'tenant-repos.sessions.get',
  keys: 1,
  lua: `--[[ tenant-repos.sessions.get
  KEYS[1]  the session key (hash)
  ARGV[1]  ttl in ms to extend to (0: leave the expiry alone)
  returns  the session JSON, or nil when there is none (or its deadline passed) ]]
local v = redis.call('hget', KEYS[1], 's')
if not v then return nil end
local ttl = tonumber(ARGV[1])
local deadline = tonumber(redis.call('hget', KEYS[1], 'd') or '0') or 0
if deadline > 0 then
  ${NOW_LUA.replace('\n', '\n  ')}
  local left = deadline - now
  if left <= 0 then
    redis.call('del', KEYS[1])
    return nil
  end
  if ttl > left then ttl = left end
end
if ttl > 0 then redis.call('pexpire', KEYS[1], ttl) end
return v`,
  local: (r: SyncCommands, [k], [ttlArg]) => {
    const v = r.hget(k as string, 's');
    if (v === null) return null;
    let ttl = Number(ttlArg);
    const deadline = Number(r.hget(k as string, 'd') ?? '0') || 0;
    if (deadline > 0) {
      const left = deadline - serverNow(r);
      if (left <= 0) {
        r.del(k as string);
        return null;
      }
      if (ttl > left) ttl = left;
    }
    if (ttl > 0) r.pexpire(k as string, ttl);
    return v;
  },
  decode: (reply) => (typeof reply === 'string' ? reply : null),
});

/** Replaces the session JSON if it still is what the caller read (keeps expiry and deadline). */
export const sessionUpdateScript = defineScript<number>({
  name: 'tenant-repos.sessions.update',
  keys: 1,
  lua: `--[[ tenant-repos.sessions.update
  KEYS[1]  the session key (hash)
  ARGV[1]  the JSON read before   ARGV[2]  the new JSON
  returns  1 written, 0 the session is gone, -1 it changed since it was read (retry) ]]
local v = redis.call('hget', KEYS[1], 's')
if not v then return 0 end
if v ~= ARGV[1] then return -1 end
redis.call('hset', KEYS[1], 's', ARGV[2])
return 1`,
  local: (r: SyncCommands, [k], [read, next]) => {
    const v = r.hget(k as string, 's');
    if (v === null) return 0;
    if (v !== read) return -1;
    r.hset(k as string, { s: next as string });
    return 1;
  },
  decode: Number,
});

const MAX_ATTEMPTS = 50;

/** Server-side sessions with crypto-random ids, sliding or fixed expiry and an optional absolute cap. */
export class Sessions<T = unknown> {
  readonly #backend: Backend;
  readonly #ttlMs: number;
  readonly #sliding: boolean;
  readonly #absoluteTtlMs: number;

  constructor(options: SessionsOptions) {
    this.#backend = options.backend;
    const ttl = resolveTtl(options.ttlMs, 86_400_000);
    if (ttl === 0) {
      throw new ValidationError(
        `[redbrick/${PKG}] Sessions need a positive ttlMs (a positive integer number of milliseconds)`,
        { field: 'ttlMs' },
      );
    }
    this.#ttlMs = ttl;
    this.#sliding = options.sliding ?? true;
    if (typeof this.#sliding !== 'boolean') {
      throw new ValidationError(`[redbrick/${PKG}] sliding must be a boolean`, {
        field: 'sliding',
      });
    }
    this.#absoluteTtlMs = resolveTtl(options.absoluteTtlMs, 0, 'absoluteTtlMs');
  }

  /**
   * Creates a session and returns its id (32 random bytes, base64url). The id is added to the
   * user's set before the session is written, so every session can be listed and revoked.
   */
  async create(userId: string, data: T): Promise<string> {
    assertId(userId, 'userId');
    const id = randomBytes(32).toString('base64url');
    const session: Session<T> = { id, userId, data, createdAt: Date.now() };
    const stored = json.encode(session);
    await this.#backend.sadd(sessionKeys.user(userId), id);
    await this.#backend.run(
      sessionCreateScript,
      [sessionKeys.session(id)],
      [stored, this.#ttlMs, this.#absoluteTtlMs],
    );
    return id;
  }

  /** The session, or null when it does not exist or expired. Sliding sessions are extended (up to the cap). */
  async get(id: string): Promise<Session<T> | null> {
    assertId(id, 'sessionId');
    const stored = await this.#backend.run(
      sessionGetScript,
      [sessionKeys.session(id)],
      [this.#sliding ? this.#ttlMs : 0],
    );
    return stored === null ? null : this.#decode(stored);
  }

  /**
   * Shallow-merges `data` into the session data, keeping its expiry. False when gone.
   * Concurrent updates never lose each other's fields: the write only lands if the session
   * is still what was read, otherwise it is re-read and merged again.
   */
  async update(id: string, data: Partial<T>): Promise<boolean> {
    assertId(id, 'sessionId');
    const k = sessionKeys.session(id);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.#backend.hget(k, 's');
      if (current === null) return false;
      const session = this.#decode(current);
      session.data = { ...(session.data as object), ...(data as object) } as T;
      const written = await this.#backend.run(
        sessionUpdateScript,
        [k],
        [current, json.encode(session)],
      );
      if (written >= 0) return written === 1;
    }
    throw new ConflictError(
      `[redbrick/${PKG}] update: session ${id} kept changing during ${MAX_ATTEMPTS} attempts; nothing was written`,
    );
  }

  /**
   * Sets expiry to `ttlMs` (default: the configured one) from now, never past the absolute
   * cap. False when gone.
   */
  async touch(id: string, ttlMs?: number): Promise<boolean> {
    assertId(id, 'sessionId');
    const ttl = resolveTtl(ttlMs, this.#ttlMs);
    if (ttl === 0) {
      throw new ValidationError(
        `[redbrick/${PKG}] touch: ttlMs must be a positive integer number of milliseconds`,
        { field: 'ttlMs' },
      );
    }
    const stored = await this.#backend.run(sessionGetScript, [sessionKeys.session(id)], [ttl]);
    return stored !== null;
  }

  /** Deletes a session. True when it existed. */
  async destroy(id: string): Promise<boolean> {
    assertId(id, 'sessionId');
    const current = await this.#backend.hget(sessionKeys.session(id), 's');
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
    for (const id of ids) pipe.add('hget', sessionKeys.session(id), 's');
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
