import { hashSlot } from '@redbrick/core';
import { until } from '@redbrick/testkit';
import { startRedisCluster } from '@redbrick/testkit/servers';
import { describe, it } from 'vitest';
import { NAMES } from '../src/app.js';
import { failover, migrateSlot } from './support/cluster.js';
import { assertAll, Driver } from './support/load.js';
import { processFleet, SOAK, SOAK_MS } from './support/run.js';

const SHAPE = {
  rateChecks: 10,
  increments: 3,
  threadAppends: 2,
  appends: 15,
  jobs: 5,
  minRoundMs: 100,
};

const wanted = process.env.REDBRICK_TARGETS?.split(',').map((t) => t.trim());
const onCluster = !wanted || wanted.length === 0 || wanted.includes('cluster');

// The cluster target of the matrix has no replicas; this scenario needs its own cluster with one
// replica per master, so that a replica can be promoted under load.
describe.runIf(onCluster)('multi-process app on a 3-master cluster under topology changes', () => {
  it(
    'a replica promoted (CLUSTER FAILOVER), a slot migrated (ASK, then MOVED), a worker SIGKILLed during load: invariants hold',
    async () => {
      const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
      const fleet = await processFleet(
        { type: 'redis', cluster: { nodes: cluster.nodes }, commandTimeoutMs: 1_000 },
        4,
      );
      let watchdog: NodeJS.Timeout | undefined;
      try {
        const driver = new Driver({
          instances: fleet.instances,
          backend: fleet.backend,
          shape: SHAPE,
          rateLimit: fleet.settings.rateLimit,
        });
        const recovered = (n: number) =>
          until(`${n} clean rounds`, () => driver.cleanStreak >= n, 60_000);
        // Every key of the mutex (lease, fencing counter) is in the slot of its `{counter}` tag,
        // every key of the stream in the slot of `{events}`.
        const lockSlot = hashSlot(`{${NAMES.lock}}`);
        const streamSlot = hashSlot(`{${NAMES.stream}}`);
        // Where the scenario is, printed if it runs long: a hang then names its step.
        let phase = 'load before the first fault';
        watchdog = setTimeout(() => {
          console.error(
            `[failover] still running after 90 s: ${phase}; ${driver.rounds} rounds, clean streak ${driver.cleanStreak}, faults: ${driver.tally.faults.join('; ')}; waiting for: ${driver.step || 'nothing'}`,
          );
        }, 90_000);
        let faultsDone = false;
        let faultError: unknown;
        const faults = (async () => {
          const deadline = Date.now() + (SOAK ? SOAK_MS : 0);
          do {
            phase = 'waiting for 3 clean rounds before the lock failover';
            await recovered(3);
            phase = 'failing over the lock slot';
            driver.fault(`failover of the lock's slot ${lockSlot}`);
            const f = await failover(cluster, lockSlot);
            driver.tally.faults[driver.tally.faults.length - 1] +=
              ` (master :${f.from} → replica :${f.to})`;
            phase = 'waiting for 3 clean rounds before the slot migration';
            await recovered(3);
            phase = 'migrating the stream slot';
            driver.fault(`migration of the stream's slot ${streamSlot}`);
            const m = await migrateSlot(cluster, streamSlot, 150, 1_000);
            driver.tally.faults[driver.tally.faults.length - 1] +=
              ` (:${m.from} → :${m.to}, ${m.keys} keys, ASK for ≥ 1 s)`;
            phase = 'waiting for 3 clean rounds before the stream failover';
            await recovered(3);
            phase = 'failing over the stream slot';
            driver.fault(`failover of the stream's slot ${streamSlot}`);
            const g = await failover(cluster, streamSlot);
            driver.tally.faults[driver.tally.faults.length - 1] +=
              ` (master :${g.from} → replica :${g.to})`;
          } while (Date.now() < deadline);
          phase = 'waiting for 3 clean rounds before the SIGKILL';
          await recovered(3);
          phase = 'killing a worker mid-round';
          const victim = fleet.instances[3];
          if (!victim) throw new Error('the fleet has no fourth worker');
          await driver.killMidRound(victim);
          faultsDone = true;
        })().catch((error: unknown) => {
          faultError = error ?? new Error('fault injection failed');
        });
        await driver.roundsUntil(() => faultsDone || faultError !== undefined, 1_000_000);
        await faults;
        if (faultError !== undefined) throw faultError;
        phase = 'survivors resuming';
        await driver.resume(3);
        phase = 'finishing (draining, converging, checking)';
        const checks = await driver.finish();
        console.log(
          driver.summary(
            'multi-process app on a 3-master cluster with replicas (4 worker processes)',
          ),
        );
        assertAll(checks);
      } finally {
        clearTimeout(watchdog);
        await fleet.close();
        await cluster.stop();
      }
    },
    SOAK ? SOAK_MS + 180_000 : 240_000,
  );
});
