import type { Scenario } from '../harness.js';
import { cacheScenarios } from './cache.js';
import { lockScenarios } from './locks.js';
import { memoryBackendScenarios } from './memory-backend.js';
import { pubsubScenarios } from './pubsub.js';
import { queueScenarios } from './queue.js';
import { ratelimitScenarios } from './ratelimit.js';
import { redisBackendScenarios } from './redis-backend.js';
import { sharedMemoryScenarios } from './shared-memory.js';

/** Every scenario, grouped by package. Package issues add theirs here. */
export const scenarios: Scenario[] = [
  ...memoryBackendScenarios,
  ...redisBackendScenarios,
  ...lockScenarios,
  ...ratelimitScenarios,
  ...pubsubScenarios,
  ...sharedMemoryScenarios,
  ...cacheScenarios,
  ...queueScenarios,
];
