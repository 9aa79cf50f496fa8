export { compositeScript } from './composite.js';
export type {
  DecisionReason,
  DecisionSource,
  RateLimitDecision,
  RuleDecision,
} from './decision.js';
export type { ScriptOutcome } from './engine.js';
export { fixedWindowScript } from './fixed-window.js';
export { gcraScript } from './gcra.js';
export { type RateLimitHeaderOptions, rateLimitHeaders } from './headers.js';
export {
  type ExpressRequestLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type HonoContextLike,
  type NodeRequestLike,
  type NodeResponseLike,
  type RateLimitHttpOptions,
  rateLimitExpress,
  rateLimitFastify,
  rateLimitHono,
  rateLimitNode,
} from './middleware.js';
export type { Period } from './periods.js';
export {
  type CheckOptions,
  type OutagePolicy,
  RateLimiter,
  type RateLimiterOptions,
  type RuleInfo,
} from './rate-limiter.js';
export type {
  Algorithm,
  BudgetRule,
  LimitRule,
  RateRule,
  UsageEstimate,
} from './rules.js';
export { slidingLogScript } from './sliding-log.js';
export { slidingWindowScript } from './sliding-window.js';
export { tokenBucketScript } from './token-bucket.js';
export {
  type Quota,
  type Usage,
  type UsageAmounts,
  UsageMeter,
  type UsageMeterOptions,
  type UsageMetric,
  type UsageRange,
  type UsageTotals,
  usageRecordScript,
} from './usage-meter.js';
