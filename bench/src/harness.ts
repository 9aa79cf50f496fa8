/**
 * The bench harness: every scenario runs its redbrick side and its baseline
 * side in the same process, alternating, for several rounds, on the same
 * payloads, the same server and the same concurrency. The ratio is the
 * median of the per-round ratios.
 */

/** One operation; it must do the same work on both sides. */
export type Op = () => Promise<unknown> | unknown;

export interface Sides {
  redbrick: Op;
  baseline: Op;
  /** Spot-check correctness after the run (e.g. the limiter really denies past the limit). Throws on failure. */
  check?: () => Promise<void> | void;
  teardown?: () => Promise<void> | void;
}

export interface Scenario {
  /** The package the scenario belongs to, e.g. `memory-backend`. */
  package: string;
  /** Short name, e.g. `GET`. */
  name: string;
  /** Where redbrick runs: `memory`, `redis`, `cluster`. */
  backend: string;
  /** What the baseline is, e.g. `Map` or `ioredis`. */
  baseline: string;
  /** Operations in flight at once (1 = sequential). */
  inFlight: number;
  /** Ops per latency sample; use >1 for sub-microsecond ops so clock reads do not dominate. @default 1 */
  batch?: number;
  /** The goal for redbrick ops / baseline ops, if the issue sets one. */
  target?: number;
  /** Whether the scenario needs a Redis server (one is started for the run). */
  needsRedis?: boolean;
  /**
   * Count round trips per op with MONITOR. Off for scenarios whose background
   * workers talk to Redis on their own (queues): per-op counts mean nothing
   * there. @default true
   */
  countRoundTrips?: boolean;
  setup(ctx: BenchContext): Promise<Sides>;
}

export interface BenchContext {
  /** URL of the run's throwaway redis-server (when a scenario needs one). */
  redisUrl?: string;
  /**
   * Runs `op` `n` times and returns the commands the server received from
   * clients per op (MONITOR, not counting commands a script calls inside).
   */
  roundTripsPerOp?: (op: Op, n: number) => Promise<number>;
  quick: boolean;
}

export interface Measurement {
  ops: number;
  p50Us: number;
  p99Us: number;
}

export interface ScenarioResult {
  package: string;
  scenario: string;
  backend: string;
  ops: number;
  baseline: string;
  baselineOps: number;
  ratio: number;
  target: number | null;
  pass: boolean | null;
  roundTrips: number | null;
  baselineRoundTrips: number | null;
  p50Us: number;
  p99Us: number;
  baselineP50Us: number;
  baselineP99Us: number;
  inFlight: number;
  /** The ratio with bench and redis-server free to run on any CPU (full mode, Redis scenarios). */
  unpinnedRatio?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Runs `op` with `inFlight` concurrent loops for `durationMs`; measures throughput and latency. */
export async function measure(
  op: Op,
  inFlight: number,
  durationMs: number,
  batch = 1,
): Promise<Measurement> {
  const samples: number[] = [];
  let done = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const loop = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      for (let i = 0; i < batch; i++) await op();
      const t1 = performance.now();
      done += batch;
      // Latency per op; keep at most ~100k samples so memory stays bounded.
      if (samples.length < 100_000) samples.push(((t1 - t0) * 1000) / batch);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = performance.now() - start;
  const sorted = Float64Array.from(samples).sort();
  return {
    ops: (done / elapsed) * 1000,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
  };
}

export interface RunOptions {
  rounds: number;
  durationMs: number;
  warmupMs: number;
}

/** Runs one scenario: warm-up, then alternating rounds of both sides. */
export async function runScenario(
  scenario: Scenario,
  ctx: BenchContext,
  options: RunOptions,
): Promise<ScenarioResult> {
  const sides = await scenario.setup(ctx);
  try {
    await measure(sides.redbrick, scenario.inFlight, options.warmupMs, scenario.batch);
    await measure(sides.baseline, scenario.inFlight, options.warmupMs, scenario.batch);
    const ours: Measurement[] = [];
    const theirs: Measurement[] = [];
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which side goes first, so drift (GC, thermal, other load) hits both.
      if (round % 2 === 0) {
        ours.push(
          await measure(sides.redbrick, scenario.inFlight, options.durationMs, scenario.batch),
        );
        theirs.push(
          await measure(sides.baseline, scenario.inFlight, options.durationMs, scenario.batch),
        );
      } else {
        theirs.push(
          await measure(sides.baseline, scenario.inFlight, options.durationMs, scenario.batch),
        );
        ours.push(
          await measure(sides.redbrick, scenario.inFlight, options.durationMs, scenario.batch),
        );
      }
    }
    let roundTrips: number | null = null;
    let baselineRoundTrips: number | null = null;
    if (ctx.roundTripsPerOp && scenario.needsRedis && scenario.countRoundTrips !== false) {
      roundTrips = await ctx.roundTripsPerOp(sides.redbrick, 200);
      baselineRoundTrips = await ctx.roundTripsPerOp(sides.baseline, 200);
    }
    await sides.check?.();
    const ratio = median(ours.map((m, i) => m.ops / (theirs[i] as Measurement).ops));
    const target = scenario.target ?? null;
    return {
      package: scenario.package,
      scenario: scenario.name,
      backend: scenario.backend,
      ops: Math.round(median(ours.map((m) => m.ops))),
      baseline: scenario.baseline,
      baselineOps: Math.round(median(theirs.map((m) => m.ops))),
      ratio: Math.round(ratio * 1000) / 1000,
      target,
      pass: target === null ? null : ratio >= target,
      roundTrips,
      baselineRoundTrips,
      p50Us: round1(median(ours.map((m) => m.p50Us))),
      p99Us: round1(median(ours.map((m) => m.p99Us))),
      baselineP50Us: round1(median(theirs.map((m) => m.p50Us))),
      baselineP99Us: round1(median(theirs.map((m) => m.p99Us))),
      inFlight: scenario.inFlight,
    };
  } finally {
    await sides.teardown?.();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
