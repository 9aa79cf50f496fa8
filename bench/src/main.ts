import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit/servers';
import { Redis } from 'ioredis';
import { type BenchContext, type Op, runScenario, type ScenarioResult } from './harness.js';
import { runScale } from './scale.js';
import { scenarios } from './scenarios/index.js';

interface Args {
  quick: boolean;
  json: boolean;
  only: string | undefined;
  write: boolean;
  scale: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, json: false, only: undefined, write: false, scale: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = true;
    else if (a === '--write') args.write = true;
    else if (a === '--scale') args.scale = true;
    else if (a === '--only') args.only = argv[++i];
    else if (a === '--') continue;
    else
      throw new Error(
        `unknown argument ${a} (allowed: --quick, --json, --only PACKAGE, --write, --scale)`,
      );
  }
  return args;
}

/** Pins a process (all its threads) to one CPU (or a CPU list), when taskset exists. */
function pin(pid: number, cpu: number, list = String(cpu)): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', list, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function log(args: Args, line: string) {
  // With --json, stdout carries only the JSON array.
  if (args.json) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

function table(results: ScenarioResult[]): string {
  const head =
    '| package | scenario | backend | in flight | redbrick ops/s | baseline | baseline ops/s | ratio | ratio unpinned | target | p50/p99 µs (redbrick) | p50/p99 µs (baseline) | round trips/op |';
  const sep = '|---|---|---|---:|---:|---|---:|---:|---:|---|---|---|---|';
  const rows = results.map((r) =>
    [
      r.package,
      r.scenario,
      r.backend,
      r.inFlight,
      r.ops.toLocaleString('en-US'),
      r.baseline,
      r.baselineOps.toLocaleString('en-US'),
      `${r.ratio.toFixed(2)}×`,
      r.unpinnedRatio === undefined ? '—' : `${r.unpinnedRatio.toFixed(2)}×`,
      r.target === null ? '—' : `≥ ${r.target}× ${r.pass ? 'PASS' : 'FAIL'}`,
      `${r.p50Us} / ${r.p99Us}`,
      `${r.baselineP50Us} / ${r.baselineP99Us}`,
      r.roundTrips === null
        ? '—'
        : `${r.roundTrips.toFixed(2)} (baseline ${r.baselineRoundTrips?.toFixed(2)})`,
    ].join(' | '),
  );
  return [head, sep, ...rows.map((r) => `| ${r} |`)].join('\n');
}

/**
 * Commands clients sent while `op` ran `n` times, per op, seen through
 * MONITOR: commands a Lua script calls inside are reported with source
 * "lua" and are not round trips, so they are not counted.
 */
async function roundTripsPerOp(url: string, op: Op, n: number): Promise<number> {
  const admin = new Redis(url);
  const monitor = await admin.monitor();
  let count = 0;
  let counting = false;
  monitor.on('monitor', (_time: string, argv: string[], source: string) => {
    if (!counting || source.includes('lua')) return;
    if ((argv[0] ?? '').toLowerCase() === 'echo' && argv[1] === MARK) {
      counting = false;
      return;
    }
    count++;
  });
  counting = true;
  for (let i = 0; i < n; i++) await op();
  // A marker command ends the count once MONITOR has caught up.
  await admin.echo(MARK);
  while (counting) await new Promise((r) => setTimeout(r, 5));
  monitor.disconnect();
  admin.disconnect();
  return count / n;
}

