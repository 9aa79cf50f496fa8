/**
 * A Redis list: a growable ring buffer, so pushes and pops at both ends are
 * O(1) (a queue that LPUSHes and RPOPs never shifts the whole array).
 */
export class Deque {
  #buffer: Array<string | undefined>;
  #head = 0;
  #length = 0;

  constructor(capacity = 8) {
    this.#buffer = new Array<string | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** The value at `index` (0 ≤ index < length). */
  at(index: number): string {
    return this.#buffer[(this.#head + index) % this.#buffer.length] as string;
  }

  push(value: string): void {
    if (this.#length === this.#buffer.length) this.#grow();
    this.#buffer[(this.#head + this.#length) % this.#buffer.length] = value;
    this.#length++;
  }

  unshift(value: string): void {
    if (this.#length === this.#buffer.length) this.#grow();
    this.#head = (this.#head - 1 + this.#buffer.length) % this.#buffer.length;
    this.#buffer[this.#head] = value;
    this.#length++;
  }

  shift(): string | undefined {
    if (this.#length === 0) return undefined;
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buffer.length;
    this.#length--;
    return value;
  }

  pop(): string | undefined {
    if (this.#length === 0) return undefined;
    const index = (this.#head + this.#length - 1) % this.#buffer.length;
    const value = this.#buffer[index];
    this.#buffer[index] = undefined;
    this.#length--;
    return value;
  }

  /** Values from `start` to `stop` inclusive (already clamped to the list). */
  slice(start: number, stop: number): string[] {
    const out = new Array<string>(stop - start + 1);
    for (let i = start; i <= stop; i++) out[i - start] = this.at(i);
    return out;
  }

  /** Keeps only `start`…`stop` inclusive (already clamped); returns the removed values' total length. */
  keep(start: number, stop: number): number {
    let removed = 0;
    for (let i = 0; i < start; i++) removed += (this.shift() as string).length;
    const drop = this.#length - (stop - start + 1);
    for (let i = 0; i < drop; i++) removed += (this.pop() as string).length;
    return removed;
  }

  #grow(): void {
    const next = new Array<string | undefined>(this.#buffer.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = this.at(i);
    this.#buffer = next;
    this.#head = 0;
  }
}
