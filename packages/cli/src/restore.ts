import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Backend, Pipeline, SyncCommands } from '@redbrick/core';
import { defineScript, ValidationError } from '@redbrick/core';
import { type BackupRecord, decodeScore, type EncodedScore, parseLine } from './format.js';

/** What to do with a key of the backup that already exists. */
export type RestoreMode = 'fail-if-exists' | 'replace' | 'skip-existing';

/** Options of {@link restore}. */
export interface RestoreOptions {
  /**
   * `fail-if-exists` refuses to write anything when any key of the file
   * exists; `replace` overwrites; `skip-existing` leaves existing keys alone.
   * @default 'fail-if-exists'
   */
  mode?: RestoreMode;
  /** Written in front of every key name (e.g. `'staging:'`). @default '' */
  prefix?: string;
  /**
   * Skip bad lines (reported in `errors`) and write the good ones, in one
   * pass. Without it the whole file is validated first and nothing is
   * written when any line is bad or the file is truncated.
   * @default false
   */
  continueOnError?: boolean;
  /** Keys written per pipeline. @default 500 */
  batchSize?: number;
  /** Called after every batch with the counts so far. */
  onProgress?: (progress: { restored: number; skipped: number; line: number }) => void;
}

/** One bad line that `continueOnError` skipped. */
export interface RestoreLineError {
  line: number;
  message: string;
}

/** What {@link restore} did. */
export interface RestoreResult {
  /** Keys written. */
  restored: number;
  /** Existing keys left alone (`skip-existing`). */
  skipped: number;
  /** Existing keys overwritten (`replace`). */
  replaced: number;
  /** Bad lines skipped (only with `continueOnError`). */
  errors: RestoreLineError[];
}

/** A backup to read: a file path, or a function that opens the stream (called once or twice). */
export type RestoreSource = string | (() => Readable);

const PKG = '[redbrick/cli]';
const CHUNK = 1000;

interface Line {
  n: number;
  text: string;
}

async function* lines(source: RestoreSource): AsyncGenerator<Line> {
  let input: Readable | ReadStream;
  if (typeof source === 'string') {
    try {
      const s = await stat(source);
      if (!s.isFile()) throw new Error('not a regular file');
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no such file'
          : (error as Error).message;
      throw new ValidationError(`${PKG} cannot read the backup file "${source}": ${reason}`, {
        field: 'file',
      });
    }
    input = createReadStream(source, { encoding: 'utf8' });
  } else {
    input = source();
  }
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const text of rl) {
    n++;
    yield { n, text };
  }
}

const name = (source: RestoreSource) => (typeof source === 'string' ? source : 'backup');

/** Reads the whole file, checks every line, and (fail-if-exists) that no key exists. */
async function validate(
  backend: Backend,
  source: RestoreSource,
  prefix: string,
  checkExisting: boolean,
): Promise<void> {
  const file = name(source);
  let last = 0;
  let records = 0;
  let trailer: number | undefined;
  let existing = 0;
  const firstExisting: string[] = [];
  let pending: string[] = [];
  const check = async () => {
    const p = backend.pipeline();
    for (const k of pending) p.add('exists', k);
    const results = await p.exec();
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      if ((r.value as number) > 0) {
        existing++;
        if (firstExisting.length < 5) firstExisting.push(pending[i] as string);
      }
    });
    pending = [];
  };
  for await (const { n, text } of lines(source)) {
    last = n;
    const where = `${file} line ${n}`;
    if (trailer !== undefined) {
      throw new ValidationError(`${PKG} ${where}: content after the end line`, { field: where });
    }
    if (text.trim() === '') continue;
    const parsed = parseLine(text, where);
    if (parsed.kind === 'header') {
      if (n !== 1)
        throw new ValidationError(`${PKG} ${where}: header must be line 1`, { field: where });
      continue;
    }
    if (n === 1) {
      throw new ValidationError(`${PKG} ${where}: not a redbrick backup (no header line)`, {
        field: where,
      });
    }
    if (parsed.kind === 'trailer') {
      if (parsed.trailer.keys !== records) {
        throw new ValidationError(
          `${PKG} ${where}: the end line says ${parsed.trailer.keys} keys but the file has ${records}`,
          { field: where },
        );
      }
      trailer = parsed.trailer.keys;
      continue;
    }
    records++;
    if (checkExisting) {
      pending.push(prefix + parsed.record.key);
      if (pending.length >= CHUNK) await check();
    }
  }
  if (last === 0) {
    throw new ValidationError(`${PKG} ${file} is empty (not a redbrick backup)`, { field: 'file' });
  }
  if (trailer === undefined) {
    throw new ValidationError(
      `${PKG} ${file} line ${last}: the file ends without its end line (truncated backup?)`,
      { field: `${file} line ${last}` },
    );
  }
  if (pending.length > 0) await check();
  if (existing > 0) {
    throw new ValidationError(
      `${PKG} ${existing} key(s) of the backup already exist (${firstExisting.join(', ')}${existing > firstExisting.length ? ', …' : ''}); nothing was written. Use --replace or --skip-existing (mode 'replace' / 'skip-existing').`,
      { field: 'mode' },
    );
  }
}

