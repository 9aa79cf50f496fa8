import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker as start, type Worker } from '@redbrick/testkit/processes';

export type { Worker };

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(PACKAGE, 'test', 'fixtures', 'worker.mjs');

/** Forks `fixtures/worker.mjs` (a queue worker on the built package) with a job. */
export function startWorker(job: Record<string, unknown>): Worker {
  return start(WORKER, job, { packageDir: PACKAGE });
}
