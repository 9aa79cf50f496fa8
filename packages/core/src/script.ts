import { createHash } from 'node:crypto';
import type { DataCommands, ScoreBound, ZMember, ZRangeByScoreOptions } from './backend.js';
import { ValidationError } from './errors.js';

/** What a script can return; the shapes Redis converts Lua values into. */
export type ScriptReply = string | number | null | ScriptReply[];

/** What a `local` body may return; normalised like Redis converts Lua values. */
export type LocalReply = string | number | boolean | null | undefined | LocalReply[];

type Synchronous<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

/**
 * A synchronous view of a memory backend's data, handed to a script's
 * `local` body. Atomic because nothing in it awaits.
 */
export type SyncCommands = Omit<Synchronous<DataCommands>, 'zrangeByScore'> & {
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions & { withScores?: false },
  ): string[];
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ZRangeByScoreOptions & { withScores: true },
  ): ZMember[];
  /** Backend time in ms since the epoch (what `TIME` gives a Lua body). */
  time(): number;
};

/** The `local` body: same contract as the Lua body, KEYS and ARGV as strings. */
export type LocalBody = (r: SyncCommands, keys: string[], args: string[]) => LocalReply;

export interface ScriptDefinition<R> {
  /** Unique name, `package.action` (e.g. `locks.release`). */
  name: string;
  /** How many KEYS the script takes; omit for a variable number. */
  keys?: number;
  /** Lua body, run on Redis with EVALSHA. Starts with a contract header comment. */
  lua: string;
  /** The same logic for the memory backend. Must never await. */
  local: LocalBody;
  /** Turns the raw reply into the typed result. */
  decode?: (reply: ScriptReply) => R;
}

/** An atomic operation with two bodies that must agree. Create with {@link defineScript}. */
export interface Script<R = ScriptReply> {
  readonly name: string;
  readonly keys: number | undefined;
  readonly lua: string;
  /** SHA1 of the Lua body, for EVALSHA. */
  readonly sha1: string;
  readonly local: LocalBody;
  decode(reply: ScriptReply): R;
}

const REGISTRY_KEY = Symbol.for('redbrick.scripts');
type Registry = Map<string, Script<unknown>>;
const registry: Registry =
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Registry | undefined) ??
  new Map<string, Script<unknown>>();
(globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = registry;

const identity = <R>(reply: ScriptReply) => reply as R;

/** Defines a script once, next to the code that uses it. */
export function defineScript<R = ScriptReply>(definition: ScriptDefinition<R>): Script<R> {
  if (typeof definition.name !== 'string' || definition.name.length === 0) {
    throw new ValidationError('[redbrick/core] script name must be a non-empty string', {
      field: 'name',
    });
  }
  if (
    definition.keys !== undefined &&
    (!Number.isSafeInteger(definition.keys) || definition.keys < 0)
  ) {
    throw new ValidationError(
      `[redbrick/core] script "${definition.name}": keys must be an integer ≥ 0`,
      {
        field: 'keys',
      },
    );
  }
  const script: Script<R> = Object.freeze({
    name: definition.name,
    keys: definition.keys,
    lua: definition.lua,
    sha1: createHash('sha1').update(definition.lua).digest('hex'),
    local: definition.local,
    decode: definition.decode ?? identity<R>,
  });
  const existing = registry.get(script.name);
  // A second copy of the same package defines the same script again: fine when the body is identical.
  if (existing && existing.sha1 !== script.sha1) {
    throw new ValidationError(`[redbrick/core] two different scripts are named "${script.name}"`, {
      field: 'name',
    });
  }
  registry.set(script.name, script as Script<unknown>);
  return script;
}

/** Looks a script up by name (used by backends that forward scripts by name). */
export function getScript(name: string): Script<unknown> | undefined {
  return registry.get(name);
}

/** Throws when the key count does not match the script's declaration. */
export function checkScriptCall(script: Script<unknown>, keys: readonly string[]): void {
  if (script.keys !== undefined && keys.length !== script.keys) {
    throw new ValidationError(
      `[redbrick/core] script "${script.name}" takes ${script.keys} key(s), got ${keys.length}`,
      { field: 'keys' },
    );
  }
  for (const k of keys) {
    if (typeof k !== 'string' || k.length === 0) {
      throw new ValidationError(
        `[redbrick/core] script "${script.name}": every key must be a non-empty string`,
        {
          field: 'keys',
        },
      );
    }
  }
}

/** Converts script arguments to the strings a Lua body sees in ARGV. */
export function scriptArgs(
  args: ReadonlyArray<string | number> | undefined,
  scriptName: string,
): string[] {
  if (!args) return [];
  const out = new Array<string>(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === 'string') out[i] = a;
    else if (typeof a === 'number' && Number.isFinite(a)) out[i] = String(a);
    else {
      throw new ValidationError(
        `[redbrick/core] script "${scriptName}": argument ${i} must be a string or a finite number, got ${String(a)}`,
        { field: `args[${i}]` },
      );
    }
  }
  return out;
}

/**
 * Normalises a `local` reply exactly as Redis converts a Lua value: numbers
 * are truncated to integers, `true` → 1, `false` → null, and an array ends at
 * its first nil.
 */
export function normalizeReply(value: LocalReply): ScriptReply {
  if (value === null || value === undefined || value === false) return null;
  if (value === true) return 1;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return Number.MIN_SAFE_INTEGER; // Lua: NaN → LLONG_MIN; never rely on it
    return Math.trunc(value) || 0;
  }
  if (typeof value === 'string') return value;
  const out: ScriptReply[] = [];
  for (const item of value) {
    if (item === null || item === undefined) break;
    out.push(item === false ? null : normalizeReply(item));
  }
  return out;
}

/**
 * The key of an optional capability of in-process backends: runs a script's
 * `local` body synchronously and returns the decoded reply, or throws what
 * `run` would reject with. Same semantics as `run` minus one promise; hot
 * paths of services (the rate limiter's decision) use it when a backend has
 * it and `run` otherwise. The memory backend has it; network backends,
 * shared-memory clients and scoped views do not.
 */
export const RUN_NOW: unique symbol = Symbol.for('@redbrick/core.runNow');

/** A backend with the {@link RUN_NOW} capability. */
export interface RunsNow {
  [RUN_NOW]<R>(
    script: Script<R>,
    keys: readonly string[],
    args?: ReadonlyArray<string | number>,
  ): R;
}

/** The backend's {@link RUN_NOW} function (bound), when it has one. */
export function runNowOf(backend: object): RunsNow[typeof RUN_NOW] | undefined {
  const fn = (backend as Partial<RunsNow>)[RUN_NOW];
  return typeof fn === 'function' ? fn.bind(backend) : undefined;
}
