import { assertFinite, assertInteger, key, type Script, ValidationError } from '@redbrick/core';
import type { AlgorithmCode, ScriptOutcome } from './engine.js';
import { fixedWindowScript } from './fixed-window.js';
import { gcraScript } from './gcra.js';
import { assertPeriod, type Period, periodEnd, periodSeconds } from './periods.js';
import { slidingLogScript } from './sliding-log.js';
import { slidingWindowScript } from './sliding-window.js';
import { tokenBucketScript } from './token-bucket.js';
import type { UsageMeter, UsageMetric } from './usage-meter.js';

export const PKG = 'ratelimit';
const P = `[redbrick/${PKG}]`;

/** The rate-limiting algorithms; see the README for how to choose. */
export type Algorithm = 'fixed-window' | 'sliding-window' | 'sliding-log' | 'token-bucket' | 'gcra';

export const ALGORITHMS: readonly Algorithm[] = [
  'fixed-window',
  'sliding-window',
  'sliding-log',
  'token-bucket',
  'gcra',
];

/** A rate limit: `limit` units per `windowMs`. */
export interface RateRule {
  /**
   * Names the rule in keys, in `deniedBy` and in the `RateLimit-Policy`
   * header: letters, digits, `_`, `-`, `.` (at most 64).
   * @default 'default' (required when a limiter has several rules)
   */
  name?: string;
  /** @default 'sliding-window' */
  algorithm?: Algorithm;
  /** Units allowed per window (token bucket: the bucket's capacity). An integer from 1 to 1e9. */
  limit: number;
  /** The window in ms (token bucket: the time to refill from empty, unless the refill is given). */
  windowMs: number;
  /**
   * Token bucket: tokens added per refill.
   * @default limit / gcd(limit, windowMs) — the steadiest whole-token refill for limit per windowMs
   */
  refillAmount?: number;
  /**
   * Token bucket: ms between refills.
   * @default windowMs / gcd(limit, windowMs)
   */
  refillIntervalMs?: number;
  /** GCRA: how many requests may arrive at once. @default limit */
  burst?: number;
}

/** A usage budget: the limiter denies once the meter has counted `limit` of `metric` this period. */
export interface BudgetRule {
  /** Names the rule (see {@link RateRule.name}). */
  name: string;
  budget: {
    /** The meter whose buckets hold the usage. Its workspace is the limiter's key. */
    meter: UsageMeter;
    /** What is budgeted: `tokens`, `cost` (currency units) or `requests`. */
    metric: UsageMetric;
    /** The budget per period, in the metric's unit. */
    limit: number;
    /** The UTC calendar period the budget applies to. */
    period: Period;
    /** Budget one model only. @default all models together */
    model?: string;
  };
}

export type LimitRule = RateRule | BudgetRule;

/** A rule after validation, ready to build script arguments. */
export interface CompiledRule {
  readonly name: string;
  readonly kind: 'rate' | 'budget';
  readonly algorithm: Algorithm | 'budget';
  readonly code: AlgorithmCode;
  /** The rule's limit in its own unit (currency units for a cost budget). */
  readonly limit: number;
  /** Window for `RateLimit-Policy` (ms), when the rule has one. */
  readonly windowMs: number | undefined;
  /** Script units → rule units (1e-6 for cost budgets, stored in millionths). */
  readonly scale: number;
  /** The per-algorithm script (rate rules only). */
  readonly script: Script<ScriptOutcome> | undefined;
  /**
   * State keys of this rule for one limiter key: `base` is the limiter's
   * `rl:<limiter>:{<key>}` prefix, `id` the raw limiter key.
   */
  keys(base: string, id: string, at: number): string[];
  /** p1..p3 for the script. */
  params(at: number): [string | number, string | number, string | number];
  /** The unit cost this rule is asked to fit. */
  cost(cost: number, estimate: UsageEstimate | undefined): number;
  /** The rule as given (for the insurance limiter). */
  readonly source: LimitRule;
}

