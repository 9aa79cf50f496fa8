import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { createStream } from '../src/index.js';
import { startWorker } from './support/processes.js';

const MESSAGES = 2_000;

function logLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe.each(worldTargets({ prefix: 'ps' }).filter((t) => t.name !== 'memory'))(
  'durability on $name',
  (target) => {
    it('a consumer process killed with SIGKILL mid-stream: its pending entries go to another consumer, none lost', async () => {
      const prefix = `ps-${randomBytes(5).toString('hex')}`;
      const dir = mkdtempSync(join(tmpdir(), 'pubsub-durability-'));
      const logFile = join(dir, 'handled.log');
      const backend = await target.target.make();
      try {
        const scoped = backend.scoped(prefix);
        const stream = createStream({ backend: scoped, name: 'orders' });
        for (let i = 0; i < MESSAGES; i += 500) {
          await Promise.all(
            Array.from({ length: Math.min(500, MESSAGES - i) }, (_, j) => stream.append(i + j)),
          );
        }
        const victim = startWorker({
          mode: 'consumer',
          config: await target.target.config(),
          prefix,
          stream: 'orders',
          group: 'billing',
          consumer: 'victim',
          logFile,
          concurrency: 4,
          delayMs: 20,
        });
        expect(await victim.next()).toEqual({ ready: true });
        await until('the victim is mid-stream', () => logLines(logFile).length >= 200, 30_000);
        victim.child.kill('SIGKILL');
        const exit = await victim.exited;
        expect(exit.signal).toBe('SIGKILL');

        const orphaned = (await stream.pending('billing')).consumers.find(
          (c) => c.name === 'victim',
        );
        expect(orphaned?.count ?? 0).toBeGreaterThan(0);

        const byVictim = logLines(logFile).map((line) => Number(line.split(' ')[1]));
        const bySurvivor: number[] = [];
        const survivor = stream.consume(
          'billing',
          'survivor',
          (n) => void bySurvivor.push(Number(n)),
          {
            concurrency: 8,
            blockMs: 100,
            claimIdleMs: 1000,
            claimIntervalMs: 100,
          },
        );
        try {
          await until(
            'every message handled and nothing pending',
            async () =>
              new Set([...byVictim, ...bySurvivor]).size === MESSAGES &&
              (await stream.pending('billing')).count === 0,
            30_000,
          );
        } finally {
          await survivor.stop();
        }
        const handled = [...byVictim, ...bySurvivor];
        const counts = new Map<number, number>();
        for (const n of handled) counts.set(n, (counts.get(n) ?? 0) + 1);
        const missing = Array.from({ length: MESSAGES }, (_, i) => i).filter((i) => !counts.has(i));
        const duplicates = handled.length - counts.size;
        expect(missing).toEqual([]);
        expect(survivor.stats.redelivered).toBeGreaterThanOrEqual(orphaned?.count ?? 1);
        // At-least-once: only entries the victim handled but never acknowledged can repeat.
        expect(duplicates).toBeLessThanOrEqual(orphaned?.count ?? 0);
        console.info(
          `[pubsub durability ${target.name}] ${MESSAGES} entries: victim handled ${byVictim.length} before SIGKILL (${orphaned?.count} pending), survivor handled ${bySurvivor.length} (${survivor.stats.redelivered} redelivered); duplicates ${duplicates}, lost ${missing.length}`,
        );
      } finally {
        await backend.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  },
);
