/**
 * The invariant checks that read the instances' journals, as pure functions
 * (journals in, checks out), so that `invariants.checker.test.ts` can prove
 * each of them catches the violation it is there for.
 */

/** A journal: its events, each a list of words (see `src/app.ts`). */
export type Events = string[][];

/**
 * Collects invariant checks: each one counts, failures are gathered and
 * asserted at the end so a reader sees every broken invariant at once.
 */
export class Checks {
  count = 0;
  readonly failures: string[] = [];

  that(what: string, holds: boolean, detail: () => unknown = () => ''): void {
    this.count++;
    if (!holds) this.failures.push(`${what}: ${JSON.stringify(detail())}`);
  }
}

/**
 * Rate limits: per round key, at most `limit` admitted across every
 * instance; exactly `min(limit, attempts)` in rounds outside `dirtyRounds`
 * (rounds where an instance saw an outage or died).
 */
export function checkRateLimits(
  checks: Checks,
  journals: Events[],
  limit: number,
  dirtyRounds: ReadonlySet<number>,
): void {
  const perRound = new Map<number, { allowed: number; other: number; total: number }>();
  for (const events of journals) {
    for (const [kind, round, outcome] of events) {
      if (kind !== 'rl') continue;
      const r = perRound.get(Number(round)) ?? { allowed: 0, other: 0, total: 0 };
      r.total++;
      if (outcome === 'allowed') r.allowed++;
      else if (outcome !== 'denied') r.other++;
      perRound.set(Number(round), r);
    }
  }
  for (const [round, r] of perRound) {
    checks.that(`round ${round}: at most ${limit} admitted`, r.allowed <= limit, () => r);
    if (!dirtyRounds.has(round)) {
      const want = Math.min(limit, r.total);
      checks.that(`round ${round}: exactly ${want} admitted`, r.allowed === want, () => r);
    }
  }
}

/**
 * The lock-protected counter: every confirmed value written by exactly one
 * holder (a lost update writes a value twice), fencing tokens increasing
 * with the value, the final value at least every confirmed write, every
 * step of it a holder's write; with `clean`, final = confirmed writes and
 * nothing ambiguous. Returns how many writes were ambiguous (tried, not confirmed).
 */
export function checkCounter(
  checks: Checks,
  journals: Events[],
  final: number,
  clean: boolean,
): { confirmed: number; ambiguous: number } {
  const tries = new Map<number, number>();
  const oks: Array<{ value: number; fence: number }> = [];
  for (const events of journals) {
    for (const [kind, value, fence] of events) {
      if (kind === 'inc-try') tries.set(Number(value), (tries.get(Number(value)) ?? 0) + 1);
      if (kind === 'inc-ok') oks.push({ value: Number(value), fence: Number(fence) });
    }
  }
  oks.sort((a, b) => a.value - b.value);
  const values = oks.map((o) => o.value);
  const duplicates = values.filter((v, i) => i > 0 && values[i - 1] === v);
  checks.that('no counter value was written by two lock holders', duplicates.length === 0, () =>
    duplicates.slice(0, 10),
  );
  const outOfOrder = oks.filter((o, i) => i > 0 && (oks[i - 1]?.fence ?? 0) >= o.fence);
  checks.that('fencing tokens increase with the counter', outOfOrder.length === 0, () =>
    outOfOrder.slice(0, 5),
  );
  const maxOk = values.at(-1) ?? 0;
  checks.that('the counter is at least every confirmed write', final >= maxOk, () => ({
    final,
    maxOk,
  }));
  const untried = Array.from({ length: final }, (_, i) => i + 1).filter((v) => !tries.has(v));
  checks.that("every step of the counter was a lock holder's write", untried.length === 0, () =>
    untried.slice(0, 5),
  );
  const ambiguous = [...tries.values()].reduce((a, b) => a + b, 0) - oks.length;
  if (clean) {
    checks.that(
      'without faults the counter equals the confirmed increments',
      final === oks.length && ambiguous === 0,
      () => ({ final, oks: oks.length, ambiguous }),
    );
  }
  return { confirmed: oks.length, ambiguous };
}

/**
 * The thread buffer: no index handed to two appends, each returned index
 * holds its own slot; with `clean`, the thread is dense (one slot per append sent).
 */
export function checkThread(
  checks: Checks,
  journals: Events[],
  thread: readonly string[],
  clean: boolean,
  sent: number,
): void {
  const indexes = new Map<number, string>();
  const reused: number[] = [];
  const misplaced: string[] = [];
  for (const events of journals) {
    for (const [kind, index, slot] of events) {
      if (kind !== 'tb') continue;
      if (indexes.has(Number(index))) reused.push(Number(index));
      indexes.set(Number(index), slot ?? '');
      if (thread[Number(index)] !== slot) {
        misplaced.push(`${index}=${slot} holds ${thread[Number(index)]}`);
      }
    }
  }
  checks.that('no thread-buffer index was handed out twice', reused.length === 0, () => reused);
  checks.that('every slot is stored at the index its append returned', misplaced.length === 0, () =>
    misplaced.slice(0, 5),
  );
  if (clean) {
    checks.that(
      'without faults the thread is dense: one slot per append',
      thread.length === indexes.size && thread.length === sent,
      () => ({ length: thread.length, appends: indexes.size, sent }),
    );
  }
}

/** A completed cache invalidation: the source moved to `version`, then `delete` returned at `at`. */
export interface Invalidation {
  item: string;
  version: number;
  /** Unix ms when the invalidation had completed. */
  at: number;
}

/**
 * The cache never serves a value older than its invalidation: a read that
 * started more than `deliveryMs` after an invalidation completed returns at
 * least that version. Within `deliveryMs` another process' in-process tier
 * may still hold the old value (its eviction travels by pub/sub); those
 * reads are counted, not failed.
 */
export function checkCache(
  checks: Checks,
  journals: Events[],
  invalidations: readonly Invalidation[],
  deliveryMs: number,
): { reads: number; staleInWindow: number } {
  let reads = 0;
  let staleInWindow = 0;
  const late: string[] = [];
  for (const events of journals) {
    for (const [kind, item, value, startedAt] of events) {
      if (kind !== 'cr') continue;
      reads++;
      let due = 0;
      let known = 0;
      for (const inv of invalidations) {
        if (inv.item !== item) continue;
        if (inv.at < Number(startedAt)) known = Math.max(known, inv.version);
        if (inv.at + deliveryMs < Number(startedAt)) due = Math.max(due, inv.version);
      }
      if (Number(value) < due) late.push(`${item}: served ${value}, invalidated up to ${due}`);
      else if (Number(value) < known) staleInWindow++;
    }
  }
  checks.that(
    `no cache read served a value older than an invalidation completed > ${deliveryMs} ms before it`,
    late.length === 0,
    () => late.slice(0, 5),
  );
  return { reads, staleInWindow };
}