/** Expected usage of a request, checked against budget rules (which never consume). */
export interface UsageEstimate {
  tokens?: number;
  /** In currency units. */
  cost?: number;
  requests?: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** A year: the longest window. */
export const MAX_WINDOW_MS = 366 * 86_400_000;
const MAX_LIMIT = 1_000_000_000;
const MAX_LOG_LIMIT = 1_000_000;
/** Integer arithmetic of the sliding window counter stays below 2^52. */
const MAX_WEIGHTED = 2 ** 52;

export function checkName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ValidationError(
      `${P} ${field} must be 1-64 letters, digits, "_", "-" or ".", got ${JSON.stringify(name)}`,
      { field },
    );
  }
  return name;
}

export function checkLimit(value: unknown, field = 'limit'): asserts value is number {
  assertInteger(value, field, { min: 1, max: MAX_LIMIT, pkg: PKG });
}

export function checkWindow(value: unknown, field = 'windowMs'): asserts value is number {
  assertInteger(value, field, { min: 1, max: MAX_WINDOW_MS, pkg: PKG });
}

/** A cost in units: an integer from 1 to 1e9. */
export function checkCost(value: unknown, field = 'cost'): asserts value is number {
  assertInteger(value, field, { min: 1, max: MAX_LIMIT, pkg: PKG });
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

const SCRIPTS: Record<Algorithm, Script<ScriptOutcome>> = {
  'fixed-window': fixedWindowScript,
  'sliding-window': slidingWindowScript,
  'sliding-log': slidingLogScript,
  'token-bucket': tokenBucketScript,
  gcra: gcraScript,
};

const CODES: Record<Algorithm, AlgorithmCode> = {
  'fixed-window': 'fw',
  'sliding-window': 'sw',
  'sliding-log': 'sl',
  'token-bucket': 'tb',
  gcra: 'gc',
};

function isBudget(rule: LimitRule): rule is BudgetRule {
  return typeof rule === 'object' && rule !== null && 'budget' in rule;
}

/** Validates a rate rule and turns it into script parameters. */
export function compileRate(rule: RateRule, field: string, defaultName: string): CompiledRule {
  if (typeof rule !== 'object' || rule === null) {
    throw new ValidationError(`${P} ${field} must be an object`, { field });
  }
  const name =
    rule.name === undefined ? defaultName : checkName(rule.name, fieldName(field, 'name'));
  const algorithm = rule.algorithm ?? 'sliding-window';
  if (!ALGORITHMS.includes(algorithm)) {
    throw new ValidationError(
      `${P} ${fieldName(field, 'algorithm')} must be one of ${ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}`,
      { field: fieldName(field, 'algorithm') },
    );
  }
  const { limit, windowMs } = rule;
  checkLimit(limit, fieldName(field, 'limit'));
  checkWindow(windowMs, fieldName(field, 'windowMs'));
  let params: [number, number, number];
  let displayWindow = windowMs;
  switch (algorithm) {
    case 'fixed-window':
      params = [limit, windowMs, 0];
      break;
    case 'sliding-window':
      if (limit * windowMs > MAX_WEIGHTED) {
        throw new ValidationError(
          `${P} ${fieldName(field, 'limit')} × windowMs must be at most 2^52 for the sliding window, got ${limit} × ${windowMs}`,
          { field: fieldName(field, 'limit') },
        );
      }
      params = [limit, windowMs, 0];
      break;
    case 'sliding-log':
      if (limit > MAX_LOG_LIMIT) {
        throw new ValidationError(
          `${P} ${fieldName(field, 'limit')} must be at most ${MAX_LOG_LIMIT} for the sliding log (one entry per unit), got ${limit}`,
          { field: fieldName(field, 'limit') },
        );
      }
      params = [limit, windowMs, 0];
      break;
    case 'token-bucket': {
      const g = gcd(limit, windowMs);
      const amount = rule.refillAmount ?? limit / g;
      const interval = rule.refillIntervalMs ?? windowMs / g;
      assertInteger(amount, fieldName(field, 'refillAmount'), { min: 1, max: MAX_LIMIT, pkg: PKG });
      checkWindow(interval, fieldName(field, 'refillIntervalMs'));
      params = [limit, amount, interval];
      displayWindow = Math.ceil(limit / amount) * interval;
      break;
    }
    case 'gcra': {
      const burst = rule.burst ?? limit;
      assertInteger(burst, fieldName(field, 'burst'), { min: 1, max: MAX_LIMIT, pkg: PKG });
      const emission = Math.max(1, Math.round((windowMs * 1000) / limit));
      params = [emission, burst * emission, 0];
      break;
    }
  }
  const code = CODES[algorithm];
  // built once with core's key(): per call only the limiter key part changes
  const suffixes = (code === 'sl' ? ['sl', 'sl-seq'] : [code === 'gc' ? 'gcra' : code]).map(
    (s) => `:${key(name, s)}`,
  );
  return {
    name,
    kind: 'rate',
    algorithm,
    code,
    limit,
    windowMs: displayWindow,
    scale: 1,
    script: SCRIPTS[algorithm],
    keys: (base) => suffixes.map((s) => base + s),
    params: () => params,
    cost: (cost) => cost,
    source: rule,
  };
}

const METRICS: readonly UsageMetric[] = ['tokens', 'cost', 'requests'];

/** Validates a budget rule. */
export function compileBudget(
  rule: BudgetRule,
  field: string,
  budgetField = `${field}.budget`,
): CompiledRule {
  const name = checkName(rule.name, `${field}.name`);
  const b = rule.budget;
  const f = (part: string) => `${budgetField}.${part}`;
  if (typeof b !== 'object' || b === null || typeof b.meter?.bucketKey !== 'function') {
    throw new ValidationError(`${P} ${f('meter')} must be a UsageMeter`, { field: f('meter') });
  }
  if (!METRICS.includes(b.metric)) {
    throw new ValidationError(
      `${P} ${f('metric')} must be one of ${METRICS.join(', ')}, got ${JSON.stringify(b.metric)}`,
      { field: `${f('metric')}` },
    );
  }
  assertPeriod(b.period, f('period'));
  const scale = b.metric === 'cost' ? 1e-6 : 1;
  let units: number;
  if (b.metric === 'cost') {
    assertFinite(b.limit, f('limit'), PKG);
    units = Math.round(b.limit * 1e6);
    if (units < 1 || units > Number.MAX_SAFE_INTEGER) {
      throw new ValidationError(
        `${P} ${f('limit')} must be a cost from 0.000001 to 9e9, got ${b.limit}`,
        { field: f('limit') },
      );
    }
  } else {
    assertInteger(b.limit, f('limit'), {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      pkg: PKG,
    });
    units = b.limit;
  }
  const meter = b.meter;
  const period = b.period;
  const fieldKey = meter.field(b.metric, b.model);
  const seconds = periodSeconds(period);
  return {
    name,
    kind: 'budget',
    algorithm: 'budget',
    code: 'bu',
    limit: b.limit,
    windowMs: seconds === undefined ? undefined : seconds * 1000,
    scale,
    script: undefined,
    keys: (_base, id, at) => [meter.bucketKey(id, period, at)],
    params: (at) => [units, periodEnd(period, at), fieldKey],
    cost: (_cost, estimate) => {
      const value = estimate?.[b.metric] ?? 0;
      return b.metric === 'cost' ? Math.round(value * 1e6) : value;
    },
    source: rule,
  };
}

function fieldName(base: string, name: string): string {
  return base === '' ? name : `${base}.${name}`;
}

/** Validates a limiter's rules: one rate rule, or several named rules. */
export function compileRules(rules: readonly LimitRule[]): CompiledRule[] {
  if (!Array.isArray(rules) || rules.length === 0) {
    throw new ValidationError(`${P} limits must list at least one rule`, { field: 'limits' });
  }
  const compiled = rules.map((rule, i) => {
    const field = rules.length === 1 ? '' : `limits[${i}]`;
    if (isBudget(rule)) return compileBudget(rule, field === '' ? 'limits[0]' : field);
    if (rules.length > 1 && rule.name === undefined) {
      throw new ValidationError(`${P} limits[${i}].name is required when there are several rules`, {
        field: `limits[${i}].name`,
      });
    }
    return compileRate(rule, field, 'default');
  });
  const seen = new Set<string>();
  for (const rule of compiled) {
    if (seen.has(rule.name)) {
      throw new ValidationError(`${P} two rules are named "${rule.name}"`, { field: 'limits' });
    }
    seen.add(rule.name);
  }
  return compiled;
}

export { isBudget };