const MARK = 'redbrick-bench-end';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.scale) return scale(args);
  const selected = scenarios.filter((s) => !args.only || s.package === args.only);
  if (selected.length === 0) throw new Error(`no scenarios for package "${args.only}"`);
  const pinned = pin(process.pid, 0);
  log(
    args,
    `bench: ${selected.length} scenario(s), ${args.quick ? 'quick' : 'full'} mode, ${pinned ? 'pinned to CPU 0' : 'unpinned (no taskset)'}`,
  );

  const ctx: BenchContext = { quick: args.quick };
  let server: RedisServerHandle | undefined;
  if (selected.some((s) => s.needsRedis)) {
    server = await startRedisServer();
    const redisPinned = server.pid !== undefined && pin(server.pid, 0);
    log(
      args,
      `bench: redis-server on ${server.port}, ${redisPinned ? 'pinned to CPU 0 (same core as the bench)' : 'unpinned'}`,
    );
    const handle = server;
    ctx.redisUrl = server.url;
    ctx.roundTripsPerOp = (op, n) => roundTripsPerOp(handle.url, op, n);
  }
  const options = args.quick
    ? { rounds: 2, durationMs: 150, warmupMs: 50 }
    : // Short paired slices: on a shared 2-core machine load drifts within seconds, and the
      // median of many side-by-side pairs follows the ratio better than a few long ones.
      { rounds: 11, durationMs: 500, warmupMs: 300 };

  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    const result = await runScenario(scenario, ctx, options);
    results.push(result);
    log(
      args,
      `  ${result.package} ${result.scenario} [${result.backend}]: ${result.ops.toLocaleString('en-US')} vs ${result.baselineOps.toLocaleString('en-US')} ops/s (${result.ratio}×)`,
    );
  }

  // Second placement (full mode): bench and redis-server free to run on any CPU, so requests
  // cross cores (~100 µs here instead of ~10 µs). Both sides of each ratio share the placement.
  if (!args.quick && pinned && server?.pid !== undefined && selected.some((s) => s.needsRedis)) {
    const all = cpus()
      .map((_, i) => i)
      .join(',');
    pin(process.pid, -1, all);
    pin(server.pid, -1, all);
    log(args, `bench: unpinned placement (CPUs ${all})`);
    for (const [i, scenario] of selected.entries()) {
      if (!scenario.needsRedis) continue;
      const unpinned = await runScenario(scenario, ctx, options);
      const pinnedResult = results[i];
      if (pinnedResult) pinnedResult.unpinnedRatio = unpinned.ratio;
      log(args, `  ${scenario.package} ${scenario.name} [unpinned]: ${unpinned.ratio}×`);
    }
  }

  await server?.stop();

  if (args.json) {
    const out = results.map((r) => ({
      package: r.package,
      scenario: r.scenario,
      backend: r.backend,
      ops: r.ops,
      baseline: r.baseline,
      baselineOps: r.baselineOps,
      ratio: r.ratio,
      target: r.target,
      pass: r.pass,
      roundTrips: r.roundTrips,
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${table(results)}\n`);
  }

  if (args.write) {
    const redisVersion =
      execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ??
      'unknown';
    const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, redis-server ${redisVersion}`;
    const md = `# Benchmark results

Generated by \`pnpm bench --write\` on ${new Date().toISOString().slice(0, 10)}.
Machine: ${machine}. Placement: ${pinned ? 'bench process and redis-server pinned to CPU 0 ("ratio"); "ratio unpinned" lets both run on any CPU' : 'unpinned (no taskset)'}.
Each ratio is the median of ${options.rounds} alternating rounds of ${options.durationMs} ms per side.

${table(results)}
`;
    writeFileSync(fileURLToPath(new URL('../RESULTS.md', import.meta.url)), md);
  }
  const failed = results.filter((r) => r.pass === false);
  if (failed.length > 0)
    log(
      args,
      `bench: ${failed.length} target(s) not met: ${failed.map((f) => `${f.package} ${f.scenario}`).join(', ')}`,
    );
}

/** `--scale`: the scale curves (SCALE.md and two SVG charts; `--quick` only checks they run). */
async function scale(args: Args) {
  const pinned = pin(process.pid, 0);
  const server = await startRedisServer();
  if (pinned && server.pid !== undefined) pin(server.pid, 0);
  log(
    args,
    `bench: scale curves, ${args.quick ? 'quick' : 'full'} mode, ${pinned ? 'pinned to CPU 0' : 'unpinned'}`,
  );
  try {
    await runScale({ quick: args.quick, redisUrl: server.url, log: (line) => log(args, line) });
  } finally {
    await server.stop();
  }
  if (!args.quick)
    log(args, 'bench: wrote bench/SCALE.md, bench/scale-in-flight.svg, bench/scale-keys.svg');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
