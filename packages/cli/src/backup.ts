import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import type {
  Backend,
  KeyType,
  ScriptReply,
  StreamEntry,
  SyncCommands,
  ZMember,
} from '@redbrick/core';
import { defineScript, ValidationError } from '@redbrick/core';
import {
  type BackupHeader,
  type BackupRecord,
  type BackupTrailer,
  type EncodedScore,
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

/** What {@link readBytesScript} read: the key's type and its byte strings, hex-encoded. */
type HexReply = [type: string, ...items: ScriptReply[]];

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

/**
 * Reads one key with every byte string hex-encoded, so bytes that are not
 * valid UTF-8 reach the client exactly (a plain read decodes them as UTF-8,
 * replacing them with U+FFFD). Used only for keys whose plain read showed U+FFFD.
 */
export const readBytesScript = defineScript<HexReply>({
  name: 'cli.read-bytes',
  keys: 1,
  lua: `--[[ cli.read-bytes
  KEYS[1]  the key
  returns  {type, …}, every byte string as lowercase hex: string {value}; hash {field, value, …};
           list and set {item, …}; zset {member, score, …} (score as Redis prints it);
           stream {id, {field, value, …}, …}; {'none'} when the key is gone ]]
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local k = KEYS[1]
local t = redis.call('type', k).ok
local out = {t}
local function all(items) for _, v in ipairs(items) do out[#out + 1] = hex(v) end end
if t == 'string' then
  out[2] = hex(redis.call('get', k))
elseif t == 'hash' then
  all(redis.call('hgetall', k))
elseif t == 'list' then
  all(redis.call('lrange', k, 0, -1))
elseif t == 'set' then
  all(redis.call('smembers', k))
elseif t == 'zset' then
  local r = redis.call('zrange', k, 0, -1, 'withscores')
  for i = 1, #r, 2 do
    out[#out + 1] = hex(r[i])
    out[#out + 1] = r[i + 1]
  end
elseif t == 'stream' then
  for _, e in ipairs(redis.call('xrange', k, '-', '+')) do
    local fields = {}
    for _, v in ipairs(e[2]) do fields[#fields + 1] = hex(v) end
    out[#out + 1] = e[1]
    out[#out + 1] = fields
  end
end
return out`,
  // Memory holds JS strings: their bytes are their UTF-8 encoding.
  local: (r: SyncCommands, [k]) => {
    const key = k as string;
    const type = r.type(key);
    switch (type) {
      case 'string':
        return [type, hex(r.get(key) ?? '')];
      case 'hash':
        return [type, ...Object.entries(r.hgetall(key)).flat().map(hex)];
      case 'list':
        return [type, ...r.lrange(key, 0, -1).map(hex)];
      case 'set':
        return [type, ...r.smembers(key).map(hex)];
      case 'zset':
        return [
          type,
          ...r
            .zrangeByScore(key, '-inf', '+inf', { withScores: true })
            .flatMap((m) => [hex(m.member), String(encodeScore(m.score))]),
        ];
      case 'stream':
        return [
          type,
          ...r
            .xrange(key, '-', '+')
            .flatMap((e) => [e.id, Object.entries(e.fields).flat().map(hex)]),
        ];
      default:
        return [type];
    }
  },
  decode: (reply) => (Array.isArray(reply) ? (reply as HexReply) : ['none']),
});

const fromHex = (hexText: ScriptReply) => Buffer.from(String(hexText), 'hex');

function parseScore(text: ScriptReply): EncodedScore {
  const s = String(text);
  if (s === 'inf' || s === '+inf') return 'inf';
  if (s === '-inf') return '-inf';
  return Number(s);
}

/**
 * The record of a key read with {@link readBytesScript}: base64 when any byte string is not
 * valid UTF-8, null when every one is (the plain read was exact) or the key is gone.
 */
function binaryRecord(key: string, ttlMs: number | null, reply: HexReply): BackupRecord | null {
  const [type, ...items] = reply;
  const buffers: Buffer[] = [];
  const bytes = (item: ScriptReply) => {
    const b = fromHex(item);
    buffers.push(b);
    return b.toString('base64');
  };
  const pairs = (list: ScriptReply[], second: (x: ScriptReply) => string | EncodedScore) => {
    const out: Array<[string, string | EncodedScore]> = [];
    for (let i = 0; i + 1 < list.length; i += 2)
      out.push([bytes(list[i] ?? ''), second(list[i + 1] ?? '')]);
    return out;
  };
  const base = { key, ttlMs, encoding: 'base64' as const };
  let record: BackupRecord;
  switch (type) {
    case 'string':
      record = { ...base, type, value: bytes(items[0] ?? '') };
      break;
    case 'hash':
      record = { ...base, type, value: pairs(items, bytes) as Array<[string, string]> };
      break;
    case 'list':
    case 'set':
      record = { ...base, type, value: items.map(bytes) };
      break;
    case 'zset':
      record = { ...base, type, value: pairs(items, parseScore) as Array<[string, EncodedScore]> };
      break;
    case 'stream': {
      const value: Array<[string, Array<[string, string]>]> = [];
      for (let i = 0; i + 1 < items.length; i += 2) {
        const fields = items[i + 1];
        value.push([
          String(items[i]),
          pairs(Array.isArray(fields) ? fields : [], bytes) as Array<[string, string]>,
        ]);
      }
      record = { ...base, type, value };
      break;
    }
    default:
      return null;
  }
  return buffers.every((b) => isUtf8(b)) ? null : record;
}

/**
 * Streams a JSON Lines snapshot of the keys matching `match` to `sink`:
 * a header line, one line per key (`key`, `type`, `ttlMs` remaining,
 * `value`) and an end line with the key count. Keys are found with SCAN
 * and read `batchSize` at a time with pipelines, so memory stays bounded
 * by one batch (and the largest key), never by the number of keys.
 * A key whose values are not all valid UTF-8 (binary) is read again byte
 * for byte and written as a base64 record (`encoding: 'base64'`).
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
    // Per key of the batch: its line, null when it vanished, undefined when it was skipped.
    const lines: Array<string | null | undefined> = [];
    const suspects: Array<{ i: number; record: BackupRecord }> = [];
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
      lines[i] = record === null ? null : JSON.stringify(record);
      // A U+FFFD may stand for bytes that are not UTF-8 (the text read replaced them).
      if (record !== null && lines[i]?.includes('\uFFFD')) suspects.push({ i, record });
    }
    // Read those keys again as bytes; keep them as base64 when they are not text.
    await Promise.all(
      suspects.map(async ({ i, record }) => {
        const reply = await backend.run(readBytesScript, [record.key]);
        const binary = reply[0] === 'none' ? null : binaryRecord(record.key, record.ttlMs, reply);
        if (reply[0] === 'none') lines[i] = null;
        else if (binary !== null) lines[i] = JSON.stringify(binary);
      }),
    );
    for (const line of lines) {
      if (line === undefined) continue;
      if (line === null) {
        vanished++;
        continue;
      }
      await emit(line);
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
