import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * Issue 10: a rate limit shared by 4 node:cluster workers through the
 * shared-memory backend admits exactly the limit. The primary hosts the
 * memory backend; every worker's decisions run as scripts on it, atomically.
 */

const APP = fileURLToPath(new URL('./workers/shared-cluster.mjs', import.meta.url));
const ALGORITHMS = ['fixed-window', 'sliding-log', 'token-bucket', 'gcra'] as const;
const WORKERS = 4;
const LIMIT = 500;
const ATTEMPTS = 1500; // per worker and algorithm: 6,000 attempts at a limit of 500

interface WorkerResult {
  pid: number;
  admitted: Record<(typeof ALGORITHMS)[number], number>;
}

function runApp(): Promise<WorkerResult[]> {
  const job = {
    workers: WORKERS,
    algorithms: ALGORITHMS,
    limit: LIMIT,
    // long enough that no window ends and no token refills during the run
    windowMs: 3_600_000,
    attempts: ATTEMPTS,
    inFlight: 32,
    key: 'api-key-1',
  };
  const child = fork(APP, [], {
    env: { ...process.env, REDBRICK_SHARED_JOB: JSON.stringify(job) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the cluster app did not finish within 60 s'));
    }, 60_000);
    child.on('message', (message: { type: string; results?: WorkerResult[]; message?: string }) => {
      if (message.type === 'results' && message.results) {
        clearTimeout(timer);
        resolve(message.results);
      }
      if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`cluster app: ${message.message}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster app exited (${code}) before reporting`));
    });
  });
}

describe('a limiter shared by node:cluster workers (shared-memory backend)', () => {
  it(`${WORKERS} workers × ${ATTEMPTS} attempts on one key admit exactly the limit (${LIMIT}) for every exact algorithm`, {
    timeout: 90_000,
  }, async () => {
    const results = await runApp();
    expect(results).toHaveLength(WORKERS);
    expect(new Set(results.map((r) => r.pid)).size).toBe(WORKERS);
    for (const algorithm of ALGORITHMS) {
      const perWorker = results.map((r) => r.admitted[algorithm]);
      const total = perWorker.reduce((a, b) => a + b, 0);
      console.log(
        `[shared-memory] ${algorithm}: ${WORKERS} workers admitted ${perWorker.join(' + ')} = ${total} of ${WORKERS * ATTEMPTS} (limit ${LIMIT})`,
      );
      expect(total).toBe(LIMIT);
      // the race was real: more than one worker got admissions
      expect(perWorker.filter((n) => n > 0).length).toBeGreaterThan(1);
    }
  });
});
