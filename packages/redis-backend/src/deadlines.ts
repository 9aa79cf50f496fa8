import type { Redis } from 'ioredis';

/** The slice of an ioredis command the sweep needs. */
interface PendingCommand {
  isResolved: boolean;
  reject(error: Error): void;
}

/** ioredis' queue of commands written to the socket and waiting for their replies. */
interface CommandQueue {
  readonly length: number;
  peekAt(index: number): { command: PendingCommand } | undefined;
}

/** How often the sweep runs: a tenth of the timeout, between 1 ms and 100 ms. */
export function sweepIntervalMs(timeoutMs: number): number {
  return Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
}

/**
 * Enforces a command deadline on one connection with one timer instead of
 * one per command. ioredis' `commandTimeout` arms a `setTimeout` for each
 * command and clears it on the reply, which costs about a tenth of a GET
 * with one call in flight. Here a sweep every {@link sweepIntervalMs} looks
 * at the commands waiting for a reply: the first sweep that sees a command
 * stamps it, and a sweep `timeoutMs` after the stamp rejects it with the
 * same `Command timed out` error ioredis would give. A command therefore
 * fails between `timeoutMs` and `timeoutMs` plus one sweep interval after it
 * was sent — never earlier. Replies arrive in order, so the commands still
 * waiting are the oldest ones; a late reply to a rejected command is ignored,
 * as with ioredis' own timer.
 *
 * Only for a connection whose commands cannot wait outside that queue (the
 * offline queue is off): a call made while disconnected fails at once.
 * Returns a function that stops the sweep.
 */
export function enforceDeadlines(client: Redis, timeoutMs: number): () => void {
  const seen = new WeakMap<PendingCommand, number>();
  const timer = setInterval(() => {
    const queue = (client as unknown as { commandQueue?: CommandQueue }).commandQueue;
    if (queue === undefined || queue.length === 0) return;
    const now = performance.now();
    for (let i = 0; i < queue.length; i++) {
      const command = queue.peekAt(i)?.command;
      if (command === undefined || command.isResolved) continue;
      const stamp = seen.get(command);
      if (stamp === undefined) seen.set(command, now);
      else if (now - stamp >= timeoutMs) {
        seen.set(command, Number.POSITIVE_INFINITY); // rejected once; its late reply is ignored
        command.reject(new Error('Command timed out'));
      }
    }
  }, sweepIntervalMs(timeoutMs));
  timer.unref();
  return () => clearInterval(timer);
}
