import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker as start, type Worker } from '@redbrick/testkit/processes';

export type { Worker };

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(PACKAGE, 'test', 'fixtures', 'worker.mjs');

/** Forks this package's `fixtures/worker.mjs` with a job (it imports the built package). */
export function startWorker(job: Record<string, unknown>): Worker {
  return start(WORKER, job, { packageDir: PACKAGE });
}
