import { appendFileSync, readFileSync } from 'node:fs';

/**
 * An append-only event log in a file: one line per event, written with a
 * synchronous `O_APPEND` write before the call returns, so the events of a
 * process that is SIGKILLed a moment later are still there to be checked.
 */
export class Journal {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** Appends one event: its words joined by spaces (no word may contain a space or newline). */
  write(...words: Array<string | number>): void {
    appendFileSync(this.file, `${words.join(' ')}\n`);
  }

  /** Every event written so far, as word lists. A missing file is an empty journal. */
  static read(file: string): string[][] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => line.split(' '));
  }
}
