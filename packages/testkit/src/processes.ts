import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A forked worker process and its IPC messages. */
export interface Worker {
  readonly child: ChildProcess;
  /** The next IPC message (in order); rejects if the process exits first. */
  next<T = Record<string, unknown>>(): Promise<T>;
  send(message: Record<string, unknown>): void;
  /** Resolves when the process exits, with its exit code, signal and stderr. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export interface StartWorkerOptions {
  /**
   * The package whose built `dist/` the worker imports: every `src/*.ts`
   * must have its `dist/*.js`, or the start fails with a clear message.
   * (Modification times cannot tell a stale build: turbo restores cached
   * outputs with old ones.)
   */
  packageDir?: string;
}

function assertBuilt(packageDir: string): void {
  const src = join(packageDir, 'src');
  for (const file of readdirSync(src)) {
    if (!file.endsWith('.ts')) continue;
    const built = join(packageDir, 'dist', file.replace(/\.ts$/, '.js'));
    if (!existsSync(built)) {
      throw new Error(
        `[redbrick/testkit] ${built} is missing: run \`pnpm build\` before these tests`,
      );
    }
  }
}

/**
 * Forks `script` (a plain `.mjs` worker) with `job` as its JSON argument,
 * for tests that need real concurrency or real crashes (SIGKILL, SIGSTOP).
 */
export function startWorker(
  script: string,
  job: Record<string, unknown>,
  options: StartWorkerOptions = {},
): Worker {
  if (options.packageDir) assertBuilt(options.packageDir);
  const child = fork(script, [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
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
          throw new Error(
            `[redbrick/testkit] worker exited (${e.code ?? e.signal}) before answering:\n${e.stderr}`,
          );
        }),
      ]);
    },
    send(message) {
      child.send(message);
    },
  };
}
