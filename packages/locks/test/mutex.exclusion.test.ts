import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mutex } from '../src/index.js';
import { startWorker } from './support/processes.js';

/*
 * Mutual exclusion under real contention: workers increment a plain file
 * (read, wait, write — any overlap loses an update) inside withLock and
 * append "enter"/"exit" lines to a log with O_APPEND writes. On Redis and
 * Cluster the workers are separate processes (4 × 2 lanes); the memory
 * backend lives in one process, so there the lanes are async tasks on
 * 4 Mutex instances, each on its own client of the world (on shared-memory:
 * 4 IPC clients of the host, whose config cannot reach another process).
 */

const PROCESSES = 4;
const LANES = 2;
const INCREMENTS = 10;
const DELAY_MS = 3;

/** Every "enter" must be followed by the same worker's "exit"; fences must increase. */
function overlaps(log: string): { entries: number; problems: string[] } {
  const problems: string[] = [];
  let inside: string | undefined;
  let lastFence = 0;
  let entries = 0;
  for (const [n, line] of log.trim().split('\n').entries()) {
    const [kind, who, fence] = line.split(' ');
    if (kind === 'enter') {
      entries++;
      if (inside !== undefined)
        problems.push(`line ${n + 1}: ${who} entered while ${inside} was inside`);
      if (Number(fence) <= lastFence)
        problems.push(`line ${n + 1}: fence ${fence} after ${lastFence}`);
      lastFence = Number(fence);
      inside = who;
    } else {
      if (inside !== who)
        problems.push(`line ${n + 1}: ${who} left but ${inside ?? 'nobody'} was inside`);
      inside = undefined;
    }
  }
  return { entries, problems };
}

describe.each(worldTargets({ prefix: 'locks' }))('mutual exclusion on $name', (t) => {
  let world: World;
  let dir: string;
  beforeEach(async () => {
    world = await t.open();
    dir = mkdtempSync(join(tmpdir(), 'redbrick-locks-'));
  });
  afterEach(async () => {
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${PROCESSES * LANES} workers × ${INCREMENTS} increments never overlap`, async () => {
    const counterFile = join(dir, 'counter');
    const logFile = join(dir, 'log');
    writeFileSync(counterFile, '0');
    writeFileSync(logFile, '');
    const key = 'shared-counter';

    if (t.name === 'memory' || t.name === 'shared-memory') {
      const { appendFileSync } = await import('node:fs');
      const mutexes = await Promise.all(
        Array.from({ length: PROCESSES }, async () => new Mutex({ backend: await world.client() })),
      );
      await Promise.all(
        Array.from({ length: PROCESSES * LANES }, async (_, w) => {
          const mutex = mutexes[w % mutexes.length] as Mutex;
          for (let i = 0; i < INCREMENTS; i++) {
            await mutex.withLock(
              key,
              async (lease) => {
                appendFileSync(logFile, `enter w${w} ${lease.fence}\n`);
                const value = Number(readFileSync(counterFile, 'utf8'));
                await sleep(DELAY_MS);
                writeFileSync(counterFile, String(value + 1));
                appendFileSync(logFile, `exit w${w} ${lease.fence}\n`);
              },
              { waitMs: 60_000 },
            );
          }
        }),
      );
    } else {
      const config = await t.target.config();
      const workers = Array.from({ length: PROCESSES }, (_, id) =>
        startWorker({
          mode: 'exclusion',
          config,
          prefix: world.prefix,
          key,
          counterFile,
          logFile,
          increments: INCREMENTS,
          lanes: LANES,
          delayMs: DELAY_MS,
          id: `p${id}`,
        }),
      );
      const results = await Promise.all(workers.map((w) => w.exited));
      for (const r of results) expect(r.stderr).toBe('');
      expect(results.map((r) => r.code)).toEqual(workers.map(() => 0));
    }

    const total = PROCESSES * LANES * INCREMENTS;
    expect(Number(readFileSync(counterFile, 'utf8'))).toBe(total);
    const { entries, problems } = overlaps(readFileSync(logFile, 'utf8'));
    expect(problems).toEqual([]);
    expect(entries).toBe(total);
  }, 60_000);
});
