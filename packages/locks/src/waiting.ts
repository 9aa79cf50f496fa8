import type { ResolvedServiceOptions } from './options.js';
import { pollingWaiter, type Waiter, type Wakeups } from './wakeups.js';

/** The outcome of one acquire round trip. */
export type Attempt =
  | { acquired: true; fence: number; sentAt: number }
  | {
      acquired: false;
      /** When the blocking lease runs out, in ms; negative when unknown. */
      retryAfterMs: number;
    };

/** What the wait loop needs from a service for one acquisition. */
export interface WaitPlan {
  /** The owner token / lease id of this acquisition. */
  token: string;
  /** The channel the release scripts publish on (unprefixed). */
  channel: string;
  waitMs: number;
  signal: AbortSignal | undefined;
  service: ResolvedServiceOptions;
  /** Undefined in polling mode. */
  wakeups: Wakeups | undefined;
  /** One round trip. `waiting`: the caller will wait (fair mode queues, a writer announces itself). */
  attempt(waiting: boolean): Promise<Attempt>;
  /** Gives back a lease won after the caller stopped wanting it (abort). */
  abandon(): Promise<unknown>;
  /** Gives up a place in line (fair queue, writer intent) when the caller stops waiting. */
  leave?(): Promise<unknown>;
}

function ignore(): void {}

/** Equal jitter: between half and all of `ms`, so waiters that failed together retry apart. */
function jitter(ms: number): number {
  return ms / 2 + Math.random() * (ms / 2);
}

function nextDelay(service: ResolvedServiceOptions, polling: boolean, attempt: number): number {
  if (!polling) return jitter(service.maxRetryDelayMs);
  const base = Math.min(service.maxRetryDelayMs, service.retryDelayMs * 2 ** Math.min(attempt, 30));
  return jitter(base);
}

/**
 * Tries once, then (unless `waitMs` is 0) waits for a release message or
 * the next poll and tries again, until acquired, `waitMs` passes (resolves
 * null), the signal aborts (rejects with its reason) or an attempt fails
 * (rejects with the backend's error at once: no retrying into a dead server).
 */
export async function acquireOrWait(
  plan: WaitPlan,
): Promise<(Attempt & { acquired: true }) | null> {
  const { signal } = plan;
  signal?.throwIfAborted();
  const started = performance.now();
  if (plan.waitMs === 0 && signal === undefined) {
    // tryAcquire: one attempt, nothing to wait for or abort
    const once = await plan.attempt(false);
    return once.acquired ? once : null;
  }
  let result = await plan.attempt(plan.waitMs > 0);
  if (signal?.aborted) {
    if (result.acquired) void plan.abandon().catch(ignore);
    else if (plan.waitMs > 0) void plan.leave?.().catch(ignore);
    throw signal.reason;
  }
  if (result.acquired) return result;
  if (plan.waitMs === 0) return null;

  const deadline = started + plan.waitMs;
  const polling = plan.wakeups === undefined;
  let waiter: Waiter = pollingWaiter;
  let acquired = false;
  try {
    if (plan.wakeups) waiter = await plan.wakeups.join(plan.channel, plan.token);
    // Subscribed only now: a release may have been published before, so look once more at once.
    let tryNow = !polling;
    let retryAfterMs = result.retryAfterMs;
    let sleeps = 0;
    for (;;) {
      if (!tryNow) {
        const left = deadline - performance.now();
        if (left <= 0) return null;
        const untilExpiry = retryAfterMs >= 0 ? retryAfterMs + 1 : Number.POSITIVE_INFINITY;
        await waiter.sleep(
          Math.min(nextDelay(plan.service, polling, sleeps++), untilExpiry, left),
          signal,
        );
      }
      waiter.beginAttempt();
      result = await plan.attempt(true);
      if (signal?.aborted) {
        if (result.acquired) void plan.abandon().catch(ignore);
        throw signal.reason;
      }
      if (result.acquired) {
        acquired = true;
        return result;
      }
      retryAfterMs = result.retryAfterMs;
      // A wake-up arrived while the attempt was in flight: its answer may be stale.
      tryNow = waiter.missedWake() && performance.now() < deadline;
    }
  } finally {
    waiter.leave();
    if (!acquired) void plan.leave?.().catch(ignore);
  }
}

/** What an acquire script replies, decoded: `{1, fence}` or `{0, ms until the blocker runs out}`. */
export interface AcquireReply {
  acquired: boolean;
  /** The fence when acquired; otherwise ms until the blocking lease runs out (negative: unknown). */
  value: number;
}

/** Decodes `{1, n}` / `{0, n}` script replies. */
export function decodeAcquireReply(reply: unknown): AcquireReply {
  const [flag, value] = Array.isArray(reply) ? (reply as unknown[]) : [];
  return { acquired: flag === 1, value: typeof value === 'number' ? value : -1 };
}

/** Lua prelude: `now`, the server time in whole ms (scripts never trust the caller's clock). */
export const LUA_NOW_MS = `local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua prelude: `notify(channel, message)` publishes the way `backend.subscribe`
 * listens everywhere: classic PUBLISH (one server; pattern subscribers) and
 * sharded SPUBLISH (what the redis backend subscribes with on Cluster; the
 * channel shares the keys' hash tag, so it is local to the script's slot).
 * `pcall` keeps servers without SPUBLISH (Redis < 7) working.
 */
export const LUA_NOTIFY = `local function notify(channel, message)
  redis.call('publish', channel, message)
  redis.pcall('spublish', channel, message)
end`;
