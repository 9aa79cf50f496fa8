import { defineScript, type Script, type ScriptReply, type SyncCommands } from '@redbrick/core';

/*
 * The decision engine shared by every limiter script.
 *
 * Each algorithm is written twice, in Lua and in TypeScript, with the same
 * three steps: `load` reads the state of its keys (and the server clock),
 * `eval` says whether `cost` units fit, `apply` consumes (or, with a negative
 * cost, refunds) and writes the new state with a TTL, deleting keys that hold
 * nothing worth keeping. The driver below runs those steps for several rules
 * (the composite script) or for one (the sliding-log script): every rule is
 * loaded and evaluated before anything is written, so a composite decision
 * consumes from every rule or from none.
 *
 * The one-rule scripts of fixed window, sliding window, token bucket and GCRA
 * do not use the driver: Redis runs a script's whole body on every call, and
 * the driver's prelude (functions and tables built per call) cost more server
 * time than the algorithm. They are the same steps written straight-line
 * (fixed window on its own key layout, see fixed-window.ts), held to their
 * TypeScript bodies by the script differential tests and to the composite
 * fragments by the behaviour suite.
 *
 * All arithmetic is on integers below 2^53 (validated at the API edge), so
 * the Lua doubles and the JavaScript numbers agree exactly.
 */

/** What a call does: consume if allowed, peek, record (consume without deciding), refund. */
export type Op = 'c' | 'p' | 'r' | 'f';

/** Algorithm codes as they appear in a composite script's ARGV. */
export type AlgorithmCode = 'fw' | 'sw' | 'sl' | 'tb' | 'gc' | 'bu';

/**
 * `[status, remaining, resetAt (Unix ms), retryAfterMs (-1: never)]`; status
 * 0 = allowed, 1 = limited, 3 = the cost is larger than the limit.
 */
export type Evaluation = [status: number, remaining: number, resetAt: number, retryAfterMs: number];

/** The state of one rule after `load`: evaluate a cost, or apply one. */
export interface Loaded {
  eval(cost: number): Evaluation;
  apply(cost: number): void;
}

/** The TypeScript half of an algorithm (the `local` body's building block). */
export interface LocalAlgorithm {
  readonly code: AlgorithmCode;
  /** How many keys one rule of this algorithm uses. */
  readonly keys: number;
  load(r: SyncCommands, keys: readonly string[], now: number, params: readonly string[]): Loaded;
}

/** The Lua half: a fragment that defines `A.<code>` with `n`, `load`, `eval`, `apply`. */
export interface LuaAlgorithm {
  readonly code: AlgorithmCode;
  readonly lua: string;
}

/** Parameters per rule in ARGV (unused ones are sent as `0`). */
export const PARAMS_PER_RULE = 3;

/* ------------------------------------------------------------------ Lua */

/** Helpers every script starts with (after its header): strict integer parsing, integer formatting, the server clock. */
export const LUA_PRELUDE = `
local function num(x, d)
  if x and string.match(x, '^%-?%d+$') then return tonumber(x) end
  return d
end
local function fields2(v)
  if not v then return nil end
  local a, b = string.match(v, '^(%-?%d+):(%-?%d+)$')
  if not a then return nil end
  return tonumber(a), tonumber(b)
end
local function fields3(v)
  if not v then return nil end
  local a, b, c = string.match(v, '^(%-?%d+):(%-?%d+):(%-?%d+)$')
  if not a then return nil end
  return tonumber(a), tonumber(b), tonumber(c)
end
local function int(n)
  if n == 0 then return '0' end
  return string.format('%.0f', n)
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local A = {}
`;

/** The driver: `decide(op, block key, rules)` → `{now, blocked, s1, remaining1, resetAt1, retry1, …}`. */
export const LUA_DRIVER = `
local function decide(op, bkey, rules)
  local bl = redis.call('PTTL', bkey)
  local blocked = 0
  if bl > 0 then blocked = bl elseif bl == -1 then blocked = -1 end
  local ok = blocked == 0
  for _, r in ipairs(rules) do
    r.st = r.a.load(r.k, now, r.P)
    r.d = r.a.eval(r.k, r.st, now, r.P, r.c)
    if r.d[1] ~= 0 then ok = false end
  end
  local write = op == 'r' or op == 'f' or (op == 'c' and ok)
  local out = {now, blocked}
  for _, r in ipairs(rules) do
    local d = r.d
    if write then
      local c = r.c
      if op == 'f' then c = -c end
      r.a.apply(r.k, r.st, now, r.P, c)
      local after = r.a.eval(r.k, r.st, now, r.P, 1)
      if op == 'c' then
        d = {0, after[2], after[3], 0}
      elseif op == 'r' then
        local retry = 0
        if d[1] ~= 0 then retry = after[4] end
        d = {d[1], after[2], after[3], retry}
      else
        d = after
      end
    end
    out[#out + 1] = d[1]
    out[#out + 1] = d[2]
    out[#out + 1] = d[3]
    out[#out + 1] = d[4]
  end
  return out
end
`;

/* ------------------------------------------------------------ TypeScript */

const INTEGER = /^-?\d+$/;

/** Strict integer parsing, like the Lua `num`: anything but an integer string is `fallback`. */
export function num(value: string | null | undefined, fallback: number): number;
export function num(value: string | null | undefined): number | undefined;
export function num(value: string | null | undefined, fallback?: number): number | undefined {
  return value !== null && value !== undefined && INTEGER.test(value) ? Number(value) : fallback;
}

