import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { createSharedMemoryBackend, createSharedMemoryHost } from '@redbrick/memory-backend';
import { RateLimiter } from '@redbrick/ratelimit';
import { RateLimiterCluster, RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Scenario } from '../harness.js';

/*
 * Issue 10: a rate limiter shared by the workers of a node:cluster app on one
 * machine, without Redis. Redbrick side: the shared-memory backend (host in
 * the bench process, the cluster primary; clients in the workers). Baseline:
 * rate-limiter-flexible's RateLimiterCluster / RateLimiterClusterMaster. Both
 * sides run in the same 2 workers, on the same keys, with the same number of
 * decisions in flight (1 or 16 per worker). One op = one burst: every worker makes PER_WORKER
 * decisions and answers; decisions/s = ops/s × WORKERS × PER_WORKER.
 */

const ROLE = 'redbrick-bench-shared-memory';
const WORKERS = 2;
const PER_WORKER = 100;
const KEYS = 1000;
// High enough that no bench decision is denied: both sides do the full work of an admission.
const LIMIT = 1_000_000_000;
const WINDOW_MS = 3_600_000;

type Side = 'redbrick' | 'baseline';
type Job =
  | { op: 'run'; side: Side; n: number; inFlight: number }
  | { op: 'limit'; key: string; limit: number; n: number };
interface Envelope {
  bench: typeof ROLE;
  seq: number;
}

async function runConcurrently(n: number, inFlight: number, op: () => Promise<unknown>) {
  let started = 0;
  const loop = async () => {
    while (started < n) {
      started++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, loop));
}

/** The worker side: both limiters, driven by the primary's jobs. */
async function workerMain(): Promise<void> {
  const backend = createSharedMemoryBackend({ commandTimeoutMs: 10_000 });
  const limiter = new RateLimiter({
    backend,
    algorithm: 'fixed-window',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    denyCache: false,
  });
  const rlf = new RateLimiterCluster({
    keyPrefix: 'rlf-bench',
    points: LIMIT,
    duration: WINDOW_MS / 1000,
    timeoutMs: 10_000,
  });
  let i = 0;
  const next = () => `k:${i++ % KEYS}`;
  const reply = (message: Record<string, unknown>) => process.send?.(message);
  process.on('message', (raw: unknown) => {
    const message = raw as Partial<Envelope> & { job?: Job };
    if (message?.bench !== ROLE || !message.job) return;
    const { seq, job } = message;
    if (job.op === 'run') {
      const decide =
        job.side === 'redbrick' ? () => limiter.check(next()) : () => rlf.consume(next());
      runConcurrently(job.n, job.inFlight, decide).then(
        () => reply({ bench: ROLE, seq }),
        (error: unknown) => reply({ bench: ROLE, seq, error: String(error) }),
      );
    } else {
      const exact = new RateLimiter({
        backend,
        algorithm: 'fixed-window',
        limit: job.limit,
        windowMs: WINDOW_MS,
        denyCache: false,
      });
      let allowed = 0;
      runConcurrently(job.n, 16, async () => {
        if ((await exact.check(job.key)).allowed) allowed++;
      }).then(
        () => reply({ bench: ROLE, seq, allowed }),
        (error: unknown) => reply({ bench: ROLE, seq, error: String(error) }),
      );
    }
  });
  reply({ bench: ROLE, seq: 0 });
}

if (cluster.isWorker && process.env.REDBRICK_BENCH_ROLE === ROLE) {
  void workerMain();
}

/** Talks to one bench worker: `job` → its answer. */
function driver(worker: Worker) {
  let seq = 0;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  worker.on('message', (raw: unknown) => {
    const message = raw as Partial<Envelope> & Record<string, unknown>;
    if (message?.bench !== ROLE || typeof message.seq !== 'number') return;
    waiting.get(message.seq)?.(message);
    waiting.delete(message.seq);
  });
  const ready = new Promise<void>((resolve, reject) => {
    waiting.set(0, () => resolve());
    worker.once('exit', (code) => reject(new Error(`bench worker exited (${code})`)));
  });
  return {
    ready,
    async send(job: Job): Promise<Record<string, unknown>> {
      const id = ++seq;
      const answer = await new Promise<Record<string, unknown>>((resolve) => {
        waiting.set(id, resolve);
        worker.send({ bench: ROLE, seq: id, job });
      });
      if (typeof answer.error === 'string') throw new Error(`bench worker: ${answer.error}`);
      return answer;
    },
  };
}

function forkWorkers(n: number, host: ReturnType<typeof createSharedMemoryHost>) {
  cluster.setupPrimary({
    exec: fileURLToPath(import.meta.url),
    args: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return Array.from({ length: n }, () => {
    const worker = cluster.fork({ REDBRICK_BENCH_ROLE: ROLE });
    host.attach(worker);
    return { worker, ...driver(worker) };
  });
}

/**
 * Correctness spot check: 4 cluster workers share one limit of 100 and
 * make 60 decisions each on the same key, concurrently; exactly 100 are
 * admitted.
 */
async function checkExactLimit(
  drivers: Array<{ send(job: Job): Promise<Record<string, unknown>> }>,
): Promise<void> {
  const key = `spot:${Date.now()}:${Math.random()}`;
  const answers = await Promise.all(
    drivers.map((d) => d.send({ op: 'limit', key, limit: 100, n: 60 })),
  );
  const allowed = answers.reduce((sum, a) => sum + Number(a.allowed), 0);
  if (drivers.length !== 4 || allowed !== 100) {
    throw new Error(`${drivers.length} workers sharing a limit of 100 admitted ${allowed} of 240`);
  }
}

/**
 * Issue 10: decisions/s of a limiter shared by 2 cluster workers vs
 * rate-limiter-flexible's cluster limiter, with 1 and 16 decisions in flight per worker.
 */
export const sharedMemoryScenarios: Scenario[] = [1, 16].map(
  (inFlight): Scenario => ({
    package: 'memory-backend',
    name: `shared fixed-window check, ${WORKERS} cluster workers × ${inFlight} in flight (1 op = ${WORKERS * PER_WORKER} decisions)`,
    backend: 'shared-memory',
    baseline: 'rate-limiter-flexible (RateLimiterCluster)',
    inFlight: 1,
    target: 1.0,
    async setup() {
      new RateLimiterClusterMaster();
      const host = createSharedMemoryHost({ cluster: false });
      const workers = forkWorkers(WORKERS, host);
      await Promise.all(workers.map((w) => w.ready));
      const burst = (side: Side) => () =>
        Promise.all(workers.map((w) => w.send({ op: 'run', side, n: PER_WORKER, inFlight })));
      return {
        redbrick: burst('redbrick'),
        baseline: burst('baseline'),
        async check() {
          const more = forkWorkers(4 - WORKERS, host);
          workers.push(...more);
          await Promise.all(more.map((w) => w.ready));
          await checkExactLimit(workers);
        },
        async teardown() {
          await Promise.all(
            workers.map(
              ({ worker }) =>
                new Promise<void>((resolve) => {
                  if (worker.isDead()) return resolve();
                  worker.once('exit', () => resolve());
                  worker.process.kill('SIGKILL');
                }),
            ),
          );
          await host.close();
        },
      };
    },
  }),
);
