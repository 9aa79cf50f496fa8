import type { RateLimitDecision } from './decision.js';

/** Options of {@link rateLimitHeaders}. */
export interface RateLimitHeaderOptions {
  /** Include `RateLimit-Policy` (the rules' quotas and windows). @default true */
  policy?: boolean;
}

function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The IETF rate-limit response headers of a decision
 * (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` (each rule's
 * quota `q` per window `w` seconds), `RateLimit` (each rule's remaining
 * units `r` and seconds `t` until its quota resets), and `Retry-After`
 * (whole seconds) on a denial that can be retried. Rules whose limit is not
 * a whole number (cost budgets) are left out.
 *
 * @example
 * for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
 * // RateLimit-Policy: "second";q=10;w=1, "day";q=1000;w=86400
 * // RateLimit: "second";r=9;t=1, "day";r=999;t=86400
 */
export function rateLimitHeaders(
  decision: RateLimitDecision,
  options: RateLimitHeaderOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {};
  const policies: string[] = [];
  const current: string[] = [];
  for (const rule of decision.rules) {
    if (!Number.isSafeInteger(rule.limit)) continue;
    const name = sfString(rule.name);
    let policy = `${name};q=${rule.limit}`;
    if (rule.windowMs !== undefined) policy += `;w=${Math.max(1, Math.ceil(rule.windowMs / 1000))}`;
    policies.push(policy);
    const reset = Math.max(0, Math.ceil((rule.resetAt - decision.now) / 1000));
    const remaining = decision.reason === 'blocked' ? 0 : Math.max(0, Math.floor(rule.remaining));
    current.push(
      Number.isFinite(reset) ? `${name};r=${remaining};t=${reset}` : `${name};r=${remaining}`,
    );
  }
  if (options.policy !== false && policies.length > 0)
    headers['RateLimit-Policy'] = policies.join(', ');
  if (current.length > 0) headers.RateLimit = current.join(', ');
  if (!decision.allowed && Number.isFinite(decision.retryAfterMs)) {
    headers['Retry-After'] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
  }
  return headers;
}
