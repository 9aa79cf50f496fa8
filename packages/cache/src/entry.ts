import { type Codec, isRedbrickError, ValidationError } from '@redbrick/core';

/**
 * What one stored entry holds. On the backend it is one string:
 * `c1 <expiresAtMs>[ <json {g: tags, m: meta}>]\n<encoded value>` — a short
 * header line (no JSON parse unless tags or metadata are present) and the
 * value as the codec wrote it.
 */
export interface StoredEntry {
  value: unknown;
  /** Wall-clock ms of the logical expiry (the physical TTL adds the grace period). */
  expiresAt: number;
  tags: string[] | undefined;
  meta: Record<string, unknown> | undefined;
}

const MAGIC = 'c1 ';

/** Encodes an entry for the backend. */
export function encodeEntry(
  codec: Codec<unknown>,
  value: unknown,
  expiresAt: number,
  tags: readonly string[] | undefined,
  meta: Record<string, unknown> | undefined,
): string {
  const body = codec.encode(value);
  const hasTags = tags !== undefined && tags.length > 0;
  if (!hasTags && meta === undefined) return `${MAGIC}${expiresAt}\n${body}`;
  const extra: { g?: readonly string[]; m?: Record<string, unknown> } = {};
  if (hasTags) extra.g = tags;
  if (meta !== undefined) extra.m = meta;
  return `${MAGIC}${expiresAt} ${JSON.stringify(extra)}\n${body}`;
}

function corrupt(userKey: string, why: string, cause?: unknown): ValidationError {
  return new ValidationError(
    `[redbrick/cache] stored entry for key ${JSON.stringify(userKey)} is corrupted or foreign: ${why}`,
    { field: userKey, cause },
  );
}

/** Decodes a stored entry; bad bytes or a schema mismatch throw a `ValidationError` naming the key. */
export function decodeEntry(codec: Codec<unknown>, stored: string, userKey: string): StoredEntry {
  if (!stored.startsWith(MAGIC)) throw corrupt(userKey, 'missing entry header');
  const nl = stored.indexOf('\n');
  if (nl < 0) throw corrupt(userKey, 'missing header line end');
  const head = stored.slice(MAGIC.length, nl);
  const sp = head.indexOf(' ');
  const expiresAt = Number(sp < 0 ? head : head.slice(0, sp));
  if (!Number.isFinite(expiresAt)) throw corrupt(userKey, 'bad expiry in header');
  let tags: string[] | undefined;
  let meta: Record<string, unknown> | undefined;
  if (sp >= 0) {
    let extra: unknown;
    try {
      extra = JSON.parse(head.slice(sp + 1));
    } catch (cause) {
      throw corrupt(userKey, 'header is not JSON', cause);
    }
    if (typeof extra !== 'object' || extra === null) throw corrupt(userKey, 'bad header');
    const { g, m } = extra as { g?: unknown; m?: unknown };
    if (g !== undefined) {
      if (!Array.isArray(g) || !g.every((t) => typeof t === 'string'))
        throw corrupt(userKey, 'bad tags in header');
      tags = g as string[];
    }
    if (m !== undefined) {
      if (typeof m !== 'object' || m === null) throw corrupt(userKey, 'bad meta in header');
      meta = m as Record<string, unknown>;
    }
  }
  let value: unknown;
  try {
    value = codec.decode(stored.slice(nl + 1));
  } catch (cause) {
    if (isRedbrickError(cause, 'VALIDATION')) {
      throw new ValidationError(
        `[redbrick/cache] stored value for key ${JSON.stringify(userKey)} is invalid: ${(cause as Error).message}`,
        { field: userKey, cause },
      );
    }
    throw corrupt(userKey, 'value cannot be decoded', cause);
  }
  return { value, expiresAt, tags, meta };
}
