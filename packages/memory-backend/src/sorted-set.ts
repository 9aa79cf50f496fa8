/**
 * Compares two strings the way Redis compares them (`memcmp` on UTF-8):
 * by code point. Plain `<` compares UTF-16 code units, which puts astral
 * characters (surrogate pairs) before U+E000–U+FFFF.
 */
export function compareBinary(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x < 0xe000 ? x + 0x2000 : x - 0x800;
        y = y < 0xe000 ? y + 0x2000 : y - 0x800;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** One member and its score, in score order. */
export interface ScoredMember {
  member: string;
  score: number;
}

/** Where a score range starts and ends. */
export interface ScoreRange {
  min: number;
  minExclusive: boolean;
  max: number;
  maxExclusive: boolean;
}

/**
 * A Redis sorted set: members ordered by score, ties by member bytes.
 * A Map gives O(1) ZSCORE; a sorted array gives ordered ranges with binary
 * search (inserts move memory, which stays fast at the sizes sorted sets
 * of rate limiters and schedules have).
 */
export class SortedSet {
  readonly #scores = new Map<string, number>();
  readonly #order: ScoredMember[] = [];

  get size(): number {
    return this.#scores.size;
  }

  score(member: string): number | undefined {
    return this.#scores.get(member);
  }

  /** Adds or moves a member. */
  set(member: string, score: number): void {
    const current = this.#scores.get(member);
    if (current !== undefined) {
      if (current === score) return;
      this.#order.splice(this.#indexOf(member, current), 1);
    }
    this.#scores.set(member, score);
    this.#order.splice(this.#lowerBound(score, member), 0, { member, score });
  }

  /** Removes a member; true when it was there. */
  delete(member: string): boolean {
    const current = this.#scores.get(member);
    if (current === undefined) return false;
    this.#scores.delete(member);
    this.#order.splice(this.#indexOf(member, current), 1);
    return true;
  }

  /** Members within the range, skipping `offset`, at most `count` (negative: all). */
  range(range: ScoreRange, offset: number, count: number): ScoredMember[] {
    const [from, to] = this.#bounds(range);
    const out: ScoredMember[] = [];
    const end = count < 0 ? to : Math.min(to, from + offset + count);
    for (let i = from + offset; i < end; i++) out.push(this.#order[i] as ScoredMember);
    return out;
  }

  /** Removes the members within the range; returns them. */
  removeRange(range: ScoreRange): ScoredMember[] {
    const [from, to] = this.#bounds(range);
    if (to <= from) return [];
    const removed = this.#order.splice(from, to - from);
    for (const { member } of removed) this.#scores.delete(member);
    return removed;
  }

  /** Index range [from, to) of the members within `range`. */
  #bounds(range: ScoreRange): [number, number] {
    const order = this.#order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = (order[mid] as ScoredMember).score;
      if (range.minExclusive ? s <= range.min : s < range.min) lo = mid + 1;
      else hi = mid;
    }
    const from = lo;
    hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = (order[mid] as ScoredMember).score;
      if (range.maxExclusive ? s < range.max : s <= range.max) lo = mid + 1;
      else hi = mid;
    }
    return [from, Math.max(from, lo)];
  }

  /** First index whose (score, member) is not below the given one. */
  #lowerBound(score: number, member: string): number {
    const order = this.#order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const item = order[mid] as ScoredMember;
      if (item.score < score || (item.score === score && compareBinary(item.member, member) < 0)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  #indexOf(member: string, score: number): number {
    return this.#lowerBound(score, member);
  }
}
