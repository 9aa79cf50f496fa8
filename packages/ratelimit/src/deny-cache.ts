import type { RateLimitDecision } from './decision.js';

interface Entry {
  /** The per-call limit/window the denial was made with ('' for the limiter's own rules). */
  variant: string;
  /** Local clock (ms) until which the denial holds. */
  until: number;
  /** The smallest cost the denial applies to. */
  cost: number;
  decision: RateLimitDecision;
}

/**
 * Remembers denials in this process: once a key is denied for cost c until
 * t, any request of cost ≥ c before t is denied without a round trip (the
 * state can only get better with time, so the answer would be the same —
 * unless another process calls `reward`/`reset`, which this cache cannot
 * see). Bounded: the oldest entries go first.
 */
export class DenyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A cached denial for this key, rules and cost, with `retryAfterMs` brought up to date. */
  get(id: string, variant: string, cost: number, now: number): RateLimitDecision | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (now >= entry.until) {
      this.#entries.delete(id);
      return undefined;
    }
    if (entry.variant !== variant || cost < entry.cost) return undefined;
    const retryAfterMs = entry.until - now;
    return { ...entry.decision, retryAfterMs, cost, source: 'cache', now };
  }

  /** Remembers a denial (only those with a finite wait); one per key, the latest. */
  set(id: string, variant: string, decision: RateLimitDecision, now: number): void {
    if (decision.allowed || decision.source !== 'backend') return;
    if (decision.reason !== 'limited' && decision.reason !== 'blocked') return;
    if (!Number.isFinite(decision.retryAfterMs) || decision.retryAfterMs <= 0) return;
    // a budget denial depends on the estimate, which the cache does not key on
    if (decision.rules.some((r) => r.kind === 'budget' && !r.allowed)) return;
    this.#entries.delete(id);
    if (this.#entries.size >= this.#maxKeys) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(id, {
      variant,
      until: now + decision.retryAfterMs,
      cost: decision.reason === 'blocked' ? 1 : decision.cost,
      decision,
    });
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  clear(): void {
    this.#entries.clear();
  }
}
