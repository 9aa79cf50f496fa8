import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Backend, parseNodeList } from '@redbrick/core';
import { type BackupProgress, backup } from './backup.js';
import { cleanup, type RequireTtlRule } from './cleanup.js';
import { connect } from './connect.js';
import { health } from './health.js';
import { type RestoreMode, restore } from './restore.js';
import { stats } from './stats.js';
import { setTtl } from './ttl.js';
import { watch } from './watch.js';

/** Where the CLI writes and what it reads; `process` by default. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

const USAGE = `usage: redbrick <command> [options]

commands:
  health                         ping latency, memory, eviction policy, clients, role; exit 1 when unhealthy
  stats   [--match P] [--depth N]  keys, sampled memory and TTLs per namespace, ops/s
  backup  -o FILE [--match P] [--progress]  JSON Lines snapshot of every matching key (-o - for stdout)
  restore FILE [--replace|--skip-existing] [--prefix NEW] [--continue-on-error]
  cleanup [--dry-run] [--require-ttl PATTERN=SECONDS]… [--index PATTERN]…
  ttl     --match P (--set SECONDS | --persist) [--dry-run]
  watch   [--interval MS] [--count N]   live view, one line per sample when not a TTY

common options:
  --url URL        redis://[user:password@]host:port[/db] (default: $REDIS_URL, else redis://127.0.0.1:6379)
  --cluster NODES  a Redis Cluster: host:port,host:port,… seed nodes (default: $REDIS_CLUSTER_NODES);
                   commands that scan keys scan every master
  --timeout MS     connect timeout (default 2000)
  --json           machine-readable output
  -h, --help
`;

class UsageError extends Error {}

const fmtBytes = (n: number) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
};

function int(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} must be an integer ≥ ${min} (got "${value}")`);
  return n;
}

/** Runs the `redbrick` command; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const out = (s: string) => io.stdout.write(s);
  let redact = (s: string) => s;
  const err = (s: string) => io.stderr.write(redact(s));
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    err(`redbrick: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { command, values, positionals } = parsed;
  if (values.help || command === undefined || command === 'help') {
    out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const known = ['health', 'stats', 'backup', 'restore', 'cleanup', 'ttl', 'watch'];
  if (!known.includes(command)) {
    err(`redbrick: unknown command "${command}" (allowed: ${known.join(', ')})\n`);
    return 2;
  }
  let backend: Backend | undefined;
  try {
    const timeout = int(values.timeout, '--timeout') ?? 2000;
    if (values.url !== undefined && values.cluster !== undefined) {
      throw new UsageError('give at most one of --url and --cluster');
    }
    if (values.cluster !== undefined && parseNodeList(values.cluster).length === 0) {
      throw new UsageError('--cluster must list host:port seed nodes, comma-separated');
    }
    const started = Date.now();
    let connection: Awaited<ReturnType<typeof connect>>;
    try {
      connection = await connect({
        url: values.url,
        ...(values.cluster === undefined ? {} : { cluster: parseNodeList(values.cluster) }),
        env: io.env,
        connectTimeoutMs: timeout,
      });
    } catch (error) {
      if (command === 'health') {
        const reason = `cannot connect: ${(error as Error).message}`;
        if (values.json) out(`${JSON.stringify({ ok: false, reasons: [reason] })}\n`);
        else err(`UNHEALTHY after ${Date.now() - started} ms\n  - ${reason}\n`);
        return 1;
      }
      throw error;
    }
    redact = connection.redact;
    backend = connection.backend;
    const print = (s: string) => out(redact(s));
    switch (command) {
      case 'health': {
        const samples = int(values.samples, '--samples') ?? 5;
        const report = await health(backend, { samples });
        if (values.json) {
          print(`${JSON.stringify(report)}\n`);
        } else {
          const m = report.memory;
          print(
            [
              `${report.ok ? 'HEALTHY' : 'UNHEALTHY'}  ${connection.display} (${report.backend} ${report.serverVersion})`,
              `  latency      p50 ${report.latency.p50} ms  p99 ${report.latency.p99} ms  (${report.latency.samples} pings)`,
              `  memory       ${fmtBytes(m.usedBytes)} of ${m.maxBytes === 0 ? 'unlimited' : `${fmtBytes(m.maxBytes)} (${((m.ratio ?? 0) * 100).toFixed(1)}%)`}, policy ${m.policy || '(none)'}`,
              `  keys         ${report.keys.total} (${report.keys.expiring} with TTL), evicted ${report.keys.evicted}, expired ${report.keys.expired}`,
              `  clients      ${report.connectedClients}   role ${report.role}   ops/s ${report.opsPerSec}`,
              `  keyspace notifications  ${report.keyspaceEvents === '' ? '(off)' : report.keyspaceEvents}`,
              ...report.reasons.map((r) => `  ✗ ${r}`),
              ...report.warnings.map((w) => `  ! ${w}`),
              '',
            ].join('\n'),
          );
        }
        return report.ok ? 0 : 1;
      }
      case 'stats': {
        const report = await stats(backend, {
          match: values.match ?? '*',
          depth: int(values.depth, '--depth') ?? 1,
        });
        if (values.json) {
          print(`${JSON.stringify(report)}\n`);
          return 0;
        }
        const rows = report.namespaces.map(
          (n) =>
            `  ${n.namespace.padEnd(20)} ${String(n.keys).padStart(9)} ${fmtBytes(n.estimatedBytes).padStart(11)} ${String(n.ttl.none).padStart(8)}  ${Object.entries(
              n.types,
            )
              .map(([t, c]) => `${t}:${c}`)
              .join(' ')}`,
        );
        const t = report.ttl;
        print(
          [
            `${report.keys} keys matching ${report.match}   ops/s ${report.opsPerSec}   memory ${fmtBytes(report.usedMemoryBytes)}`,
            `  ${'namespace'.padEnd(20)} ${'keys'.padStart(9)} ${'~memory'.padStart(11)} ${'no TTL'.padStart(8)}  types`,
            ...rows,
            `  TTL: none ${t.none}, <1m ${t.underMinute}, <1h ${t.underHour}, <1d ${t.underDay}, ≥1d ${t.overDay}`,
            '',
          ].join('\n'),
        );
        return 0;
      }
      case 'backup': {
        const file = values.output;
        if (file === undefined) throw new UsageError('backup needs -o FILE (or -o - for stdout)');
        const match = values.match ?? '*';
        // The bar goes to stderr: on a TTY, or always with --progress.
        const tty = values.progress === true || io.stderr.isTTY === true;
        const estimate = match === '*' ? (await backend.info()).keys : 0;
        let lastDraw = 0;
        const progress = (p: BackupProgress) => {
          if (!tty) return;
          const now = Date.now();
          if (!p.done && now - lastDraw < 100) return;
          lastDraw = now;
          const width = 30;
          const frac = estimate > 0 ? Math.min(1, p.keys / estimate) : 0;
          const bar =
            estimate > 0 ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
          err(
            `\r\x1b[2K${bar}${p.keys}${estimate > 0 ? `/${estimate}` : ''} keys  ${fmtBytes(p.bytes)}`,
          );
          if (p.done) err('\n');
        };
        const tmp = file === '-' ? undefined : `${file}.partial-${process.pid}`;
        const sink = tmp === undefined ? process.stdout : createWriteStream(tmp);
        try {
          const result = await backup(backend, sink, { match, onProgress: progress });
          if (tmp !== undefined) {
            const ws = sink as ReturnType<typeof createWriteStream>;
            ws.end();
            await once(ws, 'close');
            await rename(tmp, file);
          }
          const summary = {
            file,
            keys: result.keys,
            bytes: result.bytes,
            vanished: result.vanished,
          };
          const target = file === '-' ? (s: string) => err(s) : print;
          target(
            values.json
              ? `${JSON.stringify(summary)}\n`
              : `backed up ${result.keys} keys (${fmtBytes(result.bytes)}) to ${file}${result.vanished ? `; ${result.vanished} vanished while reading` : ''}\n`,
          );
          return 0;
        } catch (error) {
          if (tmp !== undefined) {
            (sink as ReturnType<typeof createWriteStream>).destroy();
            await rm(tmp, { force: true });
          }
          throw error;
        }
      }
      case 'restore': {
        const file = positionals[0];
        if (file === undefined) throw new UsageError('restore needs the backup FILE');
        if (values.replace && values['skip-existing']) {
          throw new UsageError('give at most one of --replace and --skip-existing');
        }
        const mode: RestoreMode = values.replace
          ? 'replace'
          : values['skip-existing']
            ? 'skip-existing'
            : 'fail-if-exists';
        const result = await restore(backend, file, {
          mode,
          prefix: values.prefix ?? '',
          continueOnError: values['continue-on-error'] === true,
        });
        if (values.json) print(`${JSON.stringify(result)}\n`);
        else {
          print(
            `restored ${result.restored} keys (${result.replaced} replaced), skipped ${result.skipped} existing, ${result.errors.length} bad line(s)\n`,
          );
          for (const e of result.errors) err(`  ${e.message}\n`);
        }
        return result.errors.length > 0 ? 1 : 0;
      }
      case 'cleanup': {
        const requireTtl: RequireTtlRule[] = (values['require-ttl'] ?? []).map((spec) => {
          const eq = spec.lastIndexOf('=');
          const seconds = Number(spec.slice(eq + 1));
          if (eq <= 0 || !Number.isInteger(seconds) || seconds <= 0) {
            throw new UsageError(`--require-ttl must be PATTERN=SECONDS (got "${spec}")`);
          }
          return { match: spec.slice(0, eq), seconds };
        });
        const result = await cleanup(backend, {
          dryRun: values['dry-run'] === true,
          requireTtl,
          keyIndexes: values.index ?? [],
        });
        if (values.json) print(`${JSON.stringify(result)}\n`);
        else {
          for (const a of result.actions)
            print(`${result.dryRun ? 'would ' : ''}${a.action}  ${a.key}  [${a.rule}]\n`);
          print(
            `${result.actions.length} action(s)${result.dryRun ? ' listed (dry run: nothing changed)' : ' done'}\n`,
          );
        }
        return 0;
      }
      case 'ttl': {
        if (values.match === undefined) throw new UsageError('ttl needs --match PATTERN');
        const seconds = int(values.set, '--set');
        if ((seconds === undefined) === (values.persist !== true)) {
          throw new UsageError('ttl needs exactly one of --set SECONDS and --persist');
        }
        const result = await setTtl(backend, {
          match: values.match,
          ...(seconds === undefined ? { persist: true } : { seconds }),
          dryRun: values['dry-run'] === true,
        });
        if (values.json) print(`${JSON.stringify(result)}\n`);
        else
          print(
            `${result.matched} key(s) matched, ${result.changed} changed (${seconds === undefined ? 'TTL removed' : `TTL ${seconds} s`})${values['dry-run'] ? ' [dry run]' : ''}\n`,
          );
        return 0;
      }
      case 'watch': {
        const tty = io.stdout.isTTY === true && !values.json;
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once('SIGINT', stop);
        try {
          for await (const s of watch(backend, {
            intervalMs: int(values.interval, '--interval', 10) ?? 1000,
            ...(values.count === undefined ? {} : { count: int(values.count, '--count') }),
            signal: controller.signal,
          })) {
            if (values.json) {
              print(`${JSON.stringify(s)}\n`);
              continue;
            }
            const mem = `${fmtBytes(s.usedMemoryBytes)}${s.maxMemoryBytes ? ` / ${fmtBytes(s.maxMemoryBytes)}` : ''}`;
            const hit = s.hitRate === null ? '-' : `${(s.hitRate * 100).toFixed(1)}%`;
            const line = s.error
              ? `${new Date(s.at).toISOString()}  DOWN  ${s.error}`
              : `${new Date(s.at).toISOString()}  ops/s ${s.opsPerSec}  mem ${mem}  clients ${s.connectedClients}  hit ${hit}  evicted ${s.evictedKeys} (+${s.evictedDelta})  ping ${s.latencyMs} ms  keys ${s.keys}`;
            if (tty) {
              print(
                `\x1b[H\x1b[2J\x1b[1mredbrick watch\x1b[0m  ${connection.display}  (Ctrl-C to quit)\n\n` +
                  (s.error
                    ? `  \x1b[31mDOWN\x1b[0m  ${s.error}\n`
                    : [
                        `  ops/s      ${s.opsPerSec}`,
                        `  memory     ${mem}`,
                        `  clients    ${s.connectedClients}`,
                        `  hit rate   ${hit}`,
                        `  evictions  ${s.evictedKeys} (+${s.evictedDelta} since last)`,
                        `  latency    ${s.latencyMs} ms`,
                        `  keys       ${s.keys}`,
                        '',
                      ].join('\n')),
              );
            } else print(`${line}\n`);
          }
        } finally {
          process.off('SIGINT', stop);
        }
        return 0;
      }
    }
    return 2;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`redbrick: ${error.message}\n`);
      return 2;
    }
    err(`redbrick ${command}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await backend?.close();
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      cluster: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      match: { type: 'string' },
      depth: { type: 'string' },
      samples: { type: 'string' },
      output: { type: 'string', short: 'o' },
      replace: { type: 'boolean' },
      'skip-existing': { type: 'boolean' },
      prefix: { type: 'string' },
      'continue-on-error': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      progress: { type: 'boolean' },
      'require-ttl': { type: 'string', multiple: true },
      index: { type: 'string', multiple: true },
      set: { type: 'string' },
      persist: { type: 'boolean' },
      interval: { type: 'string' },
      count: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  return { command, values, positionals: rest };
}
