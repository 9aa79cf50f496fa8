import {
  assertFinite,
  assertInteger,
  assertKey,
  type Backend,
  defineScript,
  key,
  tag,
  ValidationError,
} from '@redbrick/core';
import type { RateLimitDecision } from './decision.js';
import {
  assertPeriod,
  PERIODS,
  type Period,
  periodEnd,
  periodLabel,
  periodStart,
} from './periods.js';
import { RateLimiter } from './rate-limiter.js';
import { type BudgetRule, checkName, compileBudget, PKG, type UsageEstimate } from './rules.js';

const P = `[redbrick/${PKG}]`;

/** What a meter counts. `cost` is in currency units, stored exactly in millionths. */
export type UsageMetric = 'tokens' | 'cost' | 'requests';

/** One unit of usage to record. */
export interface Usage {
  /** Tokens used (an integer ≥ 0). @default 0 */
  tokens?: number;
  /** Cost in currency units (finite, ≥ 0; kept to 6 decimals). @default 0 */
  cost?: number;
  /** Requests (an integer ≥ 0). @default 1 */
  requests?: number;
  /** Also count under this model (at most 200 characters). */
  model?: string;
  /** When the usage happened (Date or Unix ms); picks the buckets. @default the meter's clock */
  at?: Date | number;
}

/** A budget the meter checks with {@link UsageMeter.check}. */
export interface Quota {
  /** Names the quota in decisions. @default `<metric>-<period>` */
  name?: string;
  metric: UsageMetric;
  /** The budget per period, in the metric's unit (currency units for `cost`). */
  limit: number;
  period: Period;
  /** Budget one model only. @default all models together */
  model?: string;
}

export interface UsageMeterOptions {
  backend: Backend;
  /** Names the meter in keys: letters, digits, `_`, `-`, `.`. @default 'default' */
  name?: string;
  /**
   * How long a bucket is kept after its period ends, in ms.
   * @default { hourMs: 7 days, dayMs: 400 days, monthMs: 3 years }
   */
  retention?: { hourMs?: number; dayMs?: number; monthMs?: number };
  /** Budgets for {@link UsageMeter.check}. */
  quotas?: readonly Quota[];
  /** The clock that dates usage without `at`, and ages buckets (Unix ms). @default Date.now */
  clock?: () => number;
}

/** Sums of one bucket or range. `cost` in currency units. */
export interface UsageAmounts {
  tokens: number;
  cost: number;
  requests: number;
}

/** What {@link UsageMeter.totals} returns. */
export interface UsageTotals extends UsageAmounts {
  /** Start of the first bucket (Unix ms, inclusive). */
  from: number;
  /** End of the last bucket (Unix ms, exclusive). */
  to: number;
  /** The bucket size summed. */
  by: Period;
  /** Per model (only usage recorded with a `model`). */
  models: Record<string, UsageAmounts>;
  /** Every bucket of the range, oldest first (empty buckets included). */
  buckets: Array<UsageAmounts & { start: number }>;
}

/** A range for {@link UsageMeter.totals}: the current hour/day/month, or explicit bounds. */
export type UsageRange =
  | Period
  | {
      /** Inclusive start (widened to the start of its bucket). */
      from: Date | number;
      /** Exclusive end (widened to the end of its bucket). */
      to: Date | number;
      /** Bucket size. @default hour up to 3 days, day up to 93 days, month beyond */
      by?: Period;
    };

const DAY = 86_400_000;
const MAX_BUCKETS = 5000;
const MICRO = 1e6;
const CODE: Record<Period, string> = { hour: 'h', day: 'd', month: 'm' };

export const usageRecordScript = defineScript<number>({
  name: 'ratelimit.usage-record',
  keys: 3,
  lua: `--[[ ratelimit.usage-record
  KEYS[1]  hour bucket (hash), KEYS[2] day bucket, KEYS[3] month bucket — one workspace, one hash tag
  ARGV[1]  tokens (integer)
  ARGV[2]  cost in millionths of a currency unit (integer)
  ARGV[3]  requests (integer)
  ARGV[4]  model ('' = none): also counted in fields tokens:<model>, cost:<model>, requests:<model>
  ARGV[5..7]  TTL in ms of each bucket (0 = the bucket is past its retention: skip it)
  returns  how many buckets were written ]]
local written = 0
for i = 1, 3 do
  local ttl = tonumber(ARGV[4 + i])
  if ttl > 0 then
    redis.call('HINCRBY', KEYS[i], 'tokens', ARGV[1])
    redis.call('HINCRBY', KEYS[i], 'cost', ARGV[2])
    redis.call('HINCRBY', KEYS[i], 'requests', ARGV[3])
    if ARGV[4] ~= '' then
      redis.call('HINCRBY', KEYS[i], 'tokens:' .. ARGV[4], ARGV[1])
      redis.call('HINCRBY', KEYS[i], 'cost:' .. ARGV[4], ARGV[2])
      redis.call('HINCRBY', KEYS[i], 'requests:' .. ARGV[4], ARGV[3])
    end
    redis.call('PEXPIRE', KEYS[i], ttl)
    written = written + 1
  end
end
return written`,
  local(r, keys, [tokens = '0', cost = '0', requests = '0', model = '', ...ttls]) {
    let written = 0;
    for (let i = 0; i < 3; i++) {
      const ttl = Number(ttls[i]);
      const bucket = keys[i] ?? '';
      if (ttl > 0) {
        r.hincrBy(bucket, 'tokens', Number(tokens));
        r.hincrBy(bucket, 'cost', Number(cost));
        r.hincrBy(bucket, 'requests', Number(requests));
        if (model !== '') {
          r.hincrBy(bucket, `tokens:${model}`, Number(tokens));
          r.hincrBy(bucket, `cost:${model}`, Number(cost));
          r.hincrBy(bucket, `requests:${model}`, Number(requests));
        }
        r.pexpire(bucket, ttl);
        written += 1;
      }
    }
    return written;
  },
  decode: (reply) => Number(reply),
});

