import { isRedbrickError } from '@redbrick/core';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The JSON body of every error response: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * An error the API answers with a 4xx/5xx JSON body. Thrown by route code
 * (bad input, unknown tenant, not logged in) and turned into a response by
 * {@link errorResponse}.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The response for any error thrown by a route: never a crash, never HTML. */
export function errorResponse(c: Context, error: unknown): Response {
  if (error instanceof ApiError) {
    return c.json<ErrorBody>({ error: { code: error.code, message: error.message } }, error.status);
  }
  if (isRedbrickError(error, 'VALIDATION')) {
    return c.json<ErrorBody>({ error: { code: 'VALIDATION', message: error.message } }, 400);
  }
  if (isRedbrickError(error, 'BACKEND_UNAVAILABLE') || isRedbrickError(error, 'CLOSED')) {
    return c.json<ErrorBody>(
      { error: { code: error.code, message: 'the backend is unavailable, try again shortly' } },
      503,
    );
  }
  if (isRedbrickError(error, 'LOCK_NOT_ACQUIRED')) {
    return c.json<ErrorBody>({ error: { code: error.code, message: error.message } }, 409);
  }
  console.error('[demo] unexpected error', error);
  return c.json<ErrorBody>(
    { error: { code: 'INTERNAL', message: 'internal error (logged on the server)' } },
    500,
  );
}
