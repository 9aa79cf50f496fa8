/**
 * Stable error codes. Check `error.code`, never `instanceof` across packages:
 * two installed copies of `@redbrick/core` must still understand each other.
 */
export type RedbrickErrorCode =
  | 'VALIDATION'
  | 'INVALID_CONFIG'
  | 'BACKEND_UNAVAILABLE'
  | 'WRONGTYPE'
  | 'CROSSSLOT'
  | 'SCRIPT'
  | 'MISSING_DEPENDENCY'
  | 'CLOSED'
  | 'COMMAND'
  | 'LOCK_NOT_ACQUIRED'
  | 'LOCK_LOST'
  | 'LIMIT_EXCEEDED'
  | 'TIMEOUT'
  | 'CONFLICT'
  | (string & {});

const MARKER = Symbol.for('redbrick.error');

export interface RedbrickErrorOptions {
  cause?: unknown;
}

/** Base class of every error thrown by a redbrick package. */
export class RedbrickError extends Error {
  readonly code: RedbrickErrorCode;
  readonly [MARKER] = true;

  constructor(code: RedbrickErrorCode, message: string, options?: RedbrickErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RedbrickError';
    this.code = code;
  }
}

/**
 * True for any redbrick error, from this or another installed copy of core.
 * With `code`, true only for errors with that code.
 */
export function isRedbrickError(error: unknown, code?: RedbrickErrorCode): error is RedbrickError {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as Record<symbol, unknown>)[MARKER] !== true) return false;
  return code === undefined || (error as RedbrickError).code === code;
}

/** Bad input at an API edge. `field` names what was wrong. */
export class ValidationError extends RedbrickError {
  readonly field: string | undefined;
  constructor(message: string, options?: RedbrickErrorOptions & { field?: string }) {
    super('VALIDATION', message, options);
    this.name = 'ValidationError';
    this.field = options?.field;
  }
}

/** A configuration object or URL that cannot be used. */
export class ConfigError extends RedbrickError {
  readonly field: string | undefined;
  constructor(message: string, options?: RedbrickErrorOptions & { field?: string }) {
    super('INVALID_CONFIG', message, options);
    this.name = 'ConfigError';
    this.field = options?.field;
  }
}

/** The backend cannot be reached (down, timed out, offline). Safe to retry later. */
export class BackendUnavailableError extends RedbrickError {
  constructor(message: string, options?: RedbrickErrorOptions) {
    super('BACKEND_UNAVAILABLE', message, options);
    this.name = 'BackendUnavailableError';
  }
}

/** A command was used against a key holding the wrong kind of value (Redis WRONGTYPE). */
export class WrongTypeError extends RedbrickError {
  constructor(message = 'WRONGTYPE Operation against a key holding the wrong kind of value') {
    super('WRONGTYPE', message);
    this.name = 'WrongTypeError';
  }
}

/** Keys of one multi-key command or script live in different hash slots. */
export class CrossSlotError extends RedbrickError {
  constructor(message: string, options?: RedbrickErrorOptions) {
    super('CROSSSLOT', message, options);
    this.name = 'CrossSlotError';
  }
}

/** A script failed while running (a Lua error, or an exception in its local body). */
export class ScriptError extends RedbrickError {
  readonly script: string;
  constructor(script: string, message: string, options?: RedbrickErrorOptions) {
    super('SCRIPT', message, options);
    this.name = 'ScriptError';
    this.script = script;
  }
}

/** A command was rejected by the backend (syntax, out of range, unknown group, …). */
export class CommandError extends RedbrickError {
  constructor(message: string, options?: RedbrickErrorOptions) {
    super('COMMAND', message, options);
    this.name = 'CommandError';
  }
}

/**
 * An optimistic write kept losing to concurrent writers and gave up: nothing
 * was written. Retry later (or with less contention on the same record).
 */
export class ConflictError extends RedbrickError {
  constructor(message: string, options?: RedbrickErrorOptions) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

/** The backend was closed and cannot run commands any more. */
export class ClosedError extends RedbrickError {
  constructor(message = '[redbrick] the backend is closed') {
    super('CLOSED', message);
    this.name = 'ClosedError';
  }
}

/** An optional package needed by this configuration is not installed. */
export class MissingDependencyError extends RedbrickError {
  readonly packageName: string;
  constructor(packageName: string, purpose: string, options?: RedbrickErrorOptions) {
    super(
      'MISSING_DEPENDENCY',
      `[redbrick/core] ${purpose} needs the package "${packageName}", which is not installed. Install it with: pnpm add ${packageName}  (or npm install ${packageName})`,
      options,
    );
    this.name = 'MissingDependencyError';
    this.packageName = packageName;
  }
}
