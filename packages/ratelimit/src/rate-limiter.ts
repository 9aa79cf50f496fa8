import {
  assertFinite,
  assertInteger,
  assertKey,
  assertTtl,
  type Backend,
  isRedbrickError,
  key,
  type RUN_NOW,
  type RunsNow,
  runNowOf,
  ValidationError,
} from '@redbrick/core';
import { compositeScript } from './composite.js';
import type { DecisionSource, RateLimitDecision, RuleDecision } from './decision.js';
import { singleRuleDecision, toDecision } from './decision.js';
import { DenyCache } from './deny-cache.js';
import type { Op, ScriptOutcome } from './engine.js';
import { type FixedWindowReply, fixedWindowReplyScript } from './fixed-window.js';
import {
  type Algorithm,
  type CompiledRule,
  checkCost,
  checkLimit,
  checkName,
  checkWindow,
  compileRate,
  compileRules,
  isBudget,
  type LimitRule,
  PKG,
  type RateRule,
  type UsageEstimate,
} from './rules.js';

const P = `[redbrick/${PKG}]`;

/**
 * What a limiter does when the backend is unavailable (a
 * `BACKEND_UNAVAILABLE` error: Redis down, unreachable or timing out):
 * - `'fail-open'`: allow (`source: 'fail-open'`),
 * - `'fail-closed'`: deny (`source: 'fail-closed'`, `reason: 'backend-unavailable'`),
 * - `'throw'`: reject with the error,
 * - `{ insurance }`: decide on another backend (typically the in-process
 *   memory backend) with the same rules, or with a limiter of your own —
 *   `source: 'insurance'`.
 */
export type OutagePolicy =
  | 'fail-open'
  | 'fail-closed'
  | 'throw'
  | { insurance: Backend | RateLimiter };

/** Options of {@link RateLimiter}: one rule (`limit` + `windowMs`) or several (`limits`). */
export interface RateLimiterOptions extends Partial<Omit<RateRule, 'name'>> {
  backend: Backend;
  /** Names the limiter in keys: letters, digits, `_`, `-`, `.`. @default 'default' */
  name?: string;
  /**
   * Several rules decided together, atomically, in one round trip (e.g.
   * 10/s and 1000/day): nothing is consumed unless all allow. Budget rules
   * (`{ name, budget }`) check a {@link UsageMeter}'s usage.
   */
  limits?: readonly LimitRule[];
  /**
   * Answer repeated calls for a denied key from this process until the
   * denial expires, without a round trip.
   * @default true (up to 10000 keys)
   */
  denyCache?: boolean | { maxKeys?: number };
  /** @default 'fail-open' */
  onUnavailable?: OutagePolicy;
  /** `retryAfterMs` of a fail-closed denial. @default 1000 */
  unavailableRetryAfterMs?: number;
  /** This process' clock (deny cache, budget periods, outage answers), Unix ms. @default Date.now */
  clock?: () => number;
}

/** Per-call options. */
export interface CheckOptions {
  /** Units this request costs (an integer from 1 to 1e9). @default 1 */
  cost?: number;
  /** Use this limit instead of the rule's (limiters with one rate rule only). */
  limit?: number;
  /** Use this window (ms) instead of the rule's (limiters with one rate rule only). */
  windowMs?: number;
  /** Expected usage, checked against budget rules (which never consume). @default nothing */
  estimate?: UsageEstimate;
}

/** A rule as the limiter reports it. */
export interface RuleInfo {
  name: string;
  kind: 'rate' | 'budget';
  algorithm: Algorithm | 'budget';
  limit: number;
  windowMs: number | undefined;
}

/**
 * `tag(id).hashTag` of core, without its arrays, regular expression and
 * object: `{id}` with `%`, `:`, `{`, `}` percent-encoded (hot path: once per
 * decision). `test/keys.hash-tag.test.ts` holds it to core's `tag()`.
 */
