import {
  BackendUnavailableError,
  CommandError,
  CrossSlotError,
  isRedbrickError,
  type RedbrickError,
  ScriptError,
  WrongTypeError,
} from '@redbrick/core';

export const PKG = '[redbrick/redis-backend]';

const URL_AUTH = /([a-z][a-z0-9+.-]*:\/\/)([^@/\s]*)@/gi;

/**
 * Removes secrets from text: the user-info part of any URL, and every
 * literal secret (password as given and URL-encoded). Secrets shorter than
 * 3 characters are only removed from URLs: replacing one or two characters
 * everywhere would garble every message without protecting anything.
 */
export class Redactor {
  readonly #secrets: readonly string[];

  constructor(secrets: readonly string[]) {
    this.#secrets = secrets.filter((s) => s.length >= 3);
  }

  text(text: string): string {
    let out = text.replace(URL_AUTH, (_, scheme: string, userInfo: string) => {
      const colon = userInfo.indexOf(':');
      return colon === -1 ? `${scheme}${userInfo}@` : `${scheme}${userInfo.slice(0, colon)}:***@`;
    });
    for (const secret of this.#secrets) {
      if (out.includes(secret)) out = out.split(secret).join('***');
    }
    return out;
  }
}

/** Messages (and ioredis error names) that mean "Redis cannot be reached right now". */
const UNAVAILABLE =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|connect ETIMEDOUT|Cluster is ended|Failed to refresh slots cache|None of the sentinels|All sentinels are unreachable|max retries per request|MaxRetriesPerRequest|No subscriber for|Socket timeout|socket hang up|Too many Cluster redirections|CLUSTERDOWN|TRYAGAIN/i;
/** Server replies that say "try again later" rather than "your command is wrong". */
const UNAVAILABLE_REPLY =
  /^(LOADING|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|READONLY|NOAUTH|WRONGPASS|BUSY|NOREPLICAS|MISCONF)\b/;
const CROSS_SLOT = /CROSSSLOT|same slot|to the same slot|slots allocation group/i;

export const CROSS_SLOT_HINT =
  'on Redis Cluster all keys of one multi-key command, script or pipeline step must be in the same hash slot: give them a common hash tag, e.g. key("cart", tag(userId), "items") → "cart:{user1}:items"';

/** A copy of an ioredis error that carries only its (redacted) message, name and code: no command arguments. */
function sanitizedCause(error: Error, message: string): Error {
  const cause = new Error(message);
  cause.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') (cause as Error & { code?: string }).code = code;
  cause.stack = `${error.name}: ${message}`;
  return cause;
}

export interface ErrorContext {
  /** The command (or `script "name"`) that failed, for the message. */
  readonly command: string;
  /** The script name when a script failed. */
  readonly script?: string | undefined;
  readonly target: string;
  readonly redactor: Redactor;
}

export function isUnavailable(message: string): boolean {
  return UNAVAILABLE.test(message) || UNAVAILABLE_REPLY.test(message);
}

/**
 * Maps an ioredis error to the redbrick error family. The original error is
 * not kept as `cause` (ioredis errors carry the command's arguments, which
 * may include AUTH passwords): the cause is a redacted copy.
 */
export function toRedbrickError(error: unknown, context: ErrorContext): RedbrickError {
  if (isRedbrickError(error)) return error;
  const raw = error instanceof Error ? error : new Error(String(error));
  const message = context.redactor.text(raw.message);
  const cause = sanitizedCause(raw, message);
  if (message.startsWith('WRONGTYPE')) {
    const e = new WrongTypeError(
      `${PKG} ${context.command}: WRONGTYPE Operation against a key holding the wrong kind of value`,
    );
    return e;
  }
  if (CROSS_SLOT.test(message)) {
    return new CrossSlotError(
      `${PKG} ${context.command}: ${CROSS_SLOT_HINT} (Redis said: ${message})`,
      { cause },
    );
  }
  if (
    isUnavailable(message) ||
    raw.name === 'ClusterAllFailedError' ||
    raw.name === 'MaxRetriesPerRequestError'
  ) {
    const reason = /^(NOAUTH|WRONGPASS)/.test(message)
      ? `authentication failed: ${message}`
      : message;
    return new BackendUnavailableError(
      `${PKG} ${context.command}: Redis at ${context.target} is unavailable (${reason})`,
      { cause },
    );
  }
  if (context.script !== undefined) {
    return new ScriptError(context.script, `${PKG} script "${context.script}" failed: ${message}`, {
      cause,
    });
  }
  return new CommandError(`${PKG} ${context.command}: ${message}`, { cause });
}
