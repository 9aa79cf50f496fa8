import { ValidationError } from './errors.js';

/**
 * Key parts are joined with `:`. Inside a part, `%`, `:`, `{` and `}` are
 * percent-encoded, so `key('a:b', 'c')` and `key('a', 'b:c')` never collide
 * and no part can open or close a hash tag by accident.
 */
const PART_ESCAPE = /[%:{}]/g;
const NEEDS_ESCAPE = /[%:{}]/;
const PART_ESCAPES: Record<string, string> = { '%': '%25', ':': '%3A', '{': '%7B', '}': '%7D' };

/** Percent-encodes the characters that have meaning in a key (`%`, `:`, `{`, `}`). */
export function escapeKeyPart(part: string): string {
  // Most parts need no escaping: testing first skips replace()'s callback machinery.
  return NEEDS_ESCAPE.test(part) ? part.replace(PART_ESCAPE, (c) => PART_ESCAPES[c] ?? c) : part;
}

/** Reverses {@link escapeKeyPart}. */
export function unescapeKeyPart(part: string): string {
  return part.replace(/%(25|3A|7B|7D)/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** A key part rendered as a Redis Cluster hash tag: `{escaped}`. */
export interface HashTag {
  readonly hashTag: string;
}

/**
 * Marks parts as the hash tag of a key: every key built with the same tag
 * lands in the same Redis Cluster slot, so one script can touch them all.
 */
export function tag(...parts: Array<string | number>): HashTag {
  if (parts.length === 0)
    throw new ValidationError('[redbrick/core] tag() needs at least one part');
  return { hashTag: `{${parts.map((p) => escapeKeyPart(checkPart(p, 'tag part'))).join(':')}}` };
}

function checkPart(part: string | number, what: string): string {
  if (typeof part === 'number') {
    if (!Number.isFinite(part)) {
      throw new ValidationError(
        `[redbrick/core] ${what} must be a finite number or a string, got ${part}`,
        {
          field: what,
        },
      );
    }
    return String(part);
  }
  if (typeof part !== 'string') {
    throw new ValidationError(`[redbrick/core] ${what} must be a string, got ${typeof part}`, {
      field: what,
    });
  }
  if (part.length === 0) {
    throw new ValidationError(`[redbrick/core] ${what} must be a non-empty string`, {
      field: what,
    });
  }
  return part;
}

/**
 * Builds a key from parts: `key('rl', tag(userId), 'w')` → `rl:{user%3A1}:w`.
 * Parts must be non-empty strings or finite numbers.
 */
export function key(...parts: Array<string | number | HashTag>): string {
  if (parts.length === 0)
    throw new ValidationError('[redbrick/core] key() needs at least one part');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string | number | HashTag;
    const rendered =
      typeof p === 'object' && p !== null && 'hashTag' in p
        ? p.hashTag
        : escapeKeyPart(checkPart(p, 'key part'));
    out = i === 0 ? rendered : `${out}:${rendered}`;
  }
  return out;
}

const GLOB_SPECIAL = /[*?[\]\\]/g;

/** Escapes `* ? [ ] \` so the string matches itself literally in a Redis glob pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(GLOB_SPECIAL, (c) => `\\${c}`);
}

/** The Redis Cluster hash slot (0–16383) of a key, honouring `{hash tags}`. */
export function hashSlot(k: string): number {
  let s = k;
  const open = k.indexOf('{');
  if (open !== -1) {
    const close = k.indexOf('}', open + 1);
    if (close > open + 1) s = k.slice(open + 1, close);
  }
  return crc16(Buffer.from(s, 'utf8')) % 16384;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(buf: Uint8Array): number {
  let crc = 0;
  for (const byte of buf)
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}