function addWrite(p: Pipeline, key: string, r: BackupRecord): void {
  p.add('del', key);
  switch (r.type) {
    case 'string':
      p.add('set', key, r.value);
      break;
    case 'hash':
      for (let i = 0; i < r.value.length; i += CHUNK) {
        p.add('hset', key, Object.fromEntries(r.value.slice(i, i + CHUNK)));
      }
      break;
    case 'list':
      for (let i = 0; i < r.value.length; i += CHUNK)
        p.add('rpush', key, ...r.value.slice(i, i + CHUNK));
      break;
    case 'set':
      for (let i = 0; i < r.value.length; i += CHUNK)
        p.add('sadd', key, ...r.value.slice(i, i + CHUNK));
      break;
    case 'zset':
      for (let i = 0; i < r.value.length; i += CHUNK) {
        p.add(
          'zadd',
          key,
          r.value
            .slice(i, i + CHUNK)
            .map(([member, score]) => ({ member, score: decodeScore(score) })),
        );
      }
      break;
    case 'stream':
      if (r.value.length === 0) {
        // An empty stream: create it with a placeholder entry and remove that entry.
        p.add('xadd', key, { '': '' }, { id: '0-1' });
        p.add('xdel', key, '0-1');
      }
      for (const [id, fields] of r.value) p.add('xadd', key, Object.fromEntries(fields), { id });
      break;
  }
  if (r.ttlMs !== null) p.add('pexpire', key, r.ttlMs);
}

/** Hex text → the text a JS string holds for those bytes (memory holds strings, not bytes). */
const text = (hexText: string) => Buffer.from(hexText, 'hex').toString('utf8');

/**
 * Writes one key of a base64 record from hex-encoded byte strings, so the
 * exact bytes reach Redis (a string argument would be sent as its UTF-8).
 */
export const writeBytesScript = defineScript<number>({
  name: 'cli.write-bytes',
  keys: 1,
  lua: `--[[ cli.write-bytes
  KEYS[1]  the key (replaced)
  ARGV[1]  type   ARGV[2] ttl ms (0: none)
  ARGV[3…] the value, every byte string as hex: string {value}; hash {field, value, …};
           list and set {item, …}; zset {member, score, …};
           stream {id, n, then n field/value pairs, …} (nothing: an empty stream)
  returns  1 ]]
local function bytes(h)
  return (string.gsub(h, '%x%x', function(x) return string.char(tonumber(x, 16)) end))
end
local k = KEYS[1]
local t = ARGV[1]
local ttl = tonumber(ARGV[2])
redis.call('del', k)
if t == 'string' then
  redis.call('set', k, bytes(ARGV[3]))
elseif t == 'hash' then
  for i = 3, #ARGV, 2 do redis.call('hset', k, bytes(ARGV[i]), bytes(ARGV[i + 1])) end
elseif t == 'list' then
  for i = 3, #ARGV do redis.call('rpush', k, bytes(ARGV[i])) end
elseif t == 'set' then
  for i = 3, #ARGV do redis.call('sadd', k, bytes(ARGV[i])) end
elseif t == 'zset' then
  for i = 3, #ARGV, 2 do redis.call('zadd', k, ARGV[i + 1], bytes(ARGV[i])) end
elseif t == 'stream' then
  if #ARGV == 2 then
    redis.call('xadd', k, '0-1', '', '')
    redis.call('xdel', k, '0-1')
  end
  local i = 3
  while i <= #ARGV do
    local n = tonumber(ARGV[i + 1])
    local fields = {}
    for j = 1, 2 * n do fields[j] = bytes(ARGV[i + 1 + j]) end
    redis.call('xadd', k, ARGV[i], unpack(fields))
    i = i + 2 + 2 * n
  end
end
if ttl > 0 then redis.call('pexpire', k, ttl) end
return 1`,
  local: (r: SyncCommands, [k], [type, ttl, ...rest]) => {
    const key = k as string;
    r.del(key);
    const pairs = (score: boolean) => {
      const out: Array<[string, string]> = [];
      for (let i = 0; i + 1 < rest.length; i += 2)
        out.push([
          text(rest[i] as string),
          score ? (rest[i + 1] as string) : text(rest[i + 1] as string),
        ]);
      return out;
    };
    switch (type) {
      case 'string':
        r.set(key, text(rest[0] ?? ''));
        break;
      case 'hash':
        r.hset(key, Object.fromEntries(pairs(false)));
        break;
      case 'list':
        r.rpush(key, ...rest.map(text));
        break;
      case 'set':
        r.sadd(key, ...rest.map(text));
        break;
      case 'zset':
        r.zadd(
          key,
          pairs(true).map(([member, score]) => ({
            member,
            score: decodeScore(score === 'inf' || score === '-inf' ? score : Number(score)),
          })),
        );
        break;
      case 'stream': {
        if (rest.length === 0) {
          r.xadd(key, { '': '' }, { id: '0-1' });
          r.xdel(key, '0-1');
        }
        for (let i = 0; i + 1 < rest.length; ) {
          const n = Number(rest[i + 1]);
          const fields: Record<string, string> = {};
          for (let j = 0; j < n; j++)
            fields[text(rest[i + 2 + 2 * j] as string)] = text(rest[i + 3 + 2 * j] as string);
          r.xadd(key, fields, { id: rest[i] as string });
          i += 2 + 2 * n;
        }
        break;
      }
    }
    if (Number(ttl) > 0) r.pexpire(key, Number(ttl));
    return 1;
  },
  decode: (reply) => Number(reply),
});