export function hashTagOf(id: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    // '%' 37, ':' 58, '{' 123, '}' 125
    if (c === 37 || c === 58 || c === 123 || c === 125) {
      out += id.slice(from, i) + (c === 37 ? '%25' : c === 58 ? '%3A' : c === 123 ? '%7B' : '%7D');
      from = i + 1;
    }
  }
  return from === 0 ? `{${id}}` : `{${out}${id.slice(from)}}`;
}

/** What a limiter with one fixed-window rule precomputes for its hot path. */
interface FixedWindowPath {
  rule: CompiledRule;
  /** `:<rule>:fw`, appended to a key's base. */
  suffix: string;
  /** Script arguments for cost 1, per op. */
  args: Record<Op, readonly string[]>;
  /** Limiter key → [block key, window key], for the most recent keys. */
  keys: Map<string, readonly string[]>;
}

/** Limiter keys whose Redis keys a fixed-window limiter remembers (≈ 150 bytes each). */
const KEY_CACHE_SIZE = 4096;

const RULE_OPTIONS = [
  'algorithm',
  'limit',
  'windowMs',
  'refillAmount',
  'refillIntervalMs',
  'burst',
] as const;

/**
 * Rate limits on any redbrick `Backend`: fixed window, sliding window,
 * sliding log, token bucket or GCRA, alone or several at once. Every
 * decision is one atomic script run (one round trip) that reads the time on
 * the server. A denial is a value, never a thrown error.
 *
 * @example
 * const limiter = new RateLimiter({ backend, algorithm: 'sliding-window', limit: 10, windowMs: 1000 });
 * const d = await limiter.check(`ip:${ip}`);
 * if (!d.allowed) return tooManyRequests(d.retryAfterMs);
 */
export class RateLimiter {
  /** The limiter's name (in keys). */
  readonly name: string;
  /** The limiter's rules, in order. */
  readonly rules: readonly RuleInfo[];
  readonly #backend: Backend;
  /** The backend's synchronous script runner, when it runs in this process (the memory backend). */
  readonly #runNow: RunsNow[typeof RUN_NOW] | undefined;
  readonly #compiled: CompiledRule[];
  readonly #cache: DenyCache | undefined;
  readonly #policy: 'fail-open' | 'fail-closed' | 'throw' | 'insurance';
  readonly #insurance: RateLimiter | undefined;
  readonly #unavailableRetryAfterMs: number;
  readonly #clock: () => number;
  /** `rl:<name>`, built once. */
  readonly #prefix: string;
  /** Set when the limiter has exactly one fixed-window rule. */
  readonly #fixedWindow: FixedWindowPath | undefined;

