// A node:cluster app on the built package, for the shared-memory exactness test: the primary
// hosts one memory backend, each of WORKERS workers hammers ONE key per algorithm through the
// shared-memory client with many calls in flight, and the primary reports every worker's
// admissions to the test process (its parent) over IPC.
import cluster from 'node:cluster';
import { createSharedMemoryBackend, createSharedMemoryHost } from '@redbrick/memory-backend';
import { RateLimiter } from '../../dist/index.js';

const job = JSON.parse(process.env.REDBRICK_SHARED_JOB ?? '{}');

if (cluster.isPrimary) {
  const host = createSharedMemoryHost({ cluster: true });
  const results = [];
  let ready = 0;
  const workers = Array.from({ length: job.workers }, () => cluster.fork());
  for (const worker of workers) {
    worker.on('message', (message) => {
      if (message?.type === 'ready' && ++ready === workers.length) {
        // every worker is connected and warm: start them together
        for (const w of workers) w.send({ type: 'go' });
      }
      if (message?.type === 'done') {
        results.push(message);
        if (results.length === workers.length) {
          process.send({ type: 'results', results });
          for (const w of workers) w.kill();
          void host.close().then(() => process.exit(0));
        }
      }
      if (message?.type === 'error') {
        process.send({ type: 'error', message: message.message });
        process.exit(1);
      }
    });
  }
} else {
  const backend = createSharedMemoryBackend({ commandTimeoutMs: 20_000 });
  const limiters = job.algorithms.map(
    (algorithm) =>
      new RateLimiter({
        backend,
        name: `shared-${algorithm}`,
        algorithm,
        limit: job.limit,
        windowMs: job.windowMs,
        denyCache: false,
        onUnavailable: 'throw',
      }),
  );
  const run = async () => {
    const admitted = {};
    await Promise.all(
      limiters.map(async (limiter, i) => {
        let next = 0;
        let count = 0;
        const lane = async () => {
          while (next < job.attempts) {
            next += 1;
            if ((await limiter.check(job.key)).allowed) count += 1;
          }
        };
        await Promise.all(Array.from({ length: job.inFlight }, lane));
        admitted[job.algorithms[i]] = count;
      }),
    );
    process.send({ type: 'done', pid: process.pid, admitted });
  };
  process.on('message', (message) => {
    if (message?.type === 'go') {
      run().catch((error) =>
        process.send({ type: 'error', message: String(error?.stack ?? error) }),
      );
    }
  });
  Promise.all(limiters.map((l) => l.peek(job.key)))
    .then(() => process.send({ type: 'ready' }))
    .catch((error) => process.send({ type: 'error', message: String(error?.stack ?? error) }));
}