const toHex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');
const scoreArg = (score: EncodedScore) => String(score);

/** ARGV of {@link writeBytesScript} for a base64 record. */
function bytesArgs(r: BackupRecord): string[] {
  const args = [r.type, String(r.ttlMs ?? 0)];
  switch (r.type) {
    case 'string':
      args.push(toHex(r.value));
      break;
    case 'hash':
      for (const [f, v] of r.value) args.push(toHex(f), toHex(v));
      break;
    case 'list':
    case 'set':
      for (const item of r.value) args.push(toHex(item));
      break;
    case 'zset':
      for (const [member, score] of r.value) args.push(toHex(member), scoreArg(score));
      break;
    case 'stream':
      for (const [id, fields] of r.value) {
        args.push(id, String(fields.length));
        for (const [f, v] of fields) args.push(toHex(f), toHex(v));
      }
      break;
  }
  return args;
}

/**
 * Restores a backup written by {@link backup}. Each key's TTL is what
 * remained at backup time, counted from now. Existing keys are only
 * touched with `mode: 'replace'`. Without `continueOnError` the file is
 * read twice: a first pass validates every line (and, in
 * `fail-if-exists` mode, that no key exists) so a bad file writes nothing.
 * Base64 records (binary values) are written byte for byte; into the memory
 * backend, as the UTF-8 decoding of their bytes.
 */
export async function restore(
  backend: Backend,
  source: RestoreSource,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const mode = options.mode ?? 'fail-if-exists';
  const prefix = options.prefix ?? '';
  const batchSize = options.batchSize ?? 500;
  if (mode !== 'fail-if-exists' && mode !== 'replace' && mode !== 'skip-existing') {
    throw new ValidationError(
      `${PKG} mode must be one of fail-if-exists, replace, skip-existing (got ${JSON.stringify(mode)})`,
      { field: 'mode' },
    );
  }
  if (typeof prefix !== 'string') {
    throw new ValidationError(`${PKG} prefix must be a string`, { field: 'prefix' });
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new ValidationError(`${PKG} batchSize must be an integer from 1 to 100000`, {
      field: 'batchSize',
    });
  }
  const continueOnError = options.continueOnError === true;
  if (!continueOnError) await validate(backend, source, prefix, mode === 'fail-if-exists');

  const result: RestoreResult = { restored: 0, skipped: 0, replaced: 0, errors: [] };
  const file = name(source);
  let batch: Array<{ record: BackupRecord; line: number }> = [];
  let lastLine = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    let existing: boolean[] = batch.map(() => false);
    if (mode !== 'fail-if-exists' || continueOnError) {
      const p = backend.pipeline();
      for (const { record } of batch) p.add('exists', prefix + record.key);
      existing = (await p.exec()).map((x) => {
        if (!x.ok) throw x.error;
        return (x.value as number) > 0;
      });
    }
    const p = backend.pipeline();
    const binary: Array<{ key: string; args: string[] }> = [];
    batch.forEach(({ record: r, line }, i) => {
      if (existing[i]) {
        if (mode !== 'replace') {
          if (mode === 'fail-if-exists') {
            result.errors.push({
              line,
              message: `${PKG} ${file} line ${line}: key "${prefix + r.key}" already exists; left alone`,
            });
          }
          result.skipped++;
          return;
        }
        result.replaced++;
      }
      if (r.encoding === 'base64') binary.push({ key: prefix + r.key, args: bytesArgs(r) });
      else addWrite(p, prefix + r.key, r);
      result.restored++;
    });
    if (p.length > 0) {
      for (const x of await p.exec()) if (!x.ok) throw x.error;
    }
    await Promise.all(binary.map((b) => backend.run(writeBytesScript, [b.key], b.args)));
    batch = [];
    options.onProgress?.({ restored: result.restored, skipped: result.skipped, line: lastLine });
  };
  for await (const { n, text } of lines(source)) {
    lastLine = n;
    if (text.trim() === '') continue;
    let parsed: ReturnType<typeof parseLine>;
    try {
      parsed = parseLine(text, `${file} line ${n}`);
    } catch (error) {
      if (!continueOnError) throw error;
      result.errors.push({ line: n, message: (error as Error).message });
      continue;
    }
    if (parsed.kind !== 'record') continue;
    batch.push({ record: parsed.record, line: n });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return result;
}