function toTime(value: Date | number, field: string): number {
  const t = value instanceof Date ? value.getTime() : value;
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new ValidationError(
      `${P} ${field} must be a valid Date or Unix ms, got ${String(value)}`,
      {
        field,
      },
    );
  }
  return t;
}

function checkModel(model: unknown, field: string): asserts model is string {
  if (typeof model !== 'string' || model.length === 0 || model.length > 200) {
    throw new ValidationError(`${P} ${field} must be a string of 1 to 200 characters`, { field });
  }
}

function zero(): UsageAmounts {
  return { tokens: 0, cost: 0, requests: 0 };
}

/**
 * Counts tokens, cost and requests per workspace into hourly, daily and
 * monthly UTC buckets, and checks budgets (quotas) against them.
 *
 * Buckets are chosen by the usage's own time (`at`, default now on this
 * process' clock) — metering records when something happened, unlike rate
 * decisions, which read the server clock.
 *
 * @example
 * const meter = new UsageMeter({ backend, quotas: [{ metric: 'tokens', limit: 1_000_000, period: 'month' }] });
 * await meter.record('acme', { tokens: 1200, cost: 0.0042, model: 'gpt-4o' });
 * const month = await meter.totals('acme', 'month');
 */
export class UsageMeter {
  /** The meter's name (in keys). */
  readonly name: string;
  readonly #backend: Backend;
  readonly #clock: () => number;
  readonly #retention: Record<Period, number>;
  readonly #quotas: BudgetRule[];
  #limiter: RateLimiter | undefined;

