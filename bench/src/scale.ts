/**
 * Scale curves: how throughput grows with operations in flight (1…256) and
 * how it holds up as the number of distinct keys grows (1…1M), for the
 * limiter and the cache, on memory and on Redis, with their baselines on the
 * same server. Written to `bench/SCALE.md` and plotted to `bench/scale-*.svg`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import { RateLimiter } from '@redbrick/ratelimit';
import { createRedisBackend } from '@redbrick/redis-backend';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { measure, type Op } from './harness.js';
import { cacheSubjects } from './scale-cache.js';

/** One line of a chart: an operation on `keys` distinct keys, prepared once per point. */
export interface Subject {
  /** Legend label, e.g. `limiter (redis)`. */
  label: string;
  /** True for the peer library / raw client line (drawn dashed). */
  baseline: boolean;
  needsRedis: boolean;
  /** Prepares an op that spreads over `keys` distinct keys (pre-populating them if reads need it). */
  prepare(keys: number, redisUrl: string | undefined): Promise<{ op: Op; close(): Promise<void> }>;
}

export interface ScaleOptions {
  quick: boolean;
  redisUrl: string | undefined;
  log(line: string): void;
}

interface Point {
  x: number;
  ops: number;
}

interface Curve {
  subject: Subject;
  points: Point[];
}

const LIMIT = 1_000_000_000;
const WINDOW_MS = 3_600_000;

/** Cycles through `keys` key names without allocating per call beyond the string. */
export function keyCycle(prefix: string, keys: number): () => string {
  let i = 0;
  return () => {
    const k = `${prefix}:${i}`;
    i = i + 1 === keys ? 0 : i + 1;
    return k;
  };
}

function limiterSubjects(): Subject[] {
  const ours = (where: 'memory' | 'redis'): Subject => ({
    label: `limiter (${where})`,
    baseline: false,
    needsRedis: where === 'redis',
    async prepare(keys, redisUrl) {
      const backend: Backend =
        where === 'memory'
          ? createMemoryBackend()
          : await createRedisBackend({ type: 'redis', url: required(redisUrl) });
      const limiter = new RateLimiter({
        backend,
        algorithm: 'fixed-window',
        limit: LIMIT,
        windowMs: WINDOW_MS,
        denyCache: false,
      });
      const next = keyCycle(`scale:rl:${keys}`, keys);
      return { op: () => limiter.check(next()), close: () => backend.close() };
    },
  });
  const peer = (where: 'memory' | 'redis'): Subject => ({
    label: `rate-limiter-flexible (${where})`,
    baseline: true,
    needsRedis: where === 'redis',
    async prepare(keys, redisUrl) {
      const next = keyCycle(`scale:rlf:${keys}`, keys);
      if (where === 'memory') {
        const rlf = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_MS / 1000 });
        return { op: () => rlf.consume(next()), close: async () => undefined };
      }
      const raw = new Redis(required(redisUrl), { enableAutoPipelining: false });
      const rlf = new RateLimiterRedis({
        storeClient: raw,
        points: LIMIT,
        duration: WINDOW_MS / 1000,
        keyPrefix: 'scale-rlf',
      });
      return {
        op: () => rlf.consume(next()),
        close: async () => {
          raw.disconnect();
        },
      };
    },
  });
  return [ours('memory'), peer('memory'), ours('redis'), peer('redis')];
}

function required(url: string | undefined): string {
  if (!url) throw new Error('scale curve needs a redis-server');
  return url;
}

const IN_FLIGHT_FULL = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const IN_FLIGHT_QUICK = [1, 16];
const KEYS_FULL = [1, 100, 10_000, 1_000_000];
const KEYS_QUICK = [1, 1000];

async function curve(
  subject: Subject,
  xs: number[],
  point: (x: number) => { keys: number; inFlight: number },
  options: ScaleOptions,
  durationMs: number,
): Promise<Curve> {
  const points: Point[] = [];
  for (const x of xs) {
    const { keys, inFlight } = point(x);
    const { op, close } = await subject.prepare(keys, options.redisUrl);
    try {
      // Touch every key once first (up to the run's length), so a point measures steady state.
      await measure(op, inFlight, Math.min(durationMs, 200));
      const m = await measure(op, inFlight, durationMs);
      points.push({ x, ops: Math.round(m.ops) });
      options.log(`  ${subject.label}: ${x} → ${Math.round(m.ops).toLocaleString('en-US')} ops/s`);
    } finally {
      await close();
    }
  }
  return { subject, points };
}

