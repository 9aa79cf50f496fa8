import { type Backend, key, tag } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { counted, testTargets } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, UsageMeter } from '../src/index.js';
import { ALGORITHMS, fresh } from './helpers.js';
import { commandCalls, Monitor, type Seen } from './monitor.js';

/*
 * One round trip per decision, counted on the server: MONITOR records every
 * command a client sends (a script's own calls show as `lua`), and
 * `INFO commandstats` before/after confirms the EVALSHA count and that no
 * script was re-sent (no EVAL after the first call).
 */

const N = 25;

interface Node {
  command(...args: Array<string | number>): Promise<unknown>;
  host: string;
  port: number;
}

const remotes = testTargets().filter((t) => t.name === 'redis' || t.name === 'cluster');

describe('memory', () => {
  it('one script run per decision, none from the deny cache', async () => {
    const memory = createMemoryBackend();
    // every script run counts, `run` or the synchronous runner the limiter uses in process
    const { backend, calls } = counted(memory);
    const runs = () => calls.filter((call) => call.startsWith('run ')).length;
    for (const algorithm of ALGORITHMS) {
      const limiter = new RateLimiter({ backend, algorithm, limit: 3, windowMs: 60_000 });
      const before = runs();
      for (let i = 0; i < 10; i++) await limiter.check('k');
      await limiter.peek('k');
      // 3 allowed + 1 denied reach the backend; the other 6 come from the deny cache
      expect(runs() - before).toBe(5);
    }
    await memory.close();
  });
});

describe.each(remotes)('$name', (target) => {
  let backend: Backend;
  let nodes: Node[];
  let monitors: Monitor[];

  beforeAll(async () => {
    backend = await target.make();
    const server = await target.server();
    const cluster = await target.cluster();
    nodes = server ? [server] : (cluster?.servers ?? []);
    if (nodes.length === 0) throw new Error('no throwaway server to count commands on');
    monitors = await Promise.all(nodes.map((n) => Monitor.open(n.host, n.port)));
  });
  afterAll(async () => {
    for (const m of monitors ?? []) m.close();
    await backend?.close();
  });

  async function stats(): Promise<Map<string, number>> {
    const total = new Map<string, number>();
    for (const node of nodes) {
      for (const [cmd, calls] of commandCalls(await node.command('INFO', 'commandstats'))) {
        total.set(cmd, (total.get(cmd) ?? 0) + calls);
      }
    }
    return total;
  }

  /** Runs `body`, then returns every command clients sent meanwhile (script internals excluded). */
  async function sent(id: string, body: () => Promise<void>): Promise<Seen[]> {
    // markers with the limiter's hash tag land on the same node, in order with its commands
    const begin = key('marker', tag(id), fresh());
    await backend.get(begin);
    await Promise.race(monitors.map((m) => m.upTo(begin)));
    const offsets = monitors.map((m) => m.seen.length);
    await body();
    const end = key('marker', tag(id), fresh());
    await backend.get(end);
    await Promise.race(monitors.map((m) => m.upTo(end)));
    const out: Seen[] = [];
    monitors.forEach((m, i) => {
      const from = m.seen.findIndex((s) => s.args.includes(begin));
      const to = m.seen.findIndex((s) => s.args.includes(end));
      out.push(...m.seen.slice(from === -1 ? offsets[i] : from + 1, to === -1 ? undefined : to));
    });
    // left out: a script's own calls, ioredis' periodic cluster slot refresh, and this
    // test's INFO probes (their MONITOR lines can arrive a little late)
    return out.filter((s) => s.source !== 'lua' && s.command !== 'cluster' && s.command !== 'info');
  }

  async function expectOneEvalshaPer(count: number, id: string, body: () => Promise<void>) {
    const before = await stats();
    const commands = await sent(id, body);
    const after = await stats();
    expect(commands.map((c) => c.command)).toEqual(Array(count).fill('evalsha'));
    expect((after.get('evalsha') ?? 0) - (before.get('evalsha') ?? 0)).toBe(count);
    expect((after.get('eval') ?? 0) - (before.get('eval') ?? 0)).toBe(0);
    return commands;
  }

  it.each(ALGORITHMS)('%s: one EVALSHA per check, peek, record and reward', async (algorithm) => {
    const limiter = new RateLimiter({
      backend,
      name: fresh('rt'),
      algorithm,
      limit: 10,
      windowMs: 60_000,
      denyCache: false,
    });
    await limiter.peek('user:1'); // loads the script on the node (EVALSHA → NOSCRIPT → EVAL)
    const commands = await expectOneEvalshaPer(N, 'user:1', async () => {
      for (let i = 0; i < N - 3; i++) await limiter.check('user:1');
      await limiter.peek('user:1');
      await limiter.record('user:1');
      await limiter.reward('user:1');
    });
    console.info(
      `[round trips] ${target.name} ${algorithm}: ${N} decisions, ${commands.length} commands sent`,
    );
  });

  it('a composite of five rules and a budget: one EVALSHA per decision', async () => {
    const meter = new UsageMeter({ backend, name: fresh('m') });
    const limiter = new RateLimiter({
      backend,
      name: fresh('rt'),
      denyCache: false,
      limits: [
        ...ALGORITHMS.map((algorithm) => ({
          name: algorithm,
          algorithm,
          limit: 5,
          windowMs: 60_000,
        })),
        {
          name: 'tokens',
          budget: { meter, metric: 'tokens' as const, limit: 1000, period: 'day' as const },
        },
      ],
    });
    await limiter.peek('acme');
    await expectOneEvalshaPer(N, 'acme', async () => {
      for (let i = 0; i < N; i++) await limiter.check('acme', { estimate: { tokens: 10 } });
    });
  });

  it('usage recording: one EVALSHA per record', async () => {
    const meter = new UsageMeter({ backend, name: fresh('m') });
    await meter.record('acme', { tokens: 1 });
    await expectOneEvalshaPer(N, 'acme', async () => {
      for (let i = 0; i < N; i++)
        await meter.record('acme', { tokens: 10, cost: 0.01, model: 'm' });
    });
  });

  it('the deny cache answers without any round trip', async () => {
    const limiter = new RateLimiter({
      backend,
      name: fresh('rt'),
      algorithm: 'fixed-window',
      limit: 2,
      windowMs: 60_000,
    });
    await limiter.peek('k');
    await expectOneEvalshaPer(3, 'k', async () => {
      await limiter.check('k');
      await limiter.check('k');
      expect((await limiter.check('k')).source).toBe('backend');
      for (let i = 0; i < 20; i++) expect((await limiter.check('k')).source).toBe('cache');
    });
  });

  it('block and reset are one command each', async () => {
    const limiter = new RateLimiter({
      backend,
      name: fresh('rt'),
      algorithm: 'sliding-log',
      limit: 2,
      windowMs: 60_000,
    });
    await limiter.check('k');
    const commands = await sent('k', async () => {
      await limiter.block('k', 1000);
      await limiter.reset('k');
    });
    expect(commands.map((c) => c.command)).toEqual(['set', 'del']);
  });
});
