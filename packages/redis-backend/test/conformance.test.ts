import { backendConformance, testTargets } from '@redbrick/testkit';

/*
 * The shared conformance suite on one redis-server and on a 3-primary Redis
 * Cluster: the same test code, targets swapped by the testkit's factory.
 * (The memory target runs the suite in @redbrick/memory-backend.)
 *
 * Publish counts are exact on Cluster too: channel subscribers are counted by
 * SPUBLISH on the slot's owner, and pattern subscribers by the PUBLISH sent
 * to the one hub primary they all subscribe on.
 */
for (const target of testTargets().filter((t) => t.name !== 'memory')) {
  backendConformance(`redis-backend on ${target.name}`, () => target.make(), {
    ...target.capabilities,
    exactPublishCount: true,
  });
}