/** Runs both sweeps for every subject, writes SCALE.md and the two SVG charts. */
export async function runScale(options: ScaleOptions): Promise<void> {
  const subjects = [...limiterSubjects(), ...cacheSubjects()].filter(
    (s) => !s.needsRedis || options.redisUrl,
  );
  const durationMs = options.quick ? 100 : 700;
  options.log(`scale: throughput vs operations in flight (1000 keys)`);
  const byInFlight: Curve[] = [];
  for (const subject of subjects) {
    byInFlight.push(
      await curve(
        subject,
        options.quick ? IN_FLIGHT_QUICK : IN_FLIGHT_FULL,
        (x) => ({ keys: 1000, inFlight: x }),
        options,
        durationMs,
      ),
    );
  }
  options.log(`scale: throughput vs distinct keys (16 in flight)`);
  const byKeys: Curve[] = [];
  for (const subject of subjects) {
    byKeys.push(
      await curve(
        subject,
        options.quick ? KEYS_QUICK : KEYS_FULL,
        (x) => ({ keys: x, inFlight: 16 }),
        options,
        durationMs,
      ),
    );
  }
  if (options.quick) return;
  const dir = (name: string) => fileURLToPath(new URL(`../${name}`, import.meta.url));
  writeFileSync(
    dir('scale-in-flight.svg'),
    svgChart('Throughput vs operations in flight (1,000 keys)', 'operations in flight', byInFlight),
  );
  writeFileSync(
    dir('scale-keys.svg'),
    svgChart('Throughput vs distinct keys (16 in flight)', 'distinct keys', byKeys),
  );
  writeFileSync(dir('SCALE.md'), scaleMarkdown(byInFlight, byKeys));
}

function scaleMarkdown(byInFlight: Curve[], byKeys: Curve[]): string {
  const table = (curves: Curve[], xLabel: string) => {
    const xs = curves[0]?.points.map((p) => p.x) ?? [];
    const head = `| ${xLabel} | ${curves.map((c) => c.subject.label).join(' | ')} |`;
    const sep = `|---:|${curves.map(() => '---:').join('|')}|`;
    const rows = xs.map(
      (x, i) =>
        `| ${x.toLocaleString('en-US')} | ${curves.map((c) => (c.points[i]?.ops ?? 0).toLocaleString('en-US')).join(' | ')} |`,
    );
    return [head, sep, ...rows].join('\n');
  };
  return `# Scale curves

Generated by \`pnpm bench --scale\` on ${new Date().toISOString().slice(0, 10)} (ops/s; bench process
and redis-server pinned to one CPU, as in RESULTS.md). Dashed lines in the charts are baselines on
the same server. Limiter: fixed-window decisions; cache: hits (\`get\` of a present key).

## Throughput vs operations in flight (1,000 keys)

![throughput vs in flight](scale-in-flight.svg)

${table(byInFlight, 'in flight')}

## Throughput vs distinct keys (16 in flight)

![throughput vs keys](scale-keys.svg)

${table(byKeys, 'keys')}
`;
}

const COLORS = ['#d6336c', '#1c7ed6', '#2f9e44', '#f08c00', '#7048e8', '#0c8599', '#e8590c'];

/** A small log-x / log-y line chart, no dependencies. */
export function svgChart(title: string, xLabel: string, curves: Curve[]): string {
  const W = 760;
  const H = 420;
  const m = { left: 80, right: 230, top: 40, bottom: 50 };
  const all = curves.flatMap((c) => c.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => Math.max(1, p.ops));
  const x0 = Math.log10(Math.min(...xs));
  const x1 = Math.log10(Math.max(...xs)) || 1;
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x: number) =>
    m.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (y: number) =>
    H - m.bottom - ((Math.log10(Math.max(1, y)) - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  ];
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#e9ecef"/>`,
      `<text x="${m.left - 8}" y="${y + 4}" text-anchor="end">${formatOps(10 ** e)}</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#f1f3f5"/>`,
      `<text x="${px(x)}" y="${H - m.bottom + 16}" text-anchor="middle">${formatOps(x)}</text>`,
    );
  }
  parts.push(
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(xLabel)} (log scale)</text>`,
    `<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">ops/s (log scale)</text>`,
  );
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const d = c.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x)},${py(p.ops)}`).join(' ');
    const dash = c.subject.baseline ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of c.points)
      parts.push(`<circle cx="${px(p.x)}" cy="${py(p.ops)}" r="3" fill="${color}"/>`);
    const ly = m.top + 10 + i * 20;
    parts.push(
      `<line x1="${W - m.right + 16}" x2="${W - m.right + 44}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${W - m.right + 50}" y="${ly + 4}">${escapeXml(c.subject.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatOps(n: number): string {
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
