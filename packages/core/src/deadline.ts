interface Pending {
  readonly deadline: number;
  readonly reject: (error: unknown) => void;
  readonly onTimeout: () => Error;
}

/** How often the sweep looks for calls past their deadline. */
const TICK_MS = 10;
const pending = new Set<Pending>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  const now = Date.now();
  for (const p of pending) {
    if (p.deadline <= now) {
      pending.delete(p);
      p.reject(p.onTimeout());
    }
  }
  if (pending.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * Resolves or rejects like `promise`, or rejects with `onTimeout()` once
 * `ms` have passed (the work itself goes on; its late result is dropped).
 *
 * There is no timer per call: one coarse sweep (every 10 ms, unref'd, only
 * while calls are pending) rejects the calls past their deadline, so a call
 * fails between `ms` and `ms` + 10 ms after it started. A `setTimeout` +
 * `Promise.race` per call measurably slows a hot path that waits on the
 * network (about 5% of a BullMQ enqueue→process cycle, measured in `bench/`).
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { deadline: Date.now() + ms, reject, onTimeout };
    pending.add(entry);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, TICK_MS);
      sweeper.unref?.();
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
