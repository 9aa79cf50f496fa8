/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Reads server-sent events from a response body: `next(match)` resolves
 * with the first event (from the start of the stream) that matches;
 * `ended` resolves when the server closes the stream.
 */
export function readSse(response: Response): {
  next(match: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  ended: Promise<void>;
  cancel(): Promise<void>;
  /** Every event read so far. */
  seen(): SseEvent[];
} {
  const body = response.body;
  if (!body) throw new Error('no body');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const seen: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let split = buffer.indexOf('\n\n');
      while (split !== -1) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        const event: SseEvent = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        seen.push(event);
        split = buffer.indexOf('\n\n');
      }
      for (const wake of waiters) wake();
    }
    for (const wake of waiters) wake();
  })().catch(() => undefined);
  let finished = false;
  void ended.then(() => {
    finished = true;
  });
  return {
    ended,
    cancel: () => reader.cancel(),
    seen: () => [...seen],
    async next(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = seen.find(match);
        if (found) return found;
        if (finished) throw new Error('the event stream ended');
        if (Date.now() > deadline) throw new Error('timed out waiting for an event');
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          setTimeout(wake, 100);
        });
      }
    },
  };
}
