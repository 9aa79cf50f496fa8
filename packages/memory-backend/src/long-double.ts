/*
 * INCRBYFLOAT / HINCRBYFLOAT the way Redis does them on x86-64: both
 * operands are parsed with `strtold` into an 80-bit long double (64-bit
 * mantissa), added, and printed with `%.17Lf` minus trailing zeros. Plain JS
 * doubles would print `0.1 + 0.2` as `0.30000000000000004` where Redis stores
 * `0.3`, so this emulates the long double exactly with BigInt: correctly
 * rounded parsing (round half to even), an exactly rounded sum, and exact
 * decimal formatting.
 */

/** A finite long double: `sign × mant × 2^exp`, `mant` 0 or normalised to 64 bits. */
interface LongDouble {
  negative: boolean;
  mant: bigint;
  exp: number;
}

/** What Redis does with the result: a string to store, or why it refused. */
export type FloatResult =
  | { ok: true; text: string }
  | { ok: false; reason: 'not-float' | 'nan-or-inf' };

const MANT_BITS = 64;
const TOP = 1n << 64n;
/** Largest binary exponent of a 64-bit-mantissa value below 2^16384 (the long double maximum). */
const MAX_EXP = 16384 - MANT_BITS;
/** Below the smallest long double subnormal (2^-16445): rounds to zero. */
const MIN_EXP = -16445 - MANT_BITS;
/** Redis' buffer for a long double's text (`MAX_LONG_DOUBLE_CHARS`). */
const MAX_CHARS = 5 * 1024;
const TEN17 = 10n ** 17n;

type Parsed = LongDouble | 'inf' | '-inf' | undefined;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Rounds `n × 2^exp` (with `sticky`: plus a little more, below one unit of
 * `n`) to a 64-bit mantissa, ties to even.
 */
function round(negative: boolean, n: bigint, exp: number, sticky: boolean): LongDouble {
  if (n === 0n) return { negative, mant: 0n, exp: 0 };
  const bits = bitLength(n);
  if (bits <= MANT_BITS) {
    const shift = MANT_BITS - bits;
    return { negative, mant: n << BigInt(shift), exp: exp - shift };
  }
  const shift = bits - MANT_BITS;
  const big = BigInt(shift);
  let mant = n >> big;
  const rest = n - (mant << big);
  const half = 1n << (big - 1n);
  if (rest > half || (rest === half && (sticky || (mant & 1n) === 1n))) {
    mant += 1n;
    if (mant === TOP) return { negative, mant: TOP >> 1n, exp: exp + shift + 1 };
  }
  return { negative, mant, exp: exp + shift };
}

const DECIMAL = /^([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;

/** `strtold` on the whole string, with Redis' extra rules (no leading space, no NaN, no overflow). */
function parse(text: string): Parsed {
  if (text.length === 0 || text.length >= MAX_CHARS) return undefined;
  let m = DECIMAL.exec(text);
  if (m) {
    const negative = m[1] === '-';
    const whole = m[2] ?? '';
    const fraction = m[4] ?? m[3] ?? '';
    const digits = (whole + fraction).replace(/^0+/, '');
    if (digits === '') return { negative, mant: 0n, exp: 0 };
    const exp10 = Number(m[5] ?? '0') - fraction.length;
    // Beyond these the value certainly overflows / underflows (strtold sets ERANGE).
    if (digits.length + exp10 > 4940) return undefined;
    if (digits.length + exp10 < -4960) return undefined;
    const d = BigInt(digits);
    let value: LongDouble;
    if (exp10 >= 0) {
      value = round(negative, d * 10n ** BigInt(exp10), 0, false);
    } else {
      const q = 10n ** BigInt(-exp10);
      // Enough extra bits that the quotient has more than 64; the remainder becomes the sticky bit.
      const k = Math.max(0, MANT_BITS + 2 + bitLength(q) - bitLength(d));
      const scaled = d << BigInt(k);
      const quotient = scaled / q;
      value = round(negative, quotient, -k, quotient * q !== scaled);
    }
    return checkRange(value);
  }
  m = HEX.exec(text);
  if (m) {
    const negative = m[1] === '-';
    const fraction = m[4] ?? m[3] ?? '';
    const digits = (m[2] ?? '') + fraction;
    const n = BigInt(`0x${digits}`);
    if (n === 0n) return { negative, mant: 0n, exp: 0 };
    const exp2 = Number(m[5] ?? '0') - 4 * fraction.length;
    if (!Number.isSafeInteger(exp2)) return undefined;
    return checkRange(round(negative, n, exp2, false));
  }
  m = INFINITY.exec(text);
  if (m) return m[1] === '-' ? '-inf' : 'inf';
  return undefined;
}

function checkRange(value: LongDouble): LongDouble | undefined {
  if (value.mant !== 0n && (value.exp > MAX_EXP || value.exp < MIN_EXP)) return undefined;
  return value;
}

function add(a: LongDouble, b: LongDouble): LongDouble | undefined {
  if (a.mant === 0n)
    return b.mant === 0n ? { negative: a.negative && b.negative, mant: 0n, exp: 0 } : b;
  if (b.mant === 0n) return a;
  const exp = Math.min(a.exp, b.exp);
  const x = a.mant << BigInt(a.exp - exp);
  const y = b.mant << BigInt(b.exp - exp);
  const sum = (a.negative ? -x : x) + (b.negative ? -y : y);
  if (sum === 0n) return { negative: false, mant: 0n, exp: 0 };
  const value = round(sum < 0n, sum < 0n ? -sum : sum, exp, false);
  return value.exp > MAX_EXP ? undefined : value;
}

/** `%.17Lf`, then trailing zeros (and a trailing `.`) removed, and `-0` printed as `0`. */
function format(value: LongDouble): string {
  let scaled: bigint;
  if (value.exp >= 0) {
    scaled = (value.mant << BigInt(value.exp)) * TEN17;
  } else {
    const shift = BigInt(-value.exp);
    const n = value.mant * TEN17;
    scaled = n >> shift;
    const rest = n - (scaled << shift);
    const half = 1n << (shift - 1n);
    if (rest > half || (rest === half && (scaled & 1n) === 1n)) scaled += 1n;
  }
  if (scaled === 0n) return '0';
  const digits = scaled.toString().padStart(18, '0');
  const whole = digits.slice(0, -17);
  const fraction = digits.slice(-17).replace(/0+$/, '');
  const text = fraction === '' ? whole : `${whole}.${fraction}`;
  return value.negative ? `-${text}` : text;
}

/**
 * `current + increment` as Redis' INCRBYFLOAT computes and stores it.
 * `current` null means the key or field is missing (0); `increment` is the
 * text Redis would receive for the increment.
 */
export function addFloat(current: string | null, increment: string): FloatResult {
  const a =
    current === null ? ({ negative: false, mant: 0n, exp: 0 } as LongDouble) : parse(current);
  if (a === undefined) return { ok: false, reason: 'not-float' };
  const b = parse(increment);
  if (b === undefined) return { ok: false, reason: 'not-float' };
  if (typeof a === 'string' || typeof b === 'string') return { ok: false, reason: 'nan-or-inf' };
  const sum = add(a, b);
  if (sum === undefined) return { ok: false, reason: 'nan-or-inf' };
  const text = format(sum);
  // Redis stores an empty string when the text does not fit its buffer.
  return { ok: true, text: text.length + 1 > MAX_CHARS ? '' : text };
}
