import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { testTargets } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../src/index.js';
import { ALGORITHMS, fresh } from './helpers.js';

/*
 * Exactness under real concurrency: several processes, each with many calls
 * in flight, hammer one key on one redis-server and on the 3-master
 * cluster. The windows are long (an hour), so no refill or window change
 * can happen during a run: the exact algorithms must admit exactly `limit`.
 * The sliding window counter must stay within its documented bound.
 */

const WORKERS = 4;
const LIMIT = 100;
const ATTEMPTS = 150; // per worker: 600 attempts for 100 places
const IN_FLIGHT = 10;
const WINDOW_MS = 3_600_000;
const WORKER = fileURLToPath(new URL('./workers/hammer.mjs', import.meta.url));

type Message =
  | { type: 'started' }
  | { type: 'ready'; id: string }
  | {
      type: 'done';
      id: string;
      admitted: number;
      denied: number;
      startedAt: number;
      endedAt: number;
    }
  | { type: 'error'; message: string };

class Worker {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, (m: Message) => void>();
  readonly #started: Promise<void>;
  #failure: Error | undefined;

  constructor() {
    this.#child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let started: () => void = () => undefined;
    this.#started = new Promise((resolve) => {
      started = resolve;
    });
    this.#child.on('message', (m: Message) => {
      if (m.type === 'started') started();
      else if (m.type === 'error') this.#fail(new Error(`worker failed: ${m.message}`));
      else this.#waiting.get(`${m.type}:${m.id}`)?.(m);
    });
    this.#child.on('exit', (code) => {
      if (code !== 0) this.#fail(new Error(`worker exited with ${code}`));
    });
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const resolve of this.#waiting.values())
      resolve({ type: 'error', message: error.message });
  }

  #expect(kind: string, id: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (this.#failure) reject(this.#failure);
      const timer = setTimeout(() => reject(new Error(`worker: no ${kind} for ${id}`)), 30_000);
      this.#waiting.set(`${kind}:${id}`, (m) => {
        clearTimeout(timer);
        this.#waiting.delete(`${kind}:${id}`);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m);
      });
    });
  }

  async prepare(job: Record<string, unknown> & { id: string }): Promise<void> {
    await this.#started;
    const ready = this.#expect('ready', job.id);
    this.#child.send({ type: 'prepare', job });
    await ready;
  }

  async go(id: string): Promise<Extract<Message, { type: 'done' }>> {
    const done = this.#expect('done', id);
    this.#child.send({ type: 'go', id });
    return (await done) as Extract<Message, { type: 'done' }>;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send({ type: 'stop' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

const remotes = testTargets().filter((t) => t.name === 'redis' || t.name === 'cluster');

// processes share state only through Redis (in-process concurrency on memory: limiter.behaviour)
describe.runIf(remotes.length > 0)('processes hammering one key', () => {
  describe.each(remotes)('$name', (target) => {
    let workers: Worker[] = [];
    let config: Record<string, unknown>;

    beforeAll(async () => {
      // the workers run the built package under plain node
      if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
        throw new Error('packages/ratelimit/dist is missing: run `pnpm build` before the tests');
      }
      config = (await target.config()) as Record<string, unknown>;
      workers = Array.from({ length: WORKERS }, () => new Worker());
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
    });

    async function race(algorithm: Algorithm) {
      const id = fresh('job');
      const job = {
        id,
        config,
        algorithm,
        name: fresh('c'),
        key: `hot:${id}`,
        limit: LIMIT,
        windowMs: WINDOW_MS,
        attempts: ATTEMPTS,
        inFlight: IN_FLIGHT,
      };
      await Promise.all(workers.map((w) => w.prepare(job)));
      const results = await Promise.all(workers.map((w) => w.go(id)));
      const admitted = results.reduce((n, r) => n + r.admitted, 0);
      const denied = results.reduce((n, r) => n + r.denied, 0);
      const durationMs =
        Math.max(...results.map((r) => r.endedAt)) - Math.min(...results.map((r) => r.startedAt));
      // every worker took part in the race
      expect(results.every((r) => r.admitted + r.denied === ATTEMPTS)).toBe(true);
      expect(admitted + denied).toBe(WORKERS * ATTEMPTS);
      console.info(
        `[exactness] ${target.name} ${algorithm}: admitted ${admitted}/${WORKERS * ATTEMPTS} (limit ${LIMIT}) by ${WORKERS} processes × ${IN_FLIGHT} in flight in ${durationMs} ms`,
      );
      return { admitted, durationMs };
    }

    it.each(ALGORITHMS.filter((a) => a !== 'sliding-window'))(
      '%s admits exactly the limit',
      async (algorithm) => {
        const { admitted } = await race(algorithm);
        expect(admitted).toBe(LIMIT);
      },
    );

    it('sliding-window stays within its error bound', async () => {
      const { admitted, durationMs } = await race('sliding-window');
      // ≤ limit per aligned window; if the run straddles a window edge, the
      // previous window's weight lets in at most limit × elapsed / windowMs more
      expect(admitted).toBeGreaterThanOrEqual(LIMIT);
      expect(admitted).toBeLessThanOrEqual(LIMIT + Math.ceil((LIMIT * durationMs) / WINDOW_MS));
    });
  });
});
