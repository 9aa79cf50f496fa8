import type { KeyType } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';

/** Version of the JSON Lines backup format written by {@link backup}. */
export const FORMAT_VERSION = 1;

/** A sorted-set score as stored in a backup: a number, or `"inf"` / `"-inf"` (JSON has no Infinity). */
export type EncodedScore = number | 'inf' | '-inf';

/**
 * One key of a backup: one JSON line. Every string is a JSON string (lossless for any JS string).
 * With `encoding: 'base64'` every byte string of `value` (string value, hash fields and values,
 * list and set items, sorted-set members, stream field names and values — not stream ids or
 * scores) is the base64 of the exact bytes: written for values that are not valid UTF-8.
 */
export type BackupRecord = (
  | { key: string; type: 'string'; ttlMs: number | null; value: string }
  | { key: string; type: 'hash'; ttlMs: number | null; value: Array<[string, string]> }
  | { key: string; type: 'list'; ttlMs: number | null; value: string[] }
  | { key: string; type: 'set'; ttlMs: number | null; value: string[] }
  | { key: string; type: 'zset'; ttlMs: number | null; value: Array<[string, EncodedScore]> }
  | {
      key: string;
      type: 'stream';
      ttlMs: number | null;
      value: Array<[string, Array<[string, string]>]>;
    }
) & {
  /** `'base64'`: the byte strings of `value` are base64 (binary values). Absent: plain text. */
  encoding?: 'base64';
};

/** The first line of a backup. */
export interface BackupHeader {
  redbrick: 'backup';
  version: number;
  /** ISO time the backup started. */
  createdAt: string;
  /** `backend.kind` of the source. */
  source: string;
  /** The SCAN pattern used. */
  match: string;
}

/** The last line of a backup: its presence proves the file is complete. */
export interface BackupTrailer {
  redbrick: 'end';
  /** Number of key lines in the file. */
  keys: number;
}

export const DATA_TYPES: readonly Exclude<KeyType, 'none'>[] = [
  'string',
  'hash',
  'list',
  'set',
  'zset',
  'stream',
];

const PKG = '[redbrick/cli]';

/** Encodes a score for JSON. */
export function encodeScore(score: number): EncodedScore {
  if (score === Number.POSITIVE_INFINITY) return 'inf';
  if (score === Number.NEGATIVE_INFINITY) return '-inf';
  return score;
}

/** Decodes a score written by {@link encodeScore}. */
export function decodeScore(score: EncodedScore): number {
  if (score === 'inf') return Number.POSITIVE_INFINITY;
  if (score === '-inf') return Number.NEGATIVE_INFINITY;
  return score;
}

/** What a parsed line turned out to be. */
export type ParsedLine =
  | { kind: 'header'; header: BackupHeader }
  | { kind: 'record'; record: BackupRecord }
  | { kind: 'trailer'; trailer: BackupTrailer };

function fail(where: string, message: string): never {
  throw new ValidationError(`${PKG} ${where}: ${message}`, { field: where });
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** Canonical base64 (what `Buffer#toString('base64')` writes). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isBase64 = (v: unknown): v is string => typeof v === 'string' && BASE64.test(v);

function isPairs(
  v: unknown,
  first: (x: unknown) => boolean,
  second: (x: unknown) => boolean,
): boolean {
  return (
    Array.isArray(v) &&
    v.every((p) => Array.isArray(p) && p.length === 2 && first(p[0]) && second(p[1]))
  );
}

const isScore = (v: unknown): boolean =>
  (typeof v === 'number' && !Number.isNaN(v)) || v === 'inf' || v === '-inf';

/**
 * Parses and validates one line of a backup. `where` names the place for
 * errors (e.g. `backup.jsonl line 7`). Throws a ValidationError naming it.
 */
export function parseLine(text: string, where: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(where, `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, 'must be a JSON object');
  }
  const o = value as Record<string, unknown>;
  if (o.redbrick === 'backup') {
    if (o.version !== FORMAT_VERSION) {
      fail(where, `has format version ${String(o.version)} (allowed: ${FORMAT_VERSION})`);
    }
    return {
      kind: 'header',
      header: {
        redbrick: 'backup',
        version: FORMAT_VERSION,
        createdAt: String(o.createdAt ?? ''),
        source: String(o.source ?? ''),
        match: String(o.match ?? '*'),
      },
    };
  }
  if (o.redbrick === 'end') {
    if (typeof o.keys !== 'number' || !Number.isInteger(o.keys) || o.keys < 0) {
      fail(where, 'end line must carry "keys", an integer ≥ 0');
    }
    return { kind: 'trailer', trailer: { redbrick: 'end', keys: o.keys } };
  }
  if (!isString(o.key)) fail(where, '"key" must be a string');
  if (!(o.ttlMs === null || o.ttlMs === undefined)) {
    if (typeof o.ttlMs !== 'number' || !Number.isInteger(o.ttlMs) || o.ttlMs <= 0) {
      fail(where, '"ttlMs" must be null or a positive integer (milliseconds)');
    }
  }
  const ttlMs = (o.ttlMs ?? null) as number | null;
  if (o.encoding !== undefined && o.encoding !== 'base64') {
    fail(
      where,
      `has the unknown encoding ${JSON.stringify(o.encoding)} (allowed: "base64", or none)`,
    );
  }
  const binary = o.encoding === 'base64';
  // Every byte string of the value: any JSON string, or canonical base64 in a binary record.
  const bytes = binary ? isBase64 : isString;
  const strings = binary ? 'base64 string' : 'string';
  const base = binary ? { key: o.key, ttlMs, encoding: 'base64' as const } : { key: o.key, ttlMs };
  const v = o.value;
  const bad = (shape: string) => fail(where, `"value" must be ${shape} (type "${String(o.type)}")`);
  switch (o.type) {
    case 'string':
      if (!bytes(v)) return bad(`a ${strings}`);
      return { kind: 'record', record: { ...base, type: 'string', value: v } };
    case 'hash':
      if (!isPairs(v, bytes, bytes)) bad(`an array of [field, value] ${strings} pairs`);
      return {
        kind: 'record',
        record: { ...base, type: 'hash', value: v as Array<[string, string]> },
      };
    case 'list':
    case 'set':
      if (!Array.isArray(v) || !v.every(bytes)) bad(`an array of ${strings}s`);
      return {
        kind: 'record',
        record: { ...base, type: o.type, value: v as string[] },
      };
    case 'zset':
      if (!isPairs(v, bytes, isScore))
        bad(
          `an array of [member, score] pairs (member: ${strings}; score: number, "inf" or "-inf")`,
        );
      return {
        kind: 'record',
        record: { ...base, type: 'zset', value: v as Array<[string, EncodedScore]> },
      };
    case 'stream':
      if (
        !Array.isArray(v) ||
        !v.every(
          (e) =>
            Array.isArray(e) &&
            e.length === 2 &&
            isString(e[0]) &&
            /^\d+-\d+$/.test(e[0]) &&
            isPairs(e[1], bytes, bytes),
        )
      ) {
        bad(
          `an array of [id, [[field, value], …]] entries with ids like "1700000000000-0" (fields and values: ${strings}s)`,
        );
      }
      return {
        kind: 'record',
        record: {
          ...base,
          type: 'stream',
          value: v as Array<[string, Array<[string, string]>]>,
        },
      };
    default:
      return fail(
        where,
        `has the unknown type ${JSON.stringify(o.type)} (allowed: ${DATA_TYPES.join(', ')})`,
      );
  }
}
