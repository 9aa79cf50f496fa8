import { randomBytes } from 'node:crypto';
import { formatIssues, json, ValidationError } from '@redbrick/core';
import type { z } from 'zod';
import { PKG } from './errors.js';

/*
 * Wire format of a channel message: one JSON object
 *   {"$rbp":"<publisher id>","s":<sequence>,"m":<the message, core json codec>}
 * Publishers number their messages 1, 2, 3, … so subscribers can count gaps.
 * A message without this envelope (published by another tool) is read as the
 * bare JSON message: it is still delivered, it just cannot be gap-checked.
 */

const PUBLISHER = '$rbp';

/** A message decoded off the wire. */
export interface Decoded {
  value: unknown;
  publisherId: string | undefined;
  seq: number | undefined;
}

/** A fresh random publisher id (12 hex chars). */
export function newPublisherId(): string {
  return randomBytes(6).toString('hex');
}

/** Wraps a message already encoded with the json codec in an envelope. */
export function encodeEnvelope(publisherId: string, seq: number, encoded: string): string {
  return `{"${PUBLISHER}":${JSON.stringify(publisherId)},"s":${seq},"m":${encoded}}`;
}

/** Decodes a raw channel message. Throws a ValidationError when it is not JSON. */
export function decodeEnvelope(raw: string): Decoded {
  let parsed: unknown;
  try {
    parsed = json.decode(raw);
  } catch (cause) {
    throw new ValidationError(`${PKG} received message is not JSON`, {
      field: 'message',
      cause,
    });
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const obj = parsed as Record<string, unknown>;
    const id = obj[PUBLISHER];
    const seq = obj.s;
    if (
      typeof id === 'string' &&
      typeof seq === 'number' &&
      Number.isSafeInteger(seq) &&
      'm' in obj
    ) {
      return { value: obj.m, publisherId: id, seq };
    }
  }
  return { value: parsed, publisherId: undefined, seq: undefined };
}

/** Validates `value` with `schema` (when given); a ValidationError names the path. */
export function validateMessage<S extends z.ZodType>(
  schema: S | undefined,
  value: unknown,
  where: string,
): unknown {
  if (schema === undefined) return value;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(
      `${PKG} ${where} does not match the schema: ${formatIssues(result.error)}`,
      { field: where, cause: result.error },
    );
  }
  return result.data;
}
