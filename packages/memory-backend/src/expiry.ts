/** Something with an expiry time that the heap can find in O(1) (its `heapIndex`). */
export interface Expiring {
  /** Backend clock (ms) after which it is expired; 0 = no TTL. */
  expiresAt: number;
  /** Position in the heap, -1 when not in it. */
  heapIndex: number;
}

/**
 * A binary min-heap of expiry times, indexed: every item knows its slot, so
 * a TTL change or a delete is O(log n) and no stale entries pile up when
 * keys get their TTL refreshed over and over.
 */
export class ExpiryHeap<T extends Expiring> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item, or moves it after its `expiresAt` changed. */
  update(item: T): void {
    if (item.heapIndex === -1) {
      item.heapIndex = this.#items.length;
      this.#items.push(item);
      this.#up(item.heapIndex);
    } else {
      this.#down(this.#up(item.heapIndex));
    }
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i === -1) return;
    item.heapIndex = -1;
    const last = this.#items.pop() as T;
    if (i === this.#items.length) return;
    this.#items[i] = last;
    last.heapIndex = i;
    this.#down(this.#up(i));
  }

  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
  }

  #up(i: number): number {
    const items = this.#items;
    const item = items[i] as T;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (parent.expiresAt <= item.expiresAt) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    items[i] = item;
    item.heapIndex = i;
    return i;
  }

  #down(i: number): number {
    const items = this.#items;
    const n = items.length;
    const item = items[i] as T;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (items[right] as T).expiresAt < (items[left] as T).expiresAt) child = right;
      const c = items[child] as T;
      if (c.expiresAt >= item.expiresAt) break;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
    return i;
  }
}

/** setTimeout's largest delay; longer waits are re-armed when they fire. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * The one timer behind active expiry: armed for the earliest expiry time,
 * `unref()`'d so it never keeps a process alive, re-armed after each run.
 */
export class ExpiryTimer {
  readonly #run: () => void;
  readonly #clock: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Backend clock (ms) the timer is armed for. */
  #at = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(run: () => void, clock: () => number) {
    this.#run = run;
    this.#clock = clock;
  }

  /** Makes sure the timer fires no later than `at` (backend clock, ms). */
  arm(at: number): void {
    if (this.#stopped || at >= this.#at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = at;
    const delay = Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil(at - this.#clock())));
    this.#timer = setTimeout(this.#fire, delay);
    this.#timer.unref();
  }

  /** Runs again as soon as possible (more expired keys than one run handles). */
  soon(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = Number.NEGATIVE_INFINITY;
    this.#timer = setTimeout(this.#fire, 0);
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#run();
  };

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** True while a timer is pending (for tests). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }
}
