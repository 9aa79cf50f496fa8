import { once } from 'node:events';
import type { Backend, KeyType, StreamEntry, ZMember } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';
import {
  type BackupHeader,
  type BackupRecord,
  type BackupTrailer,
  encodeScore,
  FORMAT_VERSION,
} from './format.js';

/** Progress of a running backup. */
export interface BackupProgress {
  /** Keys written so far. */
  keys: number;
  /** Bytes written so far. */
  bytes: number;
  /** True on the last call. */
  done: boolean;
}

/** Options of {@link backup}. */
export interface BackupOptions {
  /** SCAN glob of the keys to back up. @default '*' */
  match?: string;
  /** Keys read per round trip (SCAN COUNT and pipeline size). @default 500 */
  batchSize?: number;
  /** Called every `batchSize` keys and once at the end. */
  onProgress?: (progress: BackupProgress) => void;
}

/** What {@link backup} wrote. */
export interface BackupResult {
  keys: number;
  bytes: number;
  /** Keys the scan saw that were gone (deleted or expired) before they could be read. */
  vanished: number;
}

/** Where a backup is written: anything with Node's `Writable` write/drain contract. */
export interface BackupSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

const PKG = '[redbrick/cli]';

async function writeLine(sink: BackupSink, line: string): Promise<void> {
  if (!sink.write(`${line}\n`)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
}

function toRecord(key: string, type: KeyType, value: unknown, pttl: number): BackupRecord | null {
  if (pttl === -2) return null;
  const ttlMs = pttl > 0 ? pttl : null;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? { key, type, ttlMs, value } : null;
    case 'hash': {
      const pairs = Object.entries(value as Record<string, string>);
      return pairs.length === 0 ? null : { key, type, ttlMs, value: pairs };
    }
    case 'list':
    case 'set': {
      const items = value as string[];
      return items.length === 0 ? null : { key, type, ttlMs, value: items };
    }
    case 'zset': {
      const members = value as ZMember[];
      if (members.length === 0) return null;
      return {
        key,
        type,
        ttlMs,
        value: members.map((m): [string, ReturnType<typeof encodeScore>] => [
          m.member,
          encodeScore(m.score),
        ]),
      };
    }
    case 'stream': {
      const entries = value as StreamEntry[];
      return {
        key,
        type,
        ttlMs,
        value: entries.map((e): [string, Array<[string, string]>] => [
          e.id,
          Object.entries(e.fields),
        ]),
      };
    }
    default:
      return null;
  }
}

/**
 * Streams a JSON Lines snapshot of the keys matching `match` to `sink`:
 * a header line, one line per key (`key`, `type`, `ttlMs` remaining,
 * `value`) and an end line with the key count. Keys are found with SCAN
 * and read `batchSize` at a time with pipelines, so memory stays bounded
 * by one batch (and the largest key), never by the number of keys.
 * The sink is not ended.
 */
export async function backup(
  backend: Backend,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const match = options.match ?? '*';
  const batchSize = options.batchSize ?? 500;
  if (typeof match !== 'string' || match.length === 0) {
    throw new ValidationError(`${PKG} match must be a non-empty glob pattern`, { field: 'match' });
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new ValidationError(`${PKG} batchSize must be an integer from 1 to 100000`, {
      field: 'batchSize',
    });
  }
  const header: BackupHeader = {
    redbrick: 'backup',
    version: FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    source: backend.kind,
    match,
  };
  let bytes = 0;
  let keys = 0;
  let vanished = 0;
  const emit = async (line: string) => {
    bytes += Buffer.byteLength(line) + 1;
    await writeLine(sink, line);
  };
  await emit(JSON.stringify(header));

  const flush = async (batch: string[]) => {
    const types = backend.pipeline();
    for (const k of batch) types.add('type', k);
    const typeResults = await types.exec();
    const reads = backend.pipeline();
    const kinds: KeyType[] = [];
    batch.forEach((k, i) => {
      const r = typeResults[i];
      if (r === undefined || !r.ok) throw r?.ok === false ? r.error : new Error('no reply');
      const type = r.value as KeyType;
      kinds.push(type);
      switch (type) {
        case 'string':
          reads.add('get', k);
          break;
        case 'hash':
          reads.add('hgetall', k);
          break;
        case 'list':
          reads.add('lrange', k, 0, -1);
          break;
        case 'set':
          reads.add('smembers', k);
          break;
        case 'zset':
          reads.add('zrangeByScore', k, '-inf', '+inf', { withScores: true });
          break;
        case 'stream':
          reads.add('xrange', k, '-', '+');
          break;
        default:
          reads.add('pttl', k);
      }
      reads.add('pttl', k);
    });
    const values = await reads.exec();
    for (let i = 0; i < batch.length; i++) {
      const value = values[2 * i];
      const pttl = values[2 * i + 1];
      const key = batch[i] as string;
      if (value === undefined || pttl === undefined) continue;
      if (!value.ok) {
        // The key changed type between TYPE and the read: it is being rewritten; read it alone.
        if (value.error.message.includes('WRONGTYPE')) {
          vanished++;
          continue;
        }
        throw value.error;
      }
      if (!pttl.ok) throw pttl.error;
      const record = toRecord(key, kinds[i] as KeyType, value.value, pttl.value as number);
      if (record === null) {
        vanished++;
        continue;
      }
      await emit(JSON.stringify(record));
      keys++;
    }
    options.onProgress?.({ keys, bytes, done: false });
  };

  let batch: string[] = [];
  for await (const k of backend.scan({ match, count: batchSize })) {
    batch.push(k);
    if (batch.length >= batchSize) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await flush(batch);
  const trailer: BackupTrailer = { redbrick: 'end', keys };
  await emit(JSON.stringify(trailer));
  options.onProgress?.({ keys, bytes, done: true });
  return { keys, bytes, vanished };
}
