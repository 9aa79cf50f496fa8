import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from './errors.js';

/** Largest request body the API reads, in bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads and validates a JSON request body: invalid JSON is `400 INVALID_JSON`,
 * a body that does not match `schema` is `400 VALIDATION` naming each field.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) {
    throw new ApiError(413, 'BODY_TOO_LARGE', `request body is over ${MAX_BODY_BYTES} bytes`);
  }
  let raw: unknown;
  try {
    raw = text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'request body is not valid JSON');
  }
  if (raw === undefined) {
    throw new ApiError(400, 'VALIDATION', 'request body is missing: send a JSON object');
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const detail = result.error.issues
      .map(
        (issue) =>
          `${issue.path.length ? issue.path.map(String).join('.') : 'body'}: ${issue.message}`,
      )
      .join('; ');
    throw new ApiError(400, 'VALIDATION', `invalid request body — ${detail}`);
  }
  return result.data;
}
