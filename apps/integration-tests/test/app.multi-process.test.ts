import { createBackend } from '@redbrick/core';
import { testTargets } from '@redbrick/testkit';
import { describe, it } from 'vitest';
import { assertAll, Driver } from './support/load.js';
import { type Fleet, localFleet, processFleet, SOAK, SOAK_MS } from './support/run.js';

// Soak runs pace their rounds: the same load spread over the whole duration.
const SHAPE = {
  rateChecks: 10,
  increments: 4,
  threadAppends: 2,
  appends: 20,
  jobs: 5,
  minRoundMs: SOAK ? 100 : 0,
};
const ROUNDS = 15;
// Nobody dies here: a long takeover delay keeps a slow acknowledgement on a busy machine from
// turning into a (legitimate, but here unexpected) second handling.
const SETTINGS = { claimIdleMs: 15_000 };

describe.each(testTargets())('multi-process app on $name', (target) => {
  const where = target.name === 'memory' ? '4 instances in one process' : '4 worker processes';
  it(
    `${where}: rate limits, lock-protected counter, stream and channel invariants hold under load`,
    async () => {
      let fleet: Fleet;
      if (target.name === 'memory') {
        // The memory backend lives in one process: the instances share it in process.
        fleet = await localFleet(await createBackend({ type: 'memory' }), 4, SETTINGS);
      } else {
        fleet = await processFleet(
          await target.config({ redis: { commandTimeoutMs: 2_000 } }),
          4,
          SETTINGS,
        );
      }
      try {
        const driver = new Driver({
          instances: fleet.instances,
          backend: fleet.backend,
          shape: SHAPE,
          rateLimit: fleet.settings.rateLimit,
        });
        const deadline = Date.now() + (SOAK ? SOAK_MS : 0);
        await driver.roundsUntil(
          () => driver.rounds >= ROUNDS && Date.now() >= deadline,
          SOAK ? 1_000_000 : ROUNDS,
        );
        const checks = await driver.finish();
        console.log(driver.summary(`multi-process app on ${target.name} (${where})`));
        assertAll(checks);
      } finally {
        await fleet.close();
      }
    },
    SOAK ? SOAK_MS + 120_000 : 90_000,
  );
});