  constructor(options: UsageMeterOptions) {
    if (typeof options !== 'object' || options === null || typeof options.backend !== 'object') {
      throw new ValidationError(`${P} UsageMeter needs { backend }`, { field: 'backend' });
    }
    this.#backend = options.backend;
    this.name = options.name === undefined ? 'default' : checkName(options.name, 'name');
    this.#clock = options.clock ?? Date.now;
    const retention = options.retention ?? {};
    this.#retention = {
      hour: retention.hourMs ?? 7 * DAY,
      day: retention.dayMs ?? 400 * DAY,
      month: retention.monthMs ?? 1096 * DAY,
    };
    for (const period of PERIODS) {
      assertInteger(this.#retention[period], `retention.${period}Ms`, { min: 0, pkg: PKG });
    }
    this.#quotas = (options.quotas ?? []).map((quota, i) => {
      if (typeof quota !== 'object' || quota === null) {
        throw new ValidationError(`${P} quotas[${i}] must be an object`, {
          field: `quotas[${i}]`,
        });
      }
      const budget: BudgetRule['budget'] = {
        meter: this,
        metric: quota.metric,
        limit: quota.limit,
        period: quota.period,
      };
      if (quota.model !== undefined) {
        checkModel(quota.model, `quotas[${i}].model`);
        budget.model = quota.model;
      }
      const rule: BudgetRule = { name: quota.name ?? `${quota.metric}-${quota.period}`, budget };
      compileBudget(rule, `quotas[${i}]`, `quotas[${i}]`);
      return rule;
    });
    if (this.#quotas.length > 0) {
      // Validates the quotas now, not on the first check.
      this.#limiter = new RateLimiter({
        backend: this.#backend,
        name: 'usage-meter',
        limits: this.#quotas,
        denyCache: false,
        onUnavailable: 'throw',
        clock: this.#clock,
      });
    }
  }

  /** The bucket key of a workspace for the period that contains `at` (used by budget rules). */
  bucketKey(workspace: string, period: Period, at: number): string {
    return key('usage', this.name, tag(workspace), CODE[period], periodLabel(period, at));
  }

  /** The hash field that holds `metric` (of one model, or of all). */
  field(metric: UsageMetric, model?: string): string {
    if (model === undefined) return metric;
    checkModel(model, 'model');
    return `${metric}:${model}`;
  }

  /** The meter's clock (Unix ms). */
  now(): number {
    return this.#clock();
  }

  /**
   * Adds usage to the workspace's hour, day and month buckets, atomically
   * and in one round trip.
   */
  async record(workspace: string, usage: Usage): Promise<void> {
    assertKey(workspace, 'workspace', PKG);
    if (typeof usage !== 'object' || usage === null) {
      throw new ValidationError(`${P} usage must be an object`, { field: 'usage' });
    }
    const tokens = usage.tokens ?? 0;
    const cost = usage.cost ?? 0;
    const requests = usage.requests ?? 1;
    assertInteger(tokens, 'tokens', { min: 0, pkg: PKG });
    assertFinite(cost, 'cost', PKG);
    if (cost < 0) {
      throw new ValidationError(`${P} cost must be ≥ 0, got ${cost}`, { field: 'cost' });
    }
    assertInteger(requests, 'requests', { min: 0, pkg: PKG });
    if (usage.model !== undefined) checkModel(usage.model, 'model');
    const now = this.#clock();
    const at = usage.at === undefined ? now : toTime(usage.at, 'at');
    const micro = Math.round(cost * MICRO);
    if (!Number.isSafeInteger(micro)) {
      throw new ValidationError(`${P} cost is too large: ${cost}`, { field: 'cost' });
    }
    const keys = PERIODS.map((p) => this.bucketKey(workspace, p, at));
    const ttls = PERIODS.map((p) => Math.max(0, periodEnd(p, at) + this.#retention[p] - now));
    await this.#backend.run(usageRecordScript, keys, [
      tokens,
      micro,
      requests,
      usage.model ?? '',
      ...ttls,
    ]);
  }

  /**
   * Sums a range of buckets in one round trip: the current `'hour'`,
   * `'day'` or `'month'`, or `{ from, to, by? }` widened to whole buckets.
   */
  async totals(workspace: string, range: UsageRange): Promise<UsageTotals> {
    assertKey(workspace, 'workspace', PKG);
    let from: number;
    let to: number;
    let by: Period;
    if (typeof range === 'string') {
      assertPeriod(range, 'range');
      const now = this.#clock();
      by = range;
      from = periodStart(by, now);
      to = periodEnd(by, now);
    } else if (typeof range === 'object' && range !== null) {
      const start = toTime(range.from, 'range.from');
      const end = toTime(range.to, 'range.to');
      if (end <= start) {
        throw new ValidationError(`${P} range.to must be after range.from`, { field: 'range.to' });
      }
      if (range.by !== undefined) assertPeriod(range.by, 'range.by');
      const span = end - start;
      by = range.by ?? (span <= 3 * DAY ? 'hour' : span <= 93 * DAY ? 'day' : 'month');
      from = periodStart(by, start);
      to = periodEnd(by, end - 1);
    } else {
      throw new ValidationError(`${P} range must be 'hour', 'day', 'month' or { from, to }`, {
        field: 'range',
      });
    }
    const starts: number[] = [];
    for (let t = from; t < to; t = periodEnd(by, t)) {
      starts.push(t);
      if (starts.length > MAX_BUCKETS) {
        throw new ValidationError(
          `${P} range spans more than ${MAX_BUCKETS} ${by} buckets; use a larger "by"`,
          { field: 'range' },
        );
      }
    }
    const pipeline = this.#backend.pipeline();
    for (const t of starts) pipeline.add('hgetall', this.bucketKey(workspace, by, t));
    const results = await pipeline.exec();
    const totals: UsageTotals = { ...zero(), from, to, by, models: {}, buckets: [] };
    results.forEach((result, i) => {
      if (!result.ok) throw result.error;
      const hash = result.value as Record<string, string>;
      const bucket = { start: starts[i] ?? 0, ...zero() };
      for (const [field, raw] of Object.entries(hash)) {
        const value = Number(raw);
        if (!Number.isFinite(value)) continue;
        const colon = field.indexOf(':');
        const metric = (colon === -1 ? field : field.slice(0, colon)) as UsageMetric;
        if (metric !== 'tokens' && metric !== 'cost' && metric !== 'requests') continue;
        if (colon === -1) {
          bucket[metric] += value;
        } else {
          const model = field.slice(colon + 1);
          totals.models[model] ??= zero();
          (totals.models[model] as UsageAmounts)[metric] += value;
        }
      }
      totals.tokens += bucket.tokens;
      totals.cost += bucket.cost;
      totals.requests += bucket.requests;
      totals.buckets.push({ ...bucket, cost: bucket.cost / MICRO });
    });
    totals.cost /= MICRO;
    for (const amounts of Object.values(totals.models)) amounts.cost /= MICRO;
    return totals;
  }

  /**
   * Checks the meter's quotas for a workspace without recording anything
   * (one round trip): denied once a quota is used up, or when `estimate`
   * would not fit. The decision's `rules` give every quota's remaining budget.
   */
  async check(workspace: string, estimate?: UsageEstimate): Promise<RateLimitDecision> {
    const limiter = this.#limiter;
    if (!limiter) {
      throw new ValidationError(`${P} this UsageMeter has no quotas to check`, {
        field: 'quotas',
      });
    }
    return limiter.peek(workspace, estimate === undefined ? {} : { estimate });
  }
}
