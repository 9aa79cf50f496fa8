import { sleep, until } from '@redbrick/testkit';
import { startRedisServer } from '@redbrick/testkit/servers';
import { describe, it } from 'vitest';
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
const COMMAND_TIMEOUT_MS = 500;
const PAUSE_MS = 1_500;

const wanted = process.env.REDBRICK_TARGETS?.split(',').map((t) => t.trim());
const onRedis = !wanted || wanted.length === 0 || wanted.includes('redis');

// Faults need a server this test owns (killed, paused, restarted): one redis-server with AOF
// (`appendfsync always`), so a restart keeps limits, leases, fencing counters and the stream —
// as production Redis holding locks should. Memory has no server to fault; the cluster's fault
// (a failover) is in cluster.failover.test.ts.
describe.runIf(onRedis)('multi-process app on redis under faults', () => {
  it(
    'redis paused (CLIENT PAUSE) and blocked (DEBUG SLEEP) past the command timeout, killed and restarted, a worker SIGKILLed: invariants hold and the survivors resume',
    async () => {
      // DEBUG is off by default since Redis 7; `local` allows it from loopback only.
      const server = await startRedisServer({
        appendonly: true,
        args: ['--enable-debug-command', 'local'],
      });
      const fleet = await processFleet(
        { type: 'redis', url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS },
        4,
      );
      try {
        const driver = new Driver({
          instances: fleet.instances,
          backend: fleet.backend,
          shape: SHAPE,
          rateLimit: fleet.settings.rateLimit,
        });
        // The next fault waits for the system to be back: `n` clean rounds in a row, all started
        // after the last fault.
        const recovered = (n: number) =>
          until(`${n} clean rounds`, () => driver.cleanStreak >= n, 60_000);
        let faultsDone = false;
        let faultError: unknown;
        const faults = (async () => {
          const deadline = Date.now() + (SOAK ? SOAK_MS : 0);
          do {
            await recovered(3);
            driver.fault(
              `redis paused ${PAUSE_MS} ms (CLIENT PAUSE ALL; command timeout ${COMMAND_TIMEOUT_MS} ms)`,
            );
            await server.pause(PAUSE_MS);
            await sleep(PAUSE_MS);
            await recovered(3);
            driver.fault(`redis blocked ${PAUSE_MS} ms (DEBUG SLEEP: no replies at all)`);
            await server.command('DEBUG', 'SLEEP', PAUSE_MS / 1000);
            await recovered(3);
            driver.fault('redis-server SIGKILLed, restarted 500 ms later');
            await server.kill();
            await sleep(500);
            await server.restart();
          } while (Date.now() < deadline);
          await recovered(3);
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
        await driver.resume(3);
        const checks = await driver.finish();
        console.log(driver.summary('multi-process app on redis under faults (4 worker processes)'));
        assertAll(checks);
      } finally {
        await fleet.close();
        await server.stop();
      }
    },
    SOAK ? SOAK_MS + 180_000 : 120_000,
  );
});
