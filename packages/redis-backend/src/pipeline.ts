import { type DataCommands, hashSlot, type Pipeline, type PipelineResult } from '@redbrick/core';
import type { Cluster } from 'ioredis';
import { slotOwner } from './cluster.js';
import { buildOp, type Op, type RedisArg } from './commands.js';
import type { Client } from './connection.js';
import { type Caller, evalOp, isNoScript, sendOp } from './scripts.js';

/** What a pipeline needs from its backend. */
export interface PipelineHost {
  readonly client: Client;
  readonly cluster: Cluster | undefined;
  /** Runs one op outside the batch (blocking reads, Cluster publish), errors already mapped. */
  runAlone(op: Op): Promise<unknown>;
  /** Checks an op before it is queued (closed backend, cross-slot keys). */
  check(op: Op): void;
  /** Maps a raw ioredis error of `op` to a redbrick error. */
  mapError(op: Op, error: unknown): Error;
}

type Raw = { ok: true; reply: unknown } | { ok: false; error: unknown };

interface BatchCommander {
  call(command: string, ...args: RedisArg[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

async function sendBatch(client: Client, ops: readonly Op[]): Promise<Raw[]> {
  const batch = client.pipeline() as unknown as BatchCommander;
  for (const op of ops) batch.call(op.name, ...op.args);
  try {
    const replies = (await batch.exec()) ?? [];
    return ops.map((_, i) => {
      const [error, reply] = replies[i] ?? [new Error('Connection is closed.'), null];
      return error ? { ok: false, error } : { ok: true, reply };
    });
  } catch (error) {
    return ops.map(() => ({ ok: false, error }));
  }
}

/** Sends ops in one round trip, repeating the NOSCRIPT ones as EVAL in a second. */
async function runBatch(client: Client, ops: readonly Op[]): Promise<Raw[]> {
  const raw = await sendBatch(client, ops);
  const retry: number[] = [];
  raw.forEach((r, i) => {
    if (!r.ok && ops[i]?.script !== undefined && isNoScript(r.error)) retry.push(i);
  });
  if (retry.length > 0) {
    const again = await sendBatch(
      client,
      retry.map((i) => evalOp(ops[i] as Op)),
    );
    retry.forEach((i, j) => {
      raw[i] = again[j] as Raw;
    });
  }
  return raw;
}

/**
 * On Cluster a pipeline can only go to one node: ops are grouped by the
 * primary owning their first key's slot, each group is one pipeline to that
 * node (all groups in parallel), and the results are put back in order. If
 * the slot table changed under a group, its ops are sent one by one instead.
 */
async function runClusterBatch(cluster: Cluster, ops: readonly Op[]): Promise<Raw[]> {
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const slot = hashSlot(op.keys[0] ?? '');
    const group = slotOwner(cluster, slot) ?? `slot:${slot}`;
    const list = groups.get(group);
    if (list) list.push(i);
    else groups.set(group, [i]);
  });
  const out = new Array<Raw>(ops.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const groupOps = indexes.map((i) => ops[i] as Op);
      let raw = await runBatch(cluster, groupOps);
      if (raw.some((r) => !r.ok && /slots allocation group|same slot/i.test(String(r.error)))) {
        raw = await Promise.all(
          groupOps.map((op) =>
            sendOp(cluster as unknown as Caller, {
              ...op,
              decode: (r: unknown) => r,
              recover: undefined,
            }).then(
              (reply): Raw => ({ ok: true, reply }),
              (error: unknown): Raw => ({ ok: false, error }),
            ),
          ),
        );
      }
      indexes.forEach((i, j) => {
        out[i] = raw[j] as Raw;
      });
    }),
  );
  return out;
}

type Entry = { op: Op } | { error: Error };

/** Commands queued and sent in one round trip per node. Not atomic. */
export class RedisPipeline implements Pipeline {
  readonly #host: PipelineHost;
  readonly #entries: Entry[] = [];

  constructor(host: PipelineHost) {
    this.#host = host;
  }

  add<K extends keyof DataCommands>(command: K, ...args: Parameters<DataCommands[K]>): Pipeline {
    try {
      const op = buildOp(command, args);
      this.#host.check(op);
      this.#entries.push({ op });
    } catch (error) {
      this.#entries.push({ error: error instanceof Error ? error : new Error(String(error)) });
    }
    return this;
  }

  get length(): number {
    return this.#entries.length;
  }

  async exec(): Promise<PipelineResult[]> {
    const entries = this.#entries.splice(0);
    const results = new Array<PipelineResult>(entries.length);
    const batched: number[] = [];
    const alone: Array<Promise<void>> = [];
    entries.forEach((entry, i) => {
      if ('error' in entry) {
        results[i] = { ok: false, error: entry.error };
        return;
      }
      const { op } = entry;
      if (op.blockMs !== undefined || (op.publish && this.#host.cluster)) {
        alone.push(
          this.#host.runAlone(op).then(
            (value) => {
              results[i] = { ok: true, value };
            },
            (error: unknown) => {
              results[i] = {
                ok: false,
                error: error instanceof Error ? error : new Error(String(error)),
              };
            },
          ),
        );
        return;
      }
      batched.push(i);
    });
    const ops = batched.map((i) => (entries[i] as { op: Op }).op);
    const cluster = this.#host.cluster;
    const [raw] = await Promise.all([
      ops.length === 0
        ? Promise.resolve([] as Raw[])
        : cluster
          ? runClusterBatch(cluster, ops)
          : runBatch(this.#host.client, ops),
      Promise.all(alone),
    ]);
    batched.forEach((index, j) => {
      const op = ops[j] as Op;
      const r = raw[j] as Raw;
      results[index] = this.#result(op, r);
    });
    return results;
  }

  #result(op: Op, raw: Raw): PipelineResult {
    if (raw.ok) {
      try {
        return { ok: true, value: op.decode(raw.reply) };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
      }
    }
    const message = raw.error instanceof Error ? raw.error.message : String(raw.error);
    const recovered = op.recover?.(message);
    if (recovered) return { ok: true, value: recovered.value };
    return { ok: false, error: this.#host.mapError(op, raw.error) };
  }
}
