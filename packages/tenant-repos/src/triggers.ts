import {
  type Backend,
  defineScript,
  key,
  type SyncCommands,
  tag,
  ValidationError,
} from '@redbrick/core';
import { assertCount, assertId, PKG } from './validate.js';

/** One fired trigger. */
export interface FiredTrigger {
  action: string;
  id: string;
}

export type TriggerHandler = (trigger: FiredTrigger) => void | Promise<void>;

export interface TriggersOptions {
  backend: Backend;
  /** Name of the trigger set: the hash tag of its keys. @default 'default' */
  name?: string;
  /** How often a worker looks for due triggers, in ms. @default 200 */
  pollMs?: number;
  /** How long a claimed trigger is reserved for its worker before another may fire it, in ms. @default 30_000 */
  leaseMs?: number;
  /** Most triggers claimed per poll. @default 100 */
  batchSize?: number;
  /**
   * Called with a handler's error (the trigger fires again after `leaseMs`),
   * and with a failed poll (trigger `{ action: '(poll)', id: '' }`) — once per
   * outage: while the backend stays unreachable the worker keeps polling
   * every `pollMs` without reporting each failure again.
   * @default a one-line `console.error` (handler errors with their stack)
   */
  onError?: (error: unknown, trigger: FiredTrigger) => void;
  /** Called once when polling works again after failed polls, with how many failed. @default console.error line */
  onRecover?: (failedPolls: number) => void;
}

/** The trigger a failed poll is reported with. */
const POLL = '(poll)';

function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/** Runs a user callback; one that throws must not stop the poll loop. */
function report(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    process.emitWarning(
      `[redbrick/tenant-repos] an onError/onRecover callback threw: ${String(error)}`,
    );
  }
}

/** Keys of a trigger set named `name`. */
export function triggerKeys(name: string) {
  const t = tag(name);
  return {
    /** Sorted set: member `[action, id]` (JSON) → due time, ms (server clock). */
    due: key('trg', t, 'due'),
    /** Sorted set: claimed members → when their lease ends, ms (server clock). */
    claimed: key('trg', t, 'claimed'),
    /** Set: members scheduled for one id (for `cancelAllFor`; stale members are harmless). */
    forId: (id: string) => key('trg', t, 'id', id),
  };
}

function serverNow(r: SyncCommands): number {
  return Math.floor(r.time());
}

/** Schedules (or reschedules) a trigger at server time + ARGV[2]. */
export const triggerScheduleScript = defineScript<number>({
  name: 'tenant-repos.triggers.schedule',
  keys: 3,
  lua: `--[[ tenant-repos.triggers.schedule
  KEYS[1]  due zset   KEYS[2] claimed zset   KEYS[3] the id's member set
  ARGV[1]  member   ARGV[2] ms from now
  returns  1 ]]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('sadd', KEYS[3], ARGV[1])
return 1`,
  local: (r: SyncCommands, [due, claimed, forId], [member, inMs]) => {
    const now = serverNow(r);
    r.zadd(due as string, { member: member as string, score: now + Number(inMs) });
    r.zrem(claimed as string, member as string);
    r.sadd(forId as string, member as string);
    return 1;
  },
  decode: (reply) => Number(reply),
});

/** Removes one trigger, pending or claimed. */
export const triggerCancelScript = defineScript<number>({
  name: 'tenant-repos.triggers.cancel',
  keys: 3,
  lua: `--[[ tenant-repos.triggers.cancel
  KEYS[1]  due zset   KEYS[2] claimed zset   KEYS[3] the id's member set
  ARGV[1]  member
  returns  1 when it was pending, else 0 ]]
local n = redis.call('zrem', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('srem', KEYS[3], ARGV[1])
return n`,
  local: (r: SyncCommands, [due, claimed, forId], [member]) => {
    const n = r.zrem(due as string, member as string);
    r.zrem(claimed as string, member as string);
    r.srem(forId as string, member as string);
    return n;
  },
  decode: (reply) => Number(reply),
});