  constructor(options: RateLimiterOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError(`${P} RateLimiter needs options`, { field: 'options' });
    }
    const { backend } = options;
    if (typeof backend !== 'object' || backend === null || typeof backend.run !== 'function') {
      throw new ValidationError(`${P} backend must be a redbrick Backend`, { field: 'backend' });
    }
    this.#backend = backend;
    this.#runNow = runNowOf(backend);
    this.name = options.name === undefined ? 'default' : checkName(options.name, 'name');
    this.#prefix = key('rl', this.name);
    const shorthand = RULE_OPTIONS.some((o) => options[o] !== undefined);
    if (options.limits !== undefined && shorthand) {
      throw new ValidationError(
        `${P} give either limits or a single rule (limit, windowMs, …), not both`,
        { field: 'limits' },
      );
    }
    let rules: readonly LimitRule[];
    if (options.limits !== undefined) {
      rules = options.limits;
    } else {
      const rule: RateRule = {
        limit: options.limit as number,
        windowMs: options.windowMs as number,
      };
      for (const o of RULE_OPTIONS) {
        if (options[o] !== undefined) Object.assign(rule, { [o]: options[o] });
      }
      rules = [rule];
    }
    this.#compiled = compileRules(rules);
    this.rules = this.#compiled.map((r) => ({
      name: r.name,
      kind: r.kind,
      algorithm: r.algorithm,
      limit: r.limit,
      windowMs: r.windowMs,
    }));
    const only = this.#compiled.length === 1 ? this.#compiled[0] : undefined;
    this.#fixedWindow = only?.code === 'fw' ? fixedWindowPath(only) : undefined;
    this.#clock = options.clock ?? Date.now;
    if (typeof this.#clock !== 'function') {
      throw new ValidationError(`${P} clock must be a function returning Unix ms`, {
        field: 'clock',
      });
    }

    const cache = options.denyCache ?? true;
    if (cache === false) this.#cache = undefined;
    else {
      const maxKeys = cache === true ? 10_000 : (cache.maxKeys ?? 10_000);
      assertInteger(maxKeys, 'denyCache.maxKeys', { min: 1, pkg: PKG });
      this.#cache = new DenyCache(maxKeys);
    }

    this.#unavailableRetryAfterMs = options.unavailableRetryAfterMs ?? 1000;
    assertTtl(this.#unavailableRetryAfterMs, 'unavailableRetryAfterMs', PKG);
    const policy = options.onUnavailable ?? 'fail-open';
    if (policy === 'fail-open' || policy === 'fail-closed' || policy === 'throw') {
      this.#policy = policy;
    } else if (typeof policy === 'object' && policy !== null && 'insurance' in policy) {
      this.#policy = 'insurance';
      const insurance = policy.insurance;
      if (insurance instanceof RateLimiter) {
        this.#insurance = insurance;
      } else if (typeof insurance === 'object' && insurance !== null && 'run' in insurance) {
        const rateRules = rules.filter((r) => !isBudget(r));
        if (rateRules.length === 0) {
          throw new ValidationError(
            `${P} an insurance backend needs at least one rate rule (budget rules are not insured)`,
            { field: 'onUnavailable.insurance' },
          );
        }
        this.#insurance = new RateLimiter({
          backend: insurance,
          name: this.name,
          limits: rateRules,
          denyCache: false,
          onUnavailable: 'throw',
          clock: this.#clock,
        });
      } else {
        throw new ValidationError(
          `${P} onUnavailable.insurance must be a Backend or a RateLimiter`,
          { field: 'onUnavailable.insurance' },
        );
      }
    } else {
      throw new ValidationError(
        `${P} onUnavailable must be 'fail-open', 'fail-closed', 'throw' or { insurance }, got ${JSON.stringify(policy)}`,
        { field: 'onUnavailable' },
      );
    }
  }

  /**
   * Decides one request: consumes `cost` units when every rule allows,
   * nothing otherwise. One round trip (none when the deny cache answers).
   */
  check(key: string, options?: CheckOptions): Promise<RateLimitDecision> {
    const fw = this.#fixedWindow;
    // the hot path: one fixed-window rule, cost 1, a valid key
    if (fw !== undefined && options === undefined && typeof key === 'string' && key.length > 0) {
      const cache = this.#cache;
      if (cache !== undefined && cache.size > 0) {
        const hit = cache.get(key, '', 1, this.#clock());
        if (hit) return Promise.resolve(hit);
      }
      return this.#runFixedWindow('c', key, undefined, 1, fw.rule, '', fw.args.c);
    }
    return this.#call('c', key, options);
  }

  /** Says what `check` would decide, without consuming anything. */
  peek(key: string, options?: CheckOptions): Promise<RateLimitDecision> {
    return this.#call('p', key, options);
  }

  /**
   * Counts a request without deciding: consumes `cost` even when that goes
   * over the limit. `allowed` says whether it fitted.
   */
  record(key: string, options?: CheckOptions): Promise<RateLimitDecision> {
    return this.#call('r', key, options);
  }

  /** Consumes `points` extra units, over the limit if need be (like `record`). */
  penalty(
    key: string,
    points = 1,
    options?: Omit<CheckOptions, 'cost'>,
  ): Promise<RateLimitDecision> {
    return this.#call('r', key, { ...options, cost: points }, 'points');
  }

  /** Gives back `points` units (a refund), never below an empty state. */
  reward(
    key: string,
    points = 1,
    options?: Omit<CheckOptions, 'cost'>,
  ): Promise<RateLimitDecision> {
    return this.#call('f', key, { ...options, cost: points }, 'points');
  }

  /** Denies every request of `key` for `ms` milliseconds (replacing any block). One round trip. */
  async block(key: string, ms: number): Promise<void> {
    assertKey(key, 'key', PKG);
    assertTtl(ms, 'ms', PKG);
    this.#cache?.delete(key);
    await this.#backend.set(this.#blockKey(key), '1', { ttlMs: ms });
  }

  /** Lifts a block. */
  async unblock(key: string): Promise<void> {
    assertKey(key, 'key', PKG);
    this.#cache?.delete(key);
    await this.#backend.del(this.#blockKey(key));
  }

  /** Forgets everything about `key` (all rate rules and any block; budgets are the meter's). One round trip. */
  async reset(key: string): Promise<void> {
    assertKey(key, 'key', PKG);
    this.#cache?.delete(key);
    const base = this.#base(key);
    const now = this.#clock();
    const keys = [`${base}:b`];
    for (const rule of this.#compiled) {
      if (rule.kind === 'rate') keys.push(...rule.keys(base, key, now));
    }
    await this.#backend.del(...keys);
  }

  /** `rl:<limiter>:{<key>}`: every key of one limiter key starts with it (one hash slot). */
  #base(id: string): string {
    return `${this.#prefix}:${hashTagOf(id)}`;
  }

  #blockKey(id: string): string {
    return `${this.#base(id)}:b`;
  }

  #rulesFor(options: CheckOptions | undefined): {
    rules: CompiledRule[];
    variant: string;
  } {
    const limit = options?.limit;
    const windowMs = options?.windowMs;
    if (limit === undefined && windowMs === undefined)
      return { rules: this.#compiled, variant: '' };
    const only = this.#compiled.length === 1 ? this.#compiled[0] : undefined;
    if (only?.kind !== 'rate') {
      throw new ValidationError(
        `${P} a per-call limit or windowMs needs a limiter with exactly one rate rule`,
        { field: limit === undefined ? 'windowMs' : 'limit' },
      );
    }
    if (limit !== undefined) checkLimit(limit);
    if (windowMs !== undefined) checkWindow(windowMs);
    const source = only.source as RateRule;
    const rule = compileRate(
      { ...source, limit: limit ?? source.limit, windowMs: windowMs ?? source.windowMs },
      '',
      only.name,
    );
    return { rules: [rule], variant: `${rule.limit}/${windowMs ?? source.windowMs}` };
  }

  async #call(
    op: Op,
    id: string,
    options: CheckOptions | undefined,
    costField = 'cost',
  ): Promise<RateLimitDecision> {
    assertKey(id, 'key', PKG);
    const cost = options?.cost ?? 1;
    checkCost(cost, costField);
    const estimate = options?.estimate;
    if (estimate !== undefined) checkEstimate(estimate);
    const { rules, variant } = this.#rulesFor(options);
    if (op === 'r') {
      for (const rule of rules) {
        if (rule.algorithm === 'sliding-log' && cost > rule.limit) {
          // one log entry per unit: an unbounded record would be an unbounded write
          throw new ValidationError(
            `${P} ${costField} must be at most ${rule.limit} (the limit of sliding-log rule "${rule.name}") when recording, got ${cost}`,
            { field: costField },
          );
        }
      }
    }
    const cache = this.#cache;
    if (cache && op === 'c') {
      const hit = cache.get(id, variant, cost, this.#clock());
      if (hit) return hit;
    }
    const only = rules.length === 1 ? rules[0] : undefined;
    if (only?.code === 'fw') {
      const fw = this.#fixedWindow;
      const args =
        cost === 1 && fw !== undefined && only === fw.rule
          ? fw.args[op]
          : fixedWindowArgs(op, cost, only);
      return this.#runFixedWindow(op, id, options, cost, only, variant, args);
    }
    let outcome: ScriptOutcome;
    try {
      outcome = await this.#run(op, id, cost, estimate, rules);
    } catch (error) {
      if (!isRedbrickError(error, 'BACKEND_UNAVAILABLE')) throw error;
      return this.#unavailable(op, id, options, cost, rules, error);
    }
    const decision = toDecision(outcome, rules, cost, 'backend');
    if (cache) {
      if (op === 'c' && !decision.allowed) cache.set(id, variant, decision, this.#clock());
      else if (op === 'f') cache.delete(id);
    }
    return decision;
  }

  /** One fixed-window decision: the lean script, its reply read straight into the decision. */
  #runFixedWindow(
    op: Op,
    id: string,
    options: CheckOptions | undefined,
    cost: number,
    rule: CompiledRule,
    variant: string,
    args: readonly string[],
  ): Promise<RateLimitDecision> {
    const fw = this.#fixedWindow;
    let keys: readonly string[];
    if (fw !== undefined && rule === fw.rule) {
      keys = fw.keys.get(id) ?? this.#fixedWindowKeys(fw, id);
    } else {
      const base = this.#base(id);
      keys = [`${base}:b`, base + (rule.keys('', id, 0)[0] ?? '')];
    }
    const runNow = this.#runNow;
    if (runNow !== undefined) {
      // In process: the script runs now, and the decision is built without another promise.
      let reply: FixedWindowReply;
      try {
        reply = runNow(fixedWindowReplyScript, keys, args);
      } catch (error) {
        return this.#fixedWindowFailed(error, op, id, options, cost, rule);
      }
      return Promise.resolve(this.#fixedWindowDecision(reply, op, id, cost, rule, variant));
    }
    let sent: Promise<FixedWindowReply>;
    try {
      sent = this.#backend.run(fixedWindowReplyScript, keys, args);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      (reply) => this.#fixedWindowDecision(reply, op, id, cost, rule, variant),
      (error: unknown) => this.#fixedWindowFailed(error, op, id, options, cost, rule),
    );
  }

  /** The decision read from a fixed-window reply (see {@link FixedWindowReply}). */
  #fixedWindowDecision(
    reply: FixedWindowReply,
    op: Op,
    id: string,
    cost: number,
    rule: CompiledRule,
    variant: string,
  ): RateLimitDecision {
    const now = this.#clock();
    if (reply.length === 2) {
      // an allowed consume: [remaining, window left ms]
      return singleRuleDecision(rule, 0, 0, reply[0] ?? 0, now + (reply[1] ?? 0), 0, cost, now);
    }
    const [blocked = 0, status = 1, remaining = 0, windowLeftMs = 0, retry = 0] = reply;
    const decision = singleRuleDecision(
      rule,
      blocked < 0 ? Number.POSITIVE_INFINITY : blocked,
      status,
      remaining,
      now + windowLeftMs,
      retry < 0 ? Number.POSITIVE_INFINITY : retry,
      cost,
      now,
    );
    const cache = this.#cache;
    if (cache !== undefined) {
      if (op === 'c' && !decision.allowed) cache.set(id, variant, decision, now);
      else if (op === 'f') cache.delete(id);
    }
    return decision;
  }

  /** A failed fixed-window call: the outage policy answers an unavailable backend; anything else rejects. */
  #fixedWindowFailed(
    error: unknown,
    op: Op,
    id: string,
    options: CheckOptions | undefined,
    cost: number,
    rule: CompiledRule,
  ): Promise<RateLimitDecision> {
    if (!isRedbrickError(error, 'BACKEND_UNAVAILABLE')) return Promise.reject(error);
    return this.#unavailable(op, id, options, cost, [rule], error);
  }

  /** Builds (and remembers, up to {@link KEY_CACHE_SIZE} keys) a key's block and window keys. */
  #fixedWindowKeys(fw: FixedWindowPath, id: string): readonly string[] {
    const base = this.#base(id);
    const keys = [`${base}:b`, base + fw.suffix];
    // flat, already-hashed strings make every lookup cheaper; the cache starts over when full
    if (fw.keys.size >= KEY_CACHE_SIZE) fw.keys.clear();
    fw.keys.set(id, keys);
    return keys;
  }

  #run(
    op: Op,
    id: string,
    cost: number,
    estimate: UsageEstimate | undefined,
    rules: readonly CompiledRule[],
  ): Promise<ScriptOutcome> {
    const base = this.#base(id);
    const at = this.#clock();
    const blockKey = `${base}:b`;
    const only = rules.length === 1 ? rules[0] : undefined;
    if (only?.script) {
      return this.#backend.run(
        only.script,
        [blockKey, ...only.keys(base, id, at)],
        [op, cost, ...only.params(at)],
      );
    }
    const keys = [blockKey];
    const args: Array<string | number> = [op, rules.length];
    for (const rule of rules) {
      keys.push(...rule.keys(base, id, at));
      args.push(rule.code, rule.cost(cost, estimate), ...rule.params(at));
    }
    return this.#backend.run(compositeScript, keys, args);
  }

  async #unavailable(
    op: Op,
    id: string,
    options: CheckOptions | undefined,
    cost: number,
    rules: readonly CompiledRule[],
    error: unknown,
  ): Promise<RateLimitDecision> {
    const policy = this.#policy;
    if (policy === 'throw') throw error;
    if (policy === 'insurance') {
      const insurance = this.#insurance as RateLimiter;
      const answer =
        op === 'c'
          ? await insurance.check(id, options)
          : op === 'p'
            ? await insurance.peek(id, options)
            : op === 'r'
              ? await insurance.record(id, options)
              : await insurance.reward(id, cost, options);
      return { ...answer, source: 'insurance', error };
    }
    const now = this.#clock();
    const open = policy === 'fail-open';
    const retry = open ? 0 : this.#unavailableRetryAfterMs;
    const perRule: RuleDecision[] = rules.map((r) => ({
      name: r.name,
      kind: r.kind,
      algorithm: r.algorithm,
      allowed: open,
      limit: r.limit,
      remaining: open ? r.limit : 0,
      resetAt: now + retry,
      retryAfterMs: retry,
      windowMs: r.windowMs,
    }));
    const first = perRule[0] as RuleDecision;
    const source: DecisionSource = open ? 'fail-open' : 'fail-closed';
    return {
      allowed: open,
      limit: first.limit,
      remaining: first.remaining,
      resetAt: now + retry,
      retryAfterMs: retry,
      reason: open ? 'allowed' : 'backend-unavailable',
      deniedBy: undefined,
      source,
      cost,
      now,
      rules: perRule,
      error,
    };
  }
}

