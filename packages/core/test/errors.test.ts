import { describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  defineScript,
  isRedbrickError,
  normalizeReply,
  RedbrickError,
  scriptArgs,
  ValidationError,
} from '../src/index.js';

describe('errors', () => {
  it('are recognised by code, also across copies of core (marker symbol)', () => {
    const e = new BackendUnavailableError('down', { cause: new Error('ECONNREFUSED') });
    expect(isRedbrickError(e)).toBe(true);
    expect(isRedbrickError(e, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(isRedbrickError(e, 'VALIDATION')).toBe(false);
    expect(e.cause).toBeInstanceOf(Error);
    // What another installed copy of core would produce: a different class, same marker.
    const foreign = Object.assign(new Error('x'), {
      code: 'VALIDATION',
      [Symbol.for('redbrick.error')]: true,
    });
    expect(isRedbrickError(foreign, 'VALIDATION')).toBe(true);
    expect(isRedbrickError(new Error('plain'))).toBe(false);
    expect(isRedbrickError(null)).toBe(false);
    expect(new ValidationError('m', { field: 'f' }).field).toBe('f');
    expect(new RedbrickError('LIMIT_EXCEEDED', 'm').code).toBe('LIMIT_EXCEEDED');
  });
});

describe('scripts', () => {
  it('normalise local replies like Redis converts Lua values', () => {
    expect(normalizeReply(1.9)).toBe(1);
    expect(normalizeReply(-1.9)).toBe(-1);
    expect(normalizeReply(true)).toBe(1);
    expect(normalizeReply(false)).toBeNull();
    expect(normalizeReply(undefined)).toBeNull();
    expect(normalizeReply(['a', 1, false, 2, null, 3])).toEqual(['a', 1, null, 2]);
    expect(normalizeReply([[true, 'x'], 2.5])).toEqual([[1, 'x'], 2]);
  });

  it('convert args to ARGV strings and reject non-finite numbers', () => {
    expect(scriptArgs(['a', 1, 0.5], 's')).toEqual(['a', '1', '0.5']);
    expect(() => scriptArgs([Number.NaN], 's')).toThrow(
      /argument 0 must be a string or a finite number/,
    );
  });

  it('are defined once per name; the same body may be defined twice', () => {
    const def = { name: 'test.same', keys: 1, lua: 'return 1', local: () => 1 };
    expect(defineScript(def).sha1).toBe(defineScript(def).sha1);
    expect(() => defineScript({ ...def, lua: 'return 2' })).toThrow(/two different scripts/);
    expect(defineScript(def).sha1).toBe('e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
  });
});
