import { BackendUnavailableError } from '@redbrick/core';

interface Pending {
  deadline: number;
  ms: number;
  reject: (error: unknown) => void;
}

/**
 * Bounds backend calls by a timeout without a timer per call: one coarse
 * sweeper (every `TICK_MS`, unref'd, only while calls are pending) rejects
 * calls past their deadline. A per-call `setTimeout` + `Promise.race` costs
 * more than a cache hit on the hot path.
 */
const TICK_MS = 10;
const pending = new Set<Pending>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = Date.now();
  for (const p of pending) {
    if (p.deadline <= now) {
      pending.delete(p);
      p.reject(
        new BackendUnavailableError(
          `[redbrick/cache] the backend did not answer within backendTimeoutMs (${p.ms} ms)`,
        ),
      );
    }
  }
  if (pending.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Resolves like `promise`, or rejects with `BACKEND_UNAVAILABLE` once `ms` have passed. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { deadline: Date.now() + ms, ms, reject };
    pending.add(entry);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, TICK_MS);
      sweeper.unref();
    }
    promise.then(
      (value) => {
        pending.delete(entry);
        resolve(value);
      },
      (error: unknown) => {
        pending.delete(entry);
        reject(error);
      },
    );
  });
}