function fixedWindowArgs(op: Op, cost: number, rule: CompiledRule): string[] {
  const [limit, windowMs] = rule.params(0);
  return [op, String(cost), String(limit), String(windowMs)];
}

function fixedWindowPath(rule: CompiledRule): FixedWindowPath {
  return {
    rule,
    suffix: rule.keys('', '', 0)[0] ?? '',
    keys: new Map(),
    args: {
      c: fixedWindowArgs('c', 1, rule),
      p: fixedWindowArgs('p', 1, rule),
      r: fixedWindowArgs('r', 1, rule),
      f: fixedWindowArgs('f', 1, rule),
    },
  };
}

function checkEstimate(estimate: UsageEstimate): void {
  if (typeof estimate !== 'object' || estimate === null) {
    throw new ValidationError(`${P} estimate must be an object`, { field: 'estimate' });
  }
  if (estimate.tokens !== undefined) {
    assertInteger(estimate.tokens, 'estimate.tokens', { min: 0, pkg: PKG });
  }
  if (estimate.requests !== undefined) {
    assertInteger(estimate.requests, 'estimate.requests', { min: 0, pkg: PKG });
  }
  if (estimate.cost !== undefined) {
    assertFinite(estimate.cost, 'estimate.cost', PKG);
    if (estimate.cost < 0) {
      throw new ValidationError(`${P} estimate.cost must be ≥ 0`, { field: 'estimate.cost' });
    }
  }
}