/** Parses `str[from, to)` as the Lua pattern `^%-?%d+$` would accept it, else NaN. */
function strictInt(str: string, from: number, to: number): number {
  let i = from;
  if (i < to && str.charCodeAt(i) === 45) i++; // '-'
  if (i === to) return Number.NaN;
  for (; i < to; i++) {
    const c = str.charCodeAt(i);
    if (c < 48 || c > 57) return Number.NaN;
  }
  return Number(str.slice(from, to));
}

/** Parses `<int>:<int>` like the Lua `fields2`; anything else is no state. */
export function fields2(value: string | null): [number, number] | undefined {
  if (value === null) return undefined;
  const colon = value.indexOf(':');
  if (colon === -1) return undefined;
  const a = strictInt(value, 0, colon);
  const b = strictInt(value, colon + 1, value.length);
  return Number.isNaN(a) || Number.isNaN(b) ? undefined : [a, b];
}

/** Parses `<int>:<int>:<int>` like the Lua `fields3`; anything else is no state. */
export function fields3(value: string | null): [number, number, number] | undefined {
  if (value === null) return undefined;
  const first = value.indexOf(':');
  const second = first === -1 ? -1 : value.indexOf(':', first + 1);
  if (second === -1) return undefined;
  const a = strictInt(value, 0, first);
  const b = strictInt(value, first + 1, second);
  const c = strictInt(value, second + 1, value.length);
  return Number.isNaN(a) || Number.isNaN(b) || Number.isNaN(c) ? undefined : [a, b, c];
}

/** Integer formatting as the Lua `int` does it (no exponent, no `-0`). */
export function int(n: number): string {
  if (n === 0) return '0';
  return Number.isSafeInteger(n) ? String(n) : n.toFixed(0);
}

/** The server clock as a script sees it: whole milliseconds. */
export function serverNow(r: SyncCommands): number {
  return Math.floor(r.time());
}

/** One rule as the driver runs it. */
export interface LocalRule {
  algorithm: LocalAlgorithm;
  keys: readonly string[];
  cost: number;
  params: readonly string[];
}

/** The TypeScript driver; returns exactly what the Lua `decide` returns. */
export function decide(
  r: SyncCommands,
  op: string,
  blockKey: string,
  rules: readonly LocalRule[],
): number[] {
  const now = serverNow(r);
  const bl = r.pttl(blockKey);
  const blocked = bl > 0 ? bl : bl === -1 ? -1 : 0;
  let ok = blocked === 0;
  const loaded: Array<{ state: Loaded; d: Evaluation; cost: number }> = [];
  for (const rule of rules) {
    const state = rule.algorithm.load(r, rule.keys, now, rule.params);
    const d = state.eval(rule.cost);
    if (d[0] !== 0) ok = false;
    loaded.push({ state, d, cost: rule.cost });
  }
  const write = op === 'r' || op === 'f' || (op === 'c' && ok);
  const out: number[] = [now, blocked];
  for (const { state, cost, d: before } of loaded) {
    let d = before;
    if (write) {
      state.apply(op === 'f' ? -cost : cost);
      const after = state.eval(1);
      if (op === 'c') d = [0, after[1], after[2], 0];
      else if (op === 'r') d = [before[0], after[1], after[2], before[0] !== 0 ? after[3] : 0];
      else d = after;
    }
    out.push(d[0], d[1], d[2], d[3]);
  }
  return out;
}

/* --------------------------------------------------------------- replies */

/** One rule's outcome as a script returns it. */
export interface RuleOutcome {
  status: number;
  remaining: number;
  /** Unix ms (server clock). */
  resetAt: number;
  /** ms; `Infinity` when the cost can never fit. */
  retryAfterMs: number;
}

/** A decoded script reply. */
export interface ScriptOutcome {
  /** Server time of the decision, Unix ms. */
  now: number;
  /** 0 when not blocked, else ms left (`Infinity`: blocked without expiry). */
  blockedMs: number;
  rules: RuleOutcome[];
}

function asNumber(value: ScriptReply | undefined): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Decodes `{now, blocked, s1, remaining1, resetAt1, retry1, …}`. */
export function decodeOutcome(reply: ScriptReply): ScriptOutcome {
  const list = Array.isArray(reply) ? reply : [];
  const blocked = asNumber(list[1]);
  const rules: RuleOutcome[] = [];
  for (let i = 2; i + 3 < list.length; i += 4) {
    const retry = asNumber(list[i + 3]);
    rules.push({
      status: asNumber(list[i]),
      remaining: asNumber(list[i + 1]),
      resetAt: asNumber(list[i + 2]),
      retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
    });
  }
  return {
    now: asNumber(list[0]),
    blockedMs: blocked < 0 ? Number.POSITIVE_INFINITY : blocked,
    rules,
  };
}

/* --------------------------------------------------------------- scripts */

/** Builds the script of one algorithm: KEYS = [block, …state keys], ARGV = [op, cost, p1, p2, p3]. */
export function algorithmScript(
  name: string,
  header: string,
  lua: LuaAlgorithm,
  local: LocalAlgorithm,
): Script<ScriptOutcome> {
  return defineScript<ScriptOutcome>({
    name,
    keys: 1 + local.keys,
    lua: `${header}${LUA_PRELUDE}${lua.lua}${LUA_DRIVER}
local k = {}
for i = 2, #KEYS do k[#k + 1] = KEYS[i] end
return decide(ARGV[1], KEYS[1], {{a = A.${lua.code}, k = k, c = tonumber(ARGV[2]), P = {ARGV[3], ARGV[4], ARGV[5]}}})`,
    local(r, keys, args) {
      const [blockKey = '', ...stateKeys] = keys;
      const [op = 'p', cost = '1', ...params] = args;
      return decide(r, op, blockKey, [
        { algorithm: local, keys: stateKeys, cost: Number(cost), params },
      ]);
    },
    decode: decodeOutcome,
  });
}
