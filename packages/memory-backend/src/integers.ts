/*
 * Redis integers: what INCRBY / HINCRBY accept (`string2ll`: an optional
 * `-`, no `+`, no leading zeros, no spaces, within a signed 64-bit range) and
 * exact 64-bit arithmetic on them. Values within ±2^53 take a plain number
 * path; larger ones use BigInt so the stored string is exactly what Redis
 * would store.
 */

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const STRICT_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/** Why an increment failed: the stored value is not an integer, or the result overflows. */
export type IncrementFailure = 'not-integer' | 'overflow';

/**
 * Adds `by` (a safe integer) to the integer in `current` (null: 0). Returns
 * the new value as Redis stores it, or why it failed.
 */
export function addInteger(current: string | null, by: number): string | IncrementFailure {
  if (current === null) return String(by);
  if (current.length <= 15) {
    // smallInteger accepts exactly the strict form here, so NaN means not an integer
    const n = smallInteger(current);
    if (Number.isNaN(n)) return 'not-integer';
    const sum = n + by;
    if (Number.isSafeInteger(sum)) return String(sum);
  } else if (current.length > 20 || !STRICT_INTEGER.test(current)) {
    return 'not-integer';
  }
  const value = BigInt(current);
  if (value > INT64_MAX || value < INT64_MIN) return 'not-integer';
  const sum = value + BigInt(by);
  if (sum > INT64_MAX || sum < INT64_MIN) return 'overflow';
  return sum.toString();
}

/**
 * The value of `text` (at most 15 characters) when it is an integer as
 * Redis writes one (the {@link STRICT_INTEGER} form), else NaN. A loop over
 * the characters: the hot path of INCRBY, where a regex test and `Number()`
 * cost more than the increment.
 */
export function smallInteger(text: string): number {
  const length = text.length;
  let i = 0;
  let negative = false;
  if (length > 1 && text.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  if (i === length) return Number.NaN;
  const first = text.charCodeAt(i);
  // no leading zeros, and no '-0'
  if (first === 48) return length === 1 ? 0 : Number.NaN;
  let value = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}
