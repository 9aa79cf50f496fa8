import type { Backend } from '@redbrick/core';
import { describe } from 'vitest';
import { adminTests } from './admin.js';
import { clusterTests } from './cluster.js';
import { type ConformanceCapabilities, conformanceContext } from './context.js';
import { expiryEventTests } from './expiry.js';
import { hashTests } from './hashes.js';
import { keyTests } from './keys.js';
import { listTests } from './lists.js';
import { pipelineTests } from './pipeline.js';
import { pubsubTests } from './pubsub.js';
import { scanTests } from './scan.js';
import { scopedTests } from './scoped.js';
import { scriptTests } from './scripts.js';
import { setTests } from './sets.js';
import { sortedSetTests } from './sorted-sets.js';
import { streamTests } from './streams.js';
import { stringTests } from './strings.js';
import { validationTests } from './validation.js';

export type { ConformanceCapabilities } from './context.js';

/**
 * Registers the Vitest suite every redbrick `Backend` must pass: every
 * command family with Redis 7.0 semantics (WRONGTYPE, TTL rules, empty
 * collections vanishing, streams and consumer groups, scan under
 * concurrent writes, pub/sub patterns, expiry events, pipelines, scripts
 * with reply normalisation), `scoped()` isolation fuzzed with fast-check,
 * argument validation and `close()`.
 *
 * One backend is made per suite (in `beforeAll`) and closed afterwards.
 * Every test works on a fresh random prefix (`rb-test-<random>:…`), never
 * assumes an empty keyspace and never flushes, so the suite can run against
 * a shared Redis; its keys are deleted at the end.
 *
 * @param name Shown in the test names, e.g. `'memory'` or `'redis-cluster'`.
 * @param makeBackend Creates the backend under test (also called by the `close()` test).
 * @param capabilities What the backend declares (`cluster`, `expiryEvents`, `blocking`, …).
 *
 * @example
 * import { backendConformance } from '@redbrick/testkit';
 * import { createMemoryBackend } from '@redbrick/memory-backend';
 *
 * backendConformance('memory', () => createMemoryBackend());
 */
export function backendConformance(
  name: string,
  makeBackend: () => Backend | Promise<Backend>,
  capabilities?: ConformanceCapabilities,
): void {
  describe(`backend conformance: ${name}`, () => {
    const ctx = conformanceContext(name, makeBackend, capabilities);
    keyTests(ctx);
    stringTests(ctx);
    hashTests(ctx);
    listTests(ctx);
    setTests(ctx);
    sortedSetTests(ctx);
    streamTests(ctx);
    scanTests(ctx);
    pubsubTests(ctx);
    expiryEventTests(ctx);
    scriptTests(ctx);
    pipelineTests(ctx);
    scopedTests(ctx);
    validationTests(ctx);
    adminTests(ctx);
    clusterTests(ctx);
  });
}
