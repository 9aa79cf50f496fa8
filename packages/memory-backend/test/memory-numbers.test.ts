import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../src/index.js';
import { addInteger, smallInteger } from '../src/integers.js';
import { addFloat } from '../src/long-double.js';

/*
 * Expected values were read from redis-server 7.0.15 (x86-64):
 * SET k <current>; INCRBYFLOAT k <increment>.
 */
const FLOATS: Array<[current: string | null, increment: string, stored: string]> = [
  ['10.5', '0.1', '10.6'],
  ['10.6', '5000', '5010.60000000000000009'],
  ['0.1', '0.2', '0.3'],
  ['0.1', '0.1', '0.2'],
  ['3', '2', '5'],
  ['5', '0.1', '5.1'],
  ['5.1', '-0.1', '5'],
  ['1.0', '0', '1'],
  ['1', '0.00000000000000001', '1.00000000000000001'],
  ['3.0', '2e-18', '3'],
  ['1e3', '1', '1001'],
  ['.5', '1', '1.5'],
  ['5.', '1', '6'],
  ['0x10', '1', '17'],
  ['-1', '1', '0'],
  ['-1', '0.5', '-0.5'],
  [null, '0.1', '0.1'],
  [
    '1.0',
    '1e300',
    '1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144',
  ],
];

describe('INCRBYFLOAT arithmetic (80-bit long double, like Redis on x86-64)', () => {
  it('stores exactly what Redis stores', () => {
    for (const [current, increment, stored] of FLOATS) {
      expect(addFloat(current, increment), `${current} + ${increment}`).toEqual({
        ok: true,
        text: stored,
      });
    }
  });

  it('goes beyond double range where a long double does (2e308 + 1e308)', () => {
    const result = addFloat('2e308', '1e308');
    expect(result.ok).toBe(true);
    expect(result.ok && result.text.startsWith('29999999999999999998')).toBe(true);
  });

  it('refuses what Redis refuses', () => {
    for (const bad of [' 1', '1 ', 'abc', '', '1e', '0x', 'nan', '1e5000', '1e-5000']) {
      expect(addFloat(bad, '1'), JSON.stringify(bad)).toEqual({ ok: false, reason: 'not-float' });
    }
    expect(addFloat('inf', '1')).toEqual({ ok: false, reason: 'nan-or-inf' });
    expect(addFloat('1', '-inf')).toEqual({ ok: false, reason: 'nan-or-inf' });
    expect(addFloat('0e-5000', '1')).toEqual({ ok: true, text: '1' });
  });

  it('is what the backend stores and returns', async () => {
    const b = createMemoryBackend();
    await b.set('f', '10.6');
    expect(await b.incrByFloat('f', 5000)).toBe(5010.6);
    expect(await b.get('f')).toBe('5010.60000000000000009');
    await b.hset('h', { f: '0.1' });
    expect(await b.hincrByFloat('h', 'f', 0.2)).toBe(0.3);
    expect(await b.hget('h', 'f')).toBe('0.3');
    await b.set('inf', 'inf');
    await expect(b.incrByFloat('inf', 1)).rejects.toThrow(/NaN or Infinity/);
    await b.close();
  });
});

describe('INCRBY arithmetic (signed 64-bit)', () => {
  it('is exact beyond 2^53 and stops at the int64 limits', () => {
    expect(addInteger('9007199254740993', 1)).toBe('9007199254740994');
    expect(addInteger('9223372036854775806', 1)).toBe('9223372036854775807');
    expect(addInteger('9223372036854775807', 1)).toBe('overflow');
    expect(addInteger('-9223372036854775808', -1)).toBe('overflow');
    expect(addInteger('9223372036854775808', 0)).toBe('not-integer');
    expect(addInteger(null, -5)).toBe('-5');
    expect(addInteger('-0', 1)).toBe('not-integer');
    expect(addInteger('12345678901234567890123', 1)).toBe('not-integer');
  });

  it('is what the backend stores', async () => {
    const b = createMemoryBackend();
    await b.set('n', '9007199254740993');
    await b.incrBy('n', 2);
    expect(await b.get('n')).toBe('9007199254740995');
    await b.close();
  });

  it('reads short integers exactly as the strict Redis form allows (fuzzed against the regex)', () => {
    const strict = /^(?:0|-?[1-9][0-9]*)$/;
    const digitsLike = fc.stringMatching(/^[-+ 0-9a]{0,15}$/);
    fc.assert(
      fc.property(fc.oneof(digitsLike, fc.string({ maxLength: 15 })), (text) => {
        const expected = strict.test(text) ? Number(text) : Number.NaN;
        expect(smallInteger(text)).toBe(expected);
        // and the increment agrees with the BigInt arithmetic it replaces
        const sum = addInteger(text, 7);
        if (!strict.test(text)) expect(sum).toBe('not-integer');
        else expect(sum).toBe((BigInt(text) + 7n).toString());
      }),
      { numRuns: 2000 },
    );
    for (const text of [
      '0',
      '-0',
      '00',
      '-',
      '',
      '+1',
      ' 1',
      '1 ',
      '-1',
      '999999999999999',
      '-999999999999999',
    ]) {
      expect(smallInteger(text)).toBe(strict.test(text) ? Number(text) : Number.NaN);
    }
  });
});
