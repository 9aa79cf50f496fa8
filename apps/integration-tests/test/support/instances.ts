import { fileURLToPath } from 'node:url';
import { type Backend, type BackendConfig, withDeadline } from '@redbrick/core';
import { startWorker } from '@redbrick/testkit/processes';
import { App, type AppStats, type RoundOrder, type RoundReport } from '../../src/app.js';
import type { WorkerJob, WorkerMessage } from '../../src/protocol.js';

const APP_DIR = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('../../dist/worker.js', import.meta.url));

/** How long a worker may take to answer one order (a round, stats, a stop). */
const ANSWER_TIMEOUT_MS = 45_000;

/** Settings every instance of one run shares. */
export interface InstanceSettings {
  prefix: string;
  rateLimit: number;
  lockTtlMs: number;
  claimIdleMs: number;
}

/** One app instance as the driver sees it: a worker process, or an App in this process. */
export interface Instance {
  readonly id: string;
  readonly journalFile: string;
  /** Process id when it started (a process that was restarted would have another). */
  readonly startPid: number;
  readonly alive: boolean;
  round(order: RoundOrder): Promise<RoundReport>;
  stats(): Promise<AppStats>;
  /** Graceful stop: the stream consumer finishes and acknowledges, the connection closes. */
  stop(): Promise<AppStats>;
  /** SIGKILL (processes only). */
  kill?(): Promise<void>;
}

/** Forks `dist/worker.js` (run `pnpm build` first; the testkit checks that it is built). */
export async function startProcessInstance(
  id: string,
  config: BackendConfig,
  settings: InstanceSettings,
  journalFile: string,
): Promise<Instance> {
  const job: WorkerJob = { id, config, journalFile, ...settings };
  const worker = startWorker(WORKER, { ...job }, { packageDir: APP_DIR });
  let alive = true;
  void worker.exited.then(() => {
    alive = false;
  });
  const ask = async <T extends WorkerMessage['type']>(
    message: Record<string, unknown>,
    answer: T,
  ): Promise<Extract<WorkerMessage, { type: T }>> => {
    worker.send(message);
    // Every order is bounded inside the worker (each backend call has a deadline): an answer that
    // takes longer is a hang, and says which worker and which order instead of a bare test timeout.
    const reply = await withDeadline(
      worker.next<WorkerMessage>(),
      ANSWER_TIMEOUT_MS,
      () =>
        new Error(
          `worker ${id} did not answer ${JSON.stringify(message).slice(0, 120)} in ${ANSWER_TIMEOUT_MS} ms`,
        ),
    );
    if (reply.type !== answer)
      throw new Error(`worker ${id} answered ${reply.type}, not ${answer}`);
    return reply as Extract<WorkerMessage, { type: T }>;
  };
  const ready = await worker.next<WorkerMessage>();
  if (ready.type !== 'ready') throw new Error(`worker ${id} did not start: ${ready.type}`);
  return {
    id,
    journalFile,
    startPid: ready.pid,
    get alive() {
      return alive;
    },
    round: async (order) => (await ask({ type: 'round', order }, 'round')).report,
    stats: async () => (await ask({ type: 'stats' }, 'stats')).stats,
    stop: async () => {
      const { stats } = await ask({ type: 'stop' }, 'stopped');
      const exit = await worker.exited;
      if (exit.code !== 0)
        throw new Error(`worker ${id} exited with ${exit.code}:\n${exit.stderr}`);
      return stats;
    },
    kill: async () => {
      worker.child.kill('SIGKILL');
      const exit = await worker.exited;
      if (exit.signal !== 'SIGKILL') throw new Error(`worker ${id} was not SIGKILLed`);
    },
  };
}

/** The same app in this process, on a (scoped) backend shared with the other instances. */
export async function startLocalInstance(
  id: string,
  backend: Backend,
  settings: InstanceSettings,
  journalFile: string,
): Promise<Instance> {
  const app = await App.start({ backend, id, journalFile, ...settings });
  let alive = true;
  return {
    id,
    journalFile,
    startPid: process.pid,
    get alive() {
      return alive;
    },
    round: (order) => app.round(order),
    stats: async () => app.stats(),
    stop: async () => {
      alive = false;
      return app.stop();
    },
  };
}
