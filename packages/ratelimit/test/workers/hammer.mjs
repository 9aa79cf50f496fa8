// A worker process for the concurrency tests: it connects to Redis, then
// hammers one limiter key with many calls in flight when told to go, and
// reports how many were admitted. Plain JavaScript on the built package, so
// it runs under bare `node` (the parent test builds nothing).
import { createRedisBackend } from '@redbrick/redis-backend';
import { RateLimiter } from '../../dist/index.js';

let backend;
const jobs = new Map();

async function prepare(job) {
  backend ??= await createRedisBackend(job.config);
  const limiter = new RateLimiter({
    backend,
    name: job.name,
    algorithm: job.algorithm,
    limit: job.limit,
    windowMs: job.windowMs,
    denyCache: false,
    onUnavailable: 'throw',
  });
  // loads the script on the node that owns the key, so the race starts warm
  await limiter.peek(job.key);
  jobs.set(job.id, { job, limiter });
  process.send({ type: 'ready', id: job.id });
}

async function run(id) {
  const { job, limiter } = jobs.get(id);
  let admitted = 0;
  let denied = 0;
  let next = 0;
  const startedAt = Date.now();
  const lane = async () => {
    while (next < job.attempts) {
      next += 1;
      const d = await limiter.check(job.key);
      if (d.allowed) admitted += 1;
      else denied += 1;
    }
  };
  await Promise.all(Array.from({ length: job.inFlight }, lane));
  process.send({ type: 'done', id, admitted, denied, startedAt, endedAt: Date.now() });
}

process.on('message', (message) => {
  const work =
    message.type === 'prepare'
      ? prepare(message.job)
      : message.type === 'go'
        ? run(message.id)
        : (async () => {
            await backend?.close();
            process.exit(0);
          })();
  work.catch((error) => {
    process.send({ type: 'error', message: String(error?.stack ?? error) });
  });
});
process.send({ type: 'started' });