/** Removes every trigger of one id. */
export const triggerCancelAllScript = defineScript<number>({
  name: 'tenant-repos.triggers.cancel-all',
  keys: 3,
  lua: `--[[ tenant-repos.triggers.cancel-all
  KEYS[1]  due zset   KEYS[2] claimed zset   KEYS[3] the id's member set
  returns  how many were pending ]]
-- one ZREM per key (not one per member), so the outcome never depends on SMEMBERS order
local members = redis.call('smembers', KEYS[3])
local n = 0
if #members > 0 then
  n = redis.call('zrem', KEYS[1], unpack(members))
  redis.call('zrem', KEYS[2], unpack(members))
end
redis.call('del', KEYS[3])
return n`,
  local: (r: SyncCommands, [due, claimed, forId]) => {
    const members = r.smembers(forId as string);
    let n = 0;
    if (members.length > 0) {
      n = r.zrem(due as string, ...members);
      r.zrem(claimed as string, ...members);
    }
    r.del(forId as string);
    return n;
  },
  decode: (reply) => Number(reply),
});

/**
 * Claims due triggers for one worker: moves them from `due` to `claimed` with a lease, and
 * re-claims triggers whose lease ran out (their worker died before acknowledging).
 */
export const triggerClaimScript = defineScript<string[]>({
  name: 'tenant-repos.triggers.claim',
  keys: 2,
  lua: `--[[ tenant-repos.triggers.claim
  KEYS[1]  due zset   KEYS[2] claimed zset
  ARGV[1]  most to claim   ARGV[2] lease ms
  returns  the claimed members ]]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local out = redis.call('zrangebyscore', KEYS[2], '-inf', now, 'LIMIT', 0, max)
local fresh = {}
if max - #out > 0 then
  fresh = redis.call('zrangebyscore', KEYS[1], '-inf', now, 'LIMIT', 0, max - #out)
end
for _, m in ipairs(fresh) do
  redis.call('zrem', KEYS[1], m)
  out[#out + 1] = m
end
for _, m in ipairs(out) do redis.call('zadd', KEYS[2], now + tonumber(ARGV[2]), m) end
return out`,
  local: (r: SyncCommands, [due, claimed], [max, leaseMs]) => {
    const now = serverNow(r);
    const limit = Number(max);
    const out = r.zrangeByScore(claimed as string, '-inf', now, { offset: 0, count: limit });
    const fresh =
      limit - out.length > 0
        ? r.zrangeByScore(due as string, '-inf', now, { offset: 0, count: limit - out.length })
        : [];
    for (const m of fresh) {
      r.zrem(due as string, m);
      out.push(m);
    }
    for (const m of out) r.zadd(claimed as string, { member: m, score: now + Number(leaseMs) });
    return out;
  },
  decode: (reply) => (Array.isArray(reply) ? reply.map(String) : []),
});

/**
 * Delayed triggers with exactly-once firing across workers: due times live in a sorted set
 * (server clock), workers claim due triggers atomically, so each fires on one worker only —
 * also when every worker was down when it fell due. Delivery does not rely on keyspace
 * notifications; workers poll every `pollMs`. A worker that dies after claiming leaves the
 * trigger to be re-fired after `leaseMs` (at-least-once in that case).
 */
