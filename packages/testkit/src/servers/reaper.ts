import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * Throwaway servers must never outlive the test process, even when a test
 * runner kills its worker with SIGKILL (no `exit` handler runs then). Two
 * layers: an `exit` handler that SIGKILLs every live child, and one detached
 * watchdog shell per process that waits for this process to disappear and
 * then kills the pids listed in a file.
 */

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let pidFile: string | undefined;
let dirFile: string | undefined;
let watchdogDir: string | undefined;
let hooked = false;

function writeDirs(): void {
  if (dirFile === undefined) return;
  try {
    writeFileSync(dirFile, [...dirs].map((d) => `${d}\n`).join(''));
  } catch {
    // best effort
  }
}

function writePids(): void {
  if (pidFile === undefined) return;
  const pids = [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
  try {
    writeFileSync(pidFile, `${pids.join(' ')}\n`);
  } catch {
    // the watchdog is a second line of defence; the exit handler still runs
  }
}

function startWatchdog(): void {
  if (pidFile !== undefined) return;
  watchdogDir = mkdtempSync(join(tmpdir(), 'redbrick-reaper-'));
  pidFile = join(watchdogDir, 'pids');
  dirFile = join(watchdogDir, 'dirs');
  writeFileSync(pidFile, '\n');
  writeFileSync(dirFile, '');
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for p in $(cat '${pidFile}'); do kill -9 "$p" 2>/dev/null; done; sleep 0.2; while IFS= read -r d; do [ -n "$d" ] && rm -rf "$d"; done < '${dirFile}'; rm -rf '${watchdogDir}'`;
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
}

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  dirs.clear();
  if (watchdogDir !== undefined) {
    try {
      rmSync(watchdogDir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

/** Registers a child process to be killed when this process exits, however it exits. */
export function track(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', killAll);
  }
  startWatchdog();
  live.add(child);
  writePids();
  child.once('exit', () => {
    live.delete(child);
    writePids();
  });
}

/** Registers a temp directory to be removed when this process exits (unless released first). */
export function trackDir(dir: string): void {
  startWatchdog();
  dirs.add(dir);
  writeDirs();
}

/** The directory was removed by its owner. */
export function releaseDir(dir: string): void {
  dirs.delete(dir);
  writeDirs();
}
