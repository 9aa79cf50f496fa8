import type { Backend } from '@redbrick/core';
import { type RateLimitDecision, RateLimiter, rateLimitHeaders } from '@redbrick/ratelimit';

/** Limits of the API, per sliding window. */
export interface RateLimitSettings {
  /** Requests per user per window on the API routes. @default 30 */
  perUser: number;
  /** Requests per tenant (all its users) per window on the API routes. @default 200 */
  perTenant: number;
  /** Requests per client address per window before logging in. @default 30 */
  perAddress: number;
  /** Dashboard polling (stats, events) per user per window. @default 120 */
  pollPerUser: number;
  /** The window, in ms. @default 10_000 */
  windowMs: number;
}

/** The defaults of {@link RateLimitSettings}. */
export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  perUser: 30,
  perTenant: 200,
  perAddress: 30,
  pollPerUser: 120,
  windowMs: 10_000,
};

/** Who a request is limited as. */
export type Requester =
  | { kind: 'user'; tenant: string; user: string }
  | { kind: 'address'; address: string };

/** The outcome for one request. */
export interface LimitOutcome {
  allowed: boolean;
  /** `RateLimit-Policy`, `RateLimit`, and `Retry-After` on a denial. */
  headers: Record<string, string>;
  /** The rule that denied (`user`, `tenant`, `address`, `poll`). */
  deniedBy: string | undefined;
  retryAfterMs: number;
}

/** Per-second tallies of decisions, for the dashboard chart. */
export interface TallyPoint {
  /** Unix second. */
  t: number;
  allowed: number;
  denied: number;
}

const TIMELINE_SECONDS = 60;

/**
 * The API's rate limits: a per-user and a per-tenant sliding window (both
 * must allow; a user allowed but a tenant denied gets the unit back), a
 * per-address window before login, and a separate budget for dashboard
 * polling. Decisions are tallied per tenant in this process for the chart.
 */
export class RequestLimits {
  readonly settings: RateLimitSettings;
  readonly #user: RateLimiter;
  readonly #tenant: RateLimiter;
  readonly #address: RateLimiter;
  readonly #poll: RateLimiter;
  readonly #tallies = new Map<string, Map<number, TallyPoint>>();
  readonly #totals = new Map<string, { allowed: number; denied: number }>();

  constructor(backend: Backend, settings: Partial<RateLimitSettings> = {}) {
    this.settings = { ...DEFAULT_RATE_LIMITS, ...settings };
    const { windowMs } = this.settings;
    const rule = (name: string, limit: number) => ({
      backend,
      name: `demo-${name}`,
      limits: [{ name, algorithm: 'sliding-window' as const, limit, windowMs }],
    });
    this.#user = new RateLimiter(rule('user', this.settings.perUser));
    this.#tenant = new RateLimiter(rule('tenant', this.settings.perTenant));
    this.#address = new RateLimiter(rule('address', this.settings.perAddress));
    this.#poll = new RateLimiter(rule('poll', this.settings.pollPerUser));
  }

  /** Decides an API request. */
  async check(who: Requester): Promise<LimitOutcome> {
    if (who.kind === 'address') return outcome(await this.#address.check(who.address));
    const userKey = `${who.tenant}/${who.user}`;
    const user = await this.#user.check(userKey);
    if (!user.allowed) return this.#tally(who.tenant, outcome(user));
    const tenant = await this.#tenant.check(who.tenant);
    if (!tenant.allowed) {
      await this.#user.reward(userKey);
      return this.#tally(who.tenant, outcome(tenant));
    }
    // Report the rule with the least room left.
    const tighter = tenant.remaining < user.remaining ? tenant : user;
    return this.#tally(who.tenant, outcome(tighter));
  }

  /** Decides a dashboard poll (stats, event stream): a separate, larger budget. */
  async checkPoll(tenant: string, user: string): Promise<LimitOutcome> {
    return outcome(await this.#poll.check(`${tenant}/${user}`));
  }

  /** The tenant's decisions per second over the last minute, oldest first, and totals. */
  tally(
    tenant: string,
    now = Date.now(),
  ): {
    allowed: number;
    denied: number;
    timeline: TallyPoint[];
  } {
    const points = this.#tallies.get(tenant);
    const current = Math.floor(now / 1000);
    const timeline: TallyPoint[] = [];
    for (let t = current - TIMELINE_SECONDS + 1; t <= current; t++) {
      timeline.push(points?.get(t) ?? { t, allowed: 0, denied: 0 });
    }
    const totals = this.#totals.get(tenant) ?? { allowed: 0, denied: 0 };
    return { ...totals, timeline };
  }

  /** Decisions of this process across tenants, for `/metrics`. */
  totals(): { allowed: number; denied: number } {
    let allowed = 0;
    let denied = 0;
    for (const t of this.#totals.values()) {
      allowed += t.allowed;
      denied += t.denied;
    }
    return { allowed, denied };
  }

  #tally(tenant: string, result: LimitOutcome): LimitOutcome {
    const t = Math.floor(Date.now() / 1000);
    let points = this.#tallies.get(tenant);
    if (!points) {
      points = new Map();
      this.#tallies.set(tenant, points);
    }
    let point = points.get(t);
    if (!point) {
      point = { t, allowed: 0, denied: 0 };
      points.set(t, point);
      for (const old of points.keys()) if (old <= t - TIMELINE_SECONDS) points.delete(old);
    }
    let totals = this.#totals.get(tenant);
    if (!totals) {
      totals = { allowed: 0, denied: 0 };
      this.#totals.set(tenant, totals);
    }
    if (result.allowed) {
      point.allowed++;
      totals.allowed++;
    } else {
      point.denied++;
      totals.denied++;
    }
    return result;
  }
}

function outcome(decision: RateLimitDecision): LimitOutcome {
  return {
    allowed: decision.allowed,
    headers: rateLimitHeaders(decision),
    deniedBy: decision.allowed ? undefined : (decision.deniedBy ?? decision.rules[0]?.name),
    retryAfterMs: decision.retryAfterMs,
  };
}
