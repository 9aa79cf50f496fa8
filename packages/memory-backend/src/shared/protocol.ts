import {
  BackendUnavailableError,
  ClosedError,
  CommandError,
  ConfigError,
  CrossSlotError,
  isRedbrickError,
  RedbrickError,
  ScriptError,
  ValidationError,
  WrongTypeError,
} from '@redbrick/core';

/** Every IPC message of the shared-memory backend carries this tag, so it can share a channel. */
export const TAG = 'redbrick.shared-memory';

/** A request from a client (`c`) to the host; `i` is the request id. */
export type Request =
  | { t: 'call'; c: string; i: number; m: string; a: unknown[] }
  /** `h`: the script's SHA1, sent until the host has accepted the name once from this client. */
  | { t: 'run'; c: string; i: number; n: string; h?: string; k: string[]; a: string[] }
  | { t: 'pipe'; c: string; i: number; q: Array<[string, unknown[]]> }
  | { t: 'sub'; c: string; i: number; s: number; k: 'channel' | 'pattern' | 'expired'; n: string }
  | { t: 'unsub'; c: string; i: number; s: number }
  | { t: 'scan'; c: string; i: number; s: number; o: unknown }
  | { t: 'scanNext'; c: string; i: number; s: number }
  | { t: 'scanEnd'; c: string; i: number; s: number }
  | { t: 'bye'; c: string; i: number };

/** An error as it crosses the channel. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  field?: string;
  script?: string;
}

/** A message from the host to a client. */
export type Reply =
  | { t: 'ok'; c: string; i: number; v: unknown }
  | { t: 'err'; c: string; i: number; e: WireError }
  | {
      t: 'pipe';
      c: string;
      i: number;
      r: Array<{ ok: true; v: unknown } | { ok: false; e: WireError }>;
    }
  | { t: 'msg'; c: string; s: number; m: string; ch: string; p?: string }
  | { t: 'exp'; c: string; s: number; k: string };

/**
 * The envelope on the channel: the tag and the message, as is when JSON
 * carries it exactly (the usual case: Node serializes it once), else as
 * tagged JSON text.
 */
export interface Envelope {
  readonly [TAG]: Array<Request | Reply | string>;
}

/*
 * Values must round-trip exactly over any channel (JSON or 'advanced' IPC
 * serialization, MessagePort). A message JSON cannot carry as is
 * (non-finite numbers, -0, `undefined` in arrays, a plain object that uses
 * the tag as a key) is sent as JSON text in which those are tagged.
 */
const MARK = '\u0000rb';

/** True when plain JSON carries `value` exactly. */
function plain(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (const item of value) if (item === undefined || !plain(item, depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      if (Object.hasOwn(value, MARK)) return false;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item !== undefined && !plain(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Object.is(value, -0)) {
      return { [MARK]: 'n', v: Object.is(value, -0) ? '-0' : String(value) };
    }
    return value;
  }
  if (value === undefined && Array.isArray(this)) return { [MARK]: 'u' };
  if (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.hasOwn(value, MARK)
  ) {
    return { [MARK]: 'o', v: Object.entries(value) };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = value as Record<string, unknown>;
    const kind = tagged[MARK];
    if (kind === 'n') return Number(tagged.v);
    if (kind === 'u') return undefined;
    if (kind === 'o') return Object.fromEntries(tagged.v as Array<[string, unknown]>);
  }
  return value;
}

/** One message as it goes into an envelope. */
export function encode(message: Request | Reply): Request | Reply | string {
  return plain(message) ? message : JSON.stringify(message, replacer);
}

/**
 * Calls `each` with every message of an envelope; false when `raw` is not
 * one of ours (another library's message on the same channel).
 */
export function unpack<T extends Request | Reply>(
  raw: unknown,
  each: (message: T) => void,
): boolean {
  if (raw === null || typeof raw !== 'object') return false;
  const messages = (raw as Record<string, unknown>)[TAG];
  if (!Array.isArray(messages)) return false;
  for (const message of messages) {
    if (typeof message === 'string') each(JSON.parse(message, reviver) as T);
    else if (message !== null && typeof message === 'object') each(message as T);
  }
  return true;
}

/**
 * Sends messages in envelopes: every message queued in one turn of the
 * event loop goes in one IPC message (like auto-pipelining), which saves a
 * system call and a serialization per message under load.
 */
export class Outbox {
  #queue: Array<Request | Reply | string> = [];
  #scheduled = false;

  constructor(readonly send: (envelope: Envelope) => boolean) {}

  push(message: Request | Reply): void {
    this.#queue.push(encode(message));
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length > 0) this.send({ [TAG]: batch });
  };
}

/** An error, reduced to what crosses the channel. */
export function toWire(error: unknown): WireError {
  if (error instanceof Error) {
    const out: WireError = { name: error.name, message: error.message };
    if (isRedbrickError(error)) out.code = error.code;
    const extra = error as { field?: unknown; script?: unknown };
    if (typeof extra.field === 'string') out.field = extra.field;
    if (typeof extra.script === 'string') out.script = extra.script;
    return out;
  }
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an error on the client side: the same class, code, message and field. */
export function fromWire(wire: WireError): Error {
  const field = wire.field === undefined ? {} : { field: wire.field };
  switch (wire.code) {
    case 'VALIDATION':
      return new ValidationError(wire.message, field);
    case 'INVALID_CONFIG':
      return new ConfigError(wire.message, field);
    case 'BACKEND_UNAVAILABLE':
      return new BackendUnavailableError(wire.message);
    case 'WRONGTYPE':
      return new WrongTypeError(wire.message);
    case 'CROSSSLOT':
      return new CrossSlotError(wire.message);
    case 'SCRIPT':
      return new ScriptError(wire.script ?? 'unknown', wire.message);
    case 'COMMAND':
      return new CommandError(wire.message);
    case 'CLOSED':
      return new ClosedError(wire.message);
    case undefined:
      break;
    default:
      return new RedbrickError(wire.code, wire.message);
  }
  const error =
    wire.name === 'TypeError'
      ? new TypeError(wire.message)
      : wire.name === 'RangeError'
        ? new RangeError(wire.message)
        : new Error(wire.message);
  error.name = wire.name;
  return error;
}
