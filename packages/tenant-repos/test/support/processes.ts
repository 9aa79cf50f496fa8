import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(PACKAGE, 'test', 'fixtures', 'worker.mjs');

/**
 * Workers run the built package (turbo's test task builds first). Fail
 * clearly when a module is missing from dist. (Modification times cannot
 * tell a stale build: turbo restores cached outputs with old ones.)
 */
function assertBuilt(): void {
  const src = join(PACKAGE, 'src');
  for (const file of readdirSync(src)) {
    const built = join(PACKAGE, 'dist', file.replace(/\.ts$/, '.js'));
    if (!existsSync(built)) {
      throw new Error(`${built} is missing: run \`pnpm build\` before these tests`);
    }
  }
}

/** A forked `fixtures/worker.mjs` and its IPC messages. */
export interface Worker {
  readonly child: ChildProcess;
  /** The next IPC message (in order). */
  next<T = Record<string, unknown>>(): Promise<T>;
  send(message: Record<string, unknown>): void;
  /** Resolves when the process exits, with its exit code, signal and stderr. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Forks a worker process with a job (see `fixtures/worker.mjs`). */
export function startWorker(job: Record<string, unknown>): Worker {
  assertBuilt();
  const child = fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const inbox: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  child.on('message', (m) => {
    const resolve = waiting.shift();
    if (resolve) resolve(m);
    else inbox.push(m);
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
  return {
    child,
    exited,
    next<T>() {
      if (inbox.length > 0) return Promise.resolve(inbox.shift() as T);
      return Promise.race([
        new Promise<T>((resolve) => waiting.push(resolve as (m: unknown) => void)),
        exited.then((e) => {
          throw new Error(`worker exited (${e.code ?? e.signal}) before answering:\n${e.stderr}`);
        }),
      ]);
    },
    send(message) {
      child.send(message);
    },
  };
}
