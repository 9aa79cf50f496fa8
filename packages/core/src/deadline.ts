/** A call waiting for its result; a node of the doubly linked list of pending calls. */
interface Pending {
  readonly deadline: number;
  readonly reject: (error: unknown) => void;
  readonly onTimeout: () => Error;
  prev: Pending | undefined;
  next: Pending | undefined;
  /** Still in the list (false once settled or timed out). */
  linked: boolean;
}

/** How often the sweep looks for calls past their deadline. */
const TICK_MS = 10;
/*
 * The pending calls, oldest first, as an intrusive linked list: adding and
 * removing a call is a few pointer writes. (A `Set` of fresh objects costs
 * about half a microsecond per call here: each new object needs an identity
 * hash before it can be a key.)
 */
let head: Pending | undefined;
let tail: Pending | undefined;
let sweeper: ReturnType<typeof setInterval> | undefined;

function link(p: Pending): void {
  p.prev = tail;
  if (tail === undefined) head = p;
  else tail.next = p;
  tail = p;
}

function unlink(p: Pending): void {
  if (!p.linked) return;
  p.linked = false;
  if (p.prev === undefined) head = p.next;
  else p.prev.next = p.next;
  if (p.next === undefined) tail = p.prev;
  else p.next.prev = p.prev;
  p.prev = undefined;
  p.next = undefined;
}

function sweep(): void {
  const now = Date.now();
  // Deadlines differ per call, so the whole list is walked (it holds only calls in flight).
  let p = head;
  while (p !== undefined) {
    const next = p.next;
    if (p.deadline <= now) {
      unlink(p);
      p.reject(p.onTimeout());
    }
    p = next;
  }
  if (head === undefined && sweeper !== undefined) {
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
    const entry: Pending = {
      deadline: Date.now() + ms,
      reject,
      onTimeout,
      prev: undefined,
      next: undefined,
      linked: true,
    };
    link(entry);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, TICK_MS);
      sweeper.unref?.();
    }
    promise.then(
      (value) => {
        unlink(entry);
        resolve(value);
      },
      (error: unknown) => {
        unlink(entry);
        reject(error);
      },
    );
  });
}
