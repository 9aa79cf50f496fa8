import { randomBytes } from 'node:crypto';
import { until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createChannel } from '../src/index.js';
import { startWorker } from './support/processes.js';

const PUBLISHERS = 2;
const PER_PUBLISHER = 5_000; // 10,000 messages in all
const SUBSCRIBERS = 3;

interface Report {
  received: number;
  outOfOrder: number;
  gaps: number;
  perPublisher: Record<string, number>;
}

describe.each(worldTargets({ prefix: 'ps' }).filter((t) => t.name !== 'memory'))(
  'delivery on $name',
  (target) => {
    it(`${PUBLISHERS * PER_PUBLISHER} messages reach ${SUBSCRIBERS} subscriber processes complete and in order per publisher`, async () => {
      const prefix = `ps-${randomBytes(5).toString('hex')}`;
      const config = await target.target.config();
      const workers = Array.from({ length: SUBSCRIBERS }, () =>
        startWorker({
          mode: 'subscriber',
          config,
          prefix,
          channel: 'firehose',
          expected: PUBLISHERS * PER_PUBLISHER,
        }),
      );
      try {
        for (const w of workers) expect(await w.next()).toEqual({ ready: true });
        const backend = await target.target.make();
        try {
          const scoped = backend.scoped(prefix);
          const publishers = Array.from({ length: PUBLISHERS }, () =>
            createChannel({ backend: scoped, name: 'firehose' }),
          );
          // Every subscriber connection is in place before the run.
          await until(
            '3 receivers',
            async () =>
              (await createChannel({ backend: scoped, name: 'firehose' }).publish('probe')) >=
              SUBSCRIBERS,
          );
          const started = performance.now();
          const receivers: number[] = [];
          for (let i = 0; i < PER_PUBLISHER; i += 500) {
            const batch: Array<Promise<number>> = [];
            for (let j = i; j < Math.min(i + 500, PER_PUBLISHER); j++) {
              for (const p of publishers) batch.push(p.publish(j));
            }
            receivers.push(...(await Promise.all(batch)));
          }
          const publishMs = performance.now() - started;
          expect(receivers.every((n) => n >= SUBSCRIBERS)).toBe(true);
          const reports: Report[] = [];
          for (const w of workers) w.send({ report: true });
          for (const w of workers) reports.push(await w.next<Report>());
          const totalMs = performance.now() - started;
          for (const report of reports) {
            const fromPublishers = publishers.map((p) => report.perPublisher[p.publisherId]);
            expect(fromPublishers).toEqual(publishers.map(() => PER_PUBLISHER));
            expect(report.outOfOrder).toBe(0);
            expect(report.gaps).toBe(0);
            expect(report.received).toBe(PUBLISHERS * PER_PUBLISHER);
          }
          console.info(
            `[pubsub delivery ${target.name}] ${PUBLISHERS * PER_PUBLISHER} msgs × ${SUBSCRIBERS} subscriber processes: publish ${publishMs.toFixed(0)} ms, all reported ${totalMs.toFixed(0)} ms`,
          );
        } finally {
          await backend.close();
        }
      } finally {
        for (const w of workers) w.child.kill('SIGKILL');
      }
    }, 60_000);
  },
);
