/**
 * A worker process: one app instance on its own backend connection,
 * commanded by the driver (the test) over IPC. Forked from `dist/worker.js`
 * with the {@link WorkerJob} as its JSON argument.
 */
import { createBackend } from '@redbrick/core';
import { App } from './app.js';
import type { DriverMessage, WorkerJob, WorkerMessage } from './protocol.js';

const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('worker.js must be forked with an IPC channel'));
      return;
    }
    process.send(message, (error: Error | null) => (error ? reject(error) : resolve()));
  });
}

const root = await createBackend(job.config);
const app = await App.start({
  backend: root.scoped(job.prefix),
  id: job.id,
  journalFile: job.journalFile,
  rateLimit: job.rateLimit,
  lockTtlMs: job.lockTtlMs,
  claimIdleMs: job.claimIdleMs,
});

// A driver that is gone (its test timed out, its process died) will send nothing more: exit
// instead of staying behind, still connected, as an orphan.
let stopped = false;
process.on('disconnect', () => process.exit(stopped ? 0 : 1));

// One request at a time: the driver waits for each answer before it sends the next.
process.on('message', (raw) => {
  const message = raw as DriverMessage;
  void (async () => {
    if (message.type === 'round') {
      await send({ type: 'round', report: await app.round(message.order) });
    } else if (message.type === 'stats') {
      await send({ type: 'stats', stats: app.stats() });
    } else if (message.type === 'stop') {
      const stats = await app.stop();
      await root.close();
      await send({ type: 'stopped', stats });
      stopped = true;
      process.disconnect();
    }
  })().catch((error: unknown) => {
    process.stderr.write(`worker ${job.id} failed: ${String(error)}\n`);
    process.exit(1);
  });
});

await send({ type: 'ready', pid: process.pid });