export class Triggers {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof triggerKeys>;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #batchSize: number;
  readonly #onError: (error: unknown, trigger: FiredTrigger) => void;
  readonly #onRecover: (failedPolls: number) => void;
  /** Polls failed in a row (0 while polling works). */
  #failedPolls = 0;
  readonly #handlers = new Set<TriggerHandler>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: TriggersOptions) {
    const name = options.name ?? 'default';
    assertId(name, 'name');
    this.#pollMs = options.pollMs ?? 200;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#batchSize = options.batchSize ?? 100;
    assertCount(this.#pollMs, 'pollMs', 1);
    assertCount(this.#leaseMs, 'leaseMs', 1);
    assertCount(this.#batchSize, 'batchSize', 1);
    this.#backend = options.backend;
    this.#keys = triggerKeys(name);
    const label = `[redbrick/tenant-repos] triggers "${name}"`;
    this.#onError =
      options.onError ??
      ((error, trigger) => {
        if (trigger.action === POLL) {
          console.error(
            `${label}: polling failed (${describeError(error)}); retrying every ${this.#pollMs} ms, reported again once it recovers`,
          );
        } else {
          console.error(`${label}: trigger ${trigger.action}/${trigger.id} failed`, error);
        }
      });
    this.#onRecover =
      options.onRecover ??
      ((failed) => console.error(`${label}: polling works again after ${failed} failed poll(s)`));
  }

  /** Schedules `action` for `id` to fire in `inMs` ms (server clock). Rescheduling replaces the due time. */
  async schedule(action: string, id: string, options: { inMs: number }): Promise<void> {
    const member = this.#member(action, id);
    assertCount(options?.inMs, 'inMs');
    await this.#backend.run(
      triggerScheduleScript,
      [this.#keys.due, this.#keys.claimed, this.#keys.forId(id)],
      [member, options.inMs],
    );
  }

  /** Cancels one trigger. True when it was pending. */
  async cancel(action: string, id: string): Promise<boolean> {
    const member = this.#member(action, id);
    return (
      (await this.#backend.run(
        triggerCancelScript,
        [this.#keys.due, this.#keys.claimed, this.#keys.forId(id)],
        [member],
      )) === 1
    );
  }

  /** Cancels every trigger of `id`; returns how many were pending. */
  async cancelAllFor(id: string): Promise<number> {
    assertId(id, 'id');
    return this.#backend.run(triggerCancelAllScript, [
      this.#keys.due,
      this.#keys.claimed,
      this.#keys.forId(id),
    ]);
  }

  /** Runs `handler` for every trigger this worker claims. Starts polling. Returns an unsubscribe function. */
  onFire(handler: TriggerHandler): () => void {
    if (typeof handler !== 'function') {
      throw new ValidationError(`[redbrick/${PKG}] onFire: handler must be a function`, {
        field: 'handler',
      });
    }
    this.#handlers.add(handler);
    this.#schedulePoll(0);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /** Claims and fires the due triggers once (what the poll loop does); returns how many fired. */
  async poll(): Promise<number> {
    // Without a handler a claimed trigger would be dropped: leave it for a worker that has one.
    if (this.#handlers.size === 0) return 0;
    const members = await this.#backend.run(
      triggerClaimScript,
      [this.#keys.due, this.#keys.claimed],
      [this.#batchSize, this.#leaseMs],
    );
    let fired = 0;
    for (const member of members) {
      const [action, id] = JSON.parse(member) as [string, string];
      const trigger = { action, id };
      try {
        for (const handler of this.#handlers) await handler(trigger);
        await this.#backend.zrem(this.#keys.claimed, member);
        fired++;
      } catch (error) {
        report(() => this.#onError(error, trigger));
      }
    }
    return fired;
  }

  /** Stops polling and waits for the current poll. The backend stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedulePoll(delayMs: number): void {
    if (this.#closed || this.#running || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.poll()
        .then(
          (n) => {
            if (this.#failedPolls > 0) {
              const failed = this.#failedPolls;
              this.#failedPolls = 0;
              report(() => this.#onRecover(failed));
            }
            return n;
          },
          (error: unknown) => {
            // One report per outage, not one per poll.
            if (this.#failedPolls++ === 0)
              report(() => this.#onError(error, { action: POLL, id: '' }));
            return 0;
          },
        )
        .then((n) => {
          this.#running = undefined;
          // A full batch: more may be due, look again at once.
          if (this.#handlers.size > 0) this.#schedulePoll(n >= this.#batchSize ? 0 : this.#pollMs);
        });
    }, delayMs);
  }

  #member(action: string, id: string): string {
    assertId(action, 'action');
    assertId(id, 'id');
    return JSON.stringify([action, id]);
  }
}
