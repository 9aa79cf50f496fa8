import type { ScriptOutcome } from './engine.js';
import type { Algorithm, CompiledRule } from './rules.js';

/** Who answered a call. */
export type DecisionSource =
  /** The backend (one script run). */
  | 'backend'
  /** This process' deny cache, without a round trip. */
  | 'cache'
  /** The backend was unavailable and the policy allowed. */
  | 'fail-open'
  /** The backend was unavailable and the policy denied. */
  | 'fail-closed'
  /** The backend was unavailable and the insurance limiter decided. */
  | 'insurance';

/** Why a request was (not) allowed. */
export type DecisionReason =
  | 'allowed'
  /** A rule has no room for the cost now; `retryAfterMs` says when it will. */
  | 'limited'
  /** The key is blocked (`block()`). */
  | 'blocked'
  /** The cost is larger than a rule's limit: it can never be allowed (`retryAfterMs` is Infinity). Nothing was consumed. */
  | 'cost-exceeds-limit'
  /** The backend was unavailable and the fail-closed policy denied. */
  | 'backend-unavailable';

/** One rule's part of a decision. */
export interface RuleDecision {
  /** The rule's name. */
  name: string;
  kind: 'rate' | 'budget';
  algorithm: Algorithm | 'budget';
  /** Whether this rule allowed (for `record`: whether the cost fitted). */
  allowed: boolean;
  /** The rule's limit (budgets: in the metric's unit, e.g. currency units for cost). */
  limit: number;
  /** Units left now (after this call's consumption). */
  remaining: number;
  /** Unix ms (server clock) when the full limit is available again if nothing more is used. */
  resetAt: number;
  /** ms until this rule would allow the same cost; 0 when it allows; Infinity when never. */
  retryAfterMs: number;
  /** The rule's window in ms (for `RateLimit-Policy`); undefined for monthly budgets. */
  windowMs: number | undefined;
}

/**
 * The answer of every limiter call. A denial is a value, never a thrown error.
 */
export interface RateLimitDecision {
  /** Whether the request may proceed (for `record`/`penalty`: whether it fitted in the limit). */
  allowed: boolean;
  /** The limit of the rule that decided: the denying rule, or the one with the least room left. */
  limit: number;
  /** Units left in that rule, after this call. */
  remaining: number;
  /**
   * Unix ms (server clock) when that rule's full limit is available again.
   * A one-rule fixed-window limiter reads no clock on the server: its
   * `resetAt` is the window's remaining TTL added to this process' clock.
   */
  resetAt: number;
  /** ms to wait before the same request can be allowed: 0 when allowed, `Infinity` when never. */
  retryAfterMs: number;
  reason: DecisionReason;
  /** The name of the rule that denied (the one that frees up last), if a rule denied. */
  deniedBy: string | undefined;
  /** Who answered: the backend, the deny cache, or an outage policy. */
  source: DecisionSource;
  /** The cost asked for, in units. */
  cost: number;
  /**
   * Unix ms the decision was made at: server clock for backend answers
   * (except a one-rule fixed-window limiter, whose script reads no clock),
   * this process' clock otherwise.
   */
  now: number;
  /** Every rule's outcome, in the limiter's rule order. */
  rules: RuleDecision[];
  /** The backend error an outage policy answered for. */
  error?: unknown;
}

/** Builds the decision from a script outcome. */
export function toDecision(
  outcome: ScriptOutcome,
  rules: readonly CompiledRule[],
  cost: number,
  source: DecisionSource,
): RateLimitDecision {
  const perRule: RuleDecision[] = rules.map((rule, i) => {
    const o = outcome.rules[i] ?? {
      status: 1,
      remaining: 0,
      resetAt: outcome.now,
      retryAfterMs: 0,
    };
    return {
      name: rule.name,
      kind: rule.kind,
      algorithm: rule.algorithm,
      allowed: o.status === 0,
      limit: rule.limit,
      remaining: o.remaining * rule.scale,
      resetAt: o.resetAt,
      retryAfterMs: o.status === 0 ? 0 : o.retryAfterMs,
      windowMs: rule.windowMs,
    };
  });
  const blocked = outcome.blockedMs > 0;
  let denying: RuleDecision | undefined;
  let tooLarge = false;
  for (let i = 0; i < perRule.length; i++) {
    const r = perRule[i] as RuleDecision;
    if (r.allowed) continue;
    if (outcome.rules[i]?.status === 3) tooLarge = true;
    if (!denying || r.retryAfterMs > denying.retryAfterMs) denying = r;
  }
  if (!blocked && !denying) {
    let tightest = perRule[0] as RuleDecision;
    for (const r of perRule) if (r.remaining < tightest.remaining) tightest = r;
    return {
      allowed: true,
      limit: tightest.limit,
      remaining: tightest.remaining,
      resetAt: tightest.resetAt,
      retryAfterMs: 0,
      reason: 'allowed',
      deniedBy: undefined,
      source,
      cost,
      now: outcome.now,
      rules: perRule,
    };
  }
  if (blocked) {
    const first = perRule[0] as RuleDecision;
    const retry = Math.max(outcome.blockedMs, denying?.retryAfterMs ?? 0);
    let resetAt = outcome.now + outcome.blockedMs;
    for (const r of perRule) resetAt = Math.max(resetAt, r.resetAt);
    return {
      allowed: false,
      limit: first.limit,
      remaining: 0,
      resetAt,
      retryAfterMs: retry,
      reason: 'blocked',
      deniedBy: undefined,
      source,
      cost,
      now: outcome.now,
      rules: perRule,
    };
  }
  const d = denying as RuleDecision;
  return {
    allowed: false,
    limit: d.limit,
    remaining: d.remaining,
    resetAt: d.resetAt,
    retryAfterMs: d.retryAfterMs,
    reason: tooLarge ? 'cost-exceeds-limit' : 'limited',
    deniedBy: d.name,
    source,
    cost,
    now: outcome.now,
    rules: perRule,
  };
}

/**
 * The decision of a limiter with one rate rule, built straight from the
 * numbers of its script's reply (the same answer {@link toDecision} gives
 * for a one-rule outcome, without the intermediate objects).
 */
export function singleRuleDecision(
  rule: CompiledRule,
  blockedMs: number,
  status: number,
  remaining: number,
  resetAt: number,
  retryAfterMs: number,
  cost: number,
  now: number,
): RateLimitDecision {
  const allowed = status === 0;
  const retry = allowed ? 0 : retryAfterMs;
  const perRule: RuleDecision = {
    name: rule.name,
    kind: rule.kind,
    algorithm: rule.algorithm,
    allowed,
    limit: rule.limit,
    remaining,
    resetAt,
    retryAfterMs: retry,
    windowMs: rule.windowMs,
  };
  if (blockedMs > 0) {
    return {
      allowed: false,
      limit: rule.limit,
      remaining: 0,
      resetAt: Math.max(now + blockedMs, resetAt),
      retryAfterMs: Math.max(blockedMs, retry),
      reason: 'blocked',
      deniedBy: undefined,
      source: 'backend',
      cost,
      now,
      rules: [perRule],
    };
  }
  return {
    allowed,
    limit: rule.limit,
    remaining,
    resetAt,
    retryAfterMs: retry,
    reason: allowed ? 'allowed' : status === 3 ? 'cost-exceeds-limit' : 'limited',
    deniedBy: allowed ? undefined : rule.name,
    source: 'backend',
    cost,
    now,
    rules: [perRule],
  };
}
