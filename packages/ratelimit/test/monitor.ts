import { connect, type Socket } from 'node:net';

/** One command seen by MONITOR: who sent it (`lua` for a script's own calls) and its name. */
export interface Seen {
  source: string;
  command: string;
  args: string[];
}

/**
 * A MONITOR connection to a throwaway server: records every command it
 * executes, with its source — a client address, or `lua` for the commands a
 * script runs. Used to count round trips exactly.
 */
export class Monitor {
  readonly seen: Seen[] = [];
  readonly #socket: Socket;
  #buffer = '';

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end = this.#buffer.indexOf('\r\n');
      while (end !== -1) {
        this.#line(this.#buffer.slice(0, end));
        this.#buffer = this.#buffer.slice(end + 2);
        end = this.#buffer.indexOf('\r\n');
      }
    });
  }

  static async open(host: string, port: number): Promise<Monitor> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const monitor = new Monitor(socket);
    socket.write('MONITOR\r\n');
    await monitor.until(() => monitor.#ok);
    return monitor;
  }

  #ok = false;

  #line(line: string): void {
    if (line === '+OK') {
      this.#ok = true;
      return;
    }
    // +1700000000.123456 [0 127.0.0.1:5555] "evalsha" "abc" "1"
    const match = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!match) return;
    const args = [...(match[2] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
    this.seen.push({
      source: match[1] ?? '',
      command: (args[0] ?? '').toLowerCase(),
      args: args.slice(1),
    });
  }

  /** Waits until `probe` holds (polling), for at most 5 s. */
  async until(probe: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error('monitor: timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits until a command carrying `marker` as an argument was seen; returns how many came before it. */
  async upTo(marker: string): Promise<Seen[]> {
    await this.until(() => this.seen.some((s) => s.args.includes(marker)));
    const index = this.seen.findIndex((s) => s.args.includes(marker));
    return this.seen.slice(0, index);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Parses `INFO commandstats` into calls per command. */
export function commandCalls(info: unknown): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of String(info).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m?.[1] && m[2]) calls.set(m[1], Number(m[2]));
  }
  return calls;
}
