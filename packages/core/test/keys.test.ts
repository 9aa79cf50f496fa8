import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeGlob,
  escapeKeyPart,
  hashSlot,
  isRedbrickError,
  key,
  matchGlob,
  tag,
  unescapeKeyPart,
} from '../src/index.js';

describe('key()', () => {
  it('joins parts with ":" and escapes separators inside parts', () => {
    expect(key('cache', 'ns', 'id')).toBe('cache:ns:id');
    expect(key('a:b', 'c')).not.toBe(key('a', 'b:c'));
    expect(key('rl', tag('user:1'), 'w')).toBe('rl:{user%3A1}:w');
    expect(key('n', 42)).toBe('n:42');
  });

  it('never maps two different part lists to the same key (fuzzed)', () => {
    const part = fc.string({
      minLength: 1,
      maxLength: 6,
      unit: fc.constantFrom('a', ':', '%', '{', '}', '3', 'A', 'é'),
    });
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.array(part, { minLength: 1, maxLength: 4 }),
        (a, b) => {
          if (a.join('\u0000') === b.join('\u0000')) return;
          expect(key(...a)).not.toBe(key(...b));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('escaping round-trips and never leaves a brace or colon', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const e = escapeKeyPart(s);
        expect(e).not.toMatch(/[:{}]/);
        expect(unescapeKeyPart(e)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('keys with the same tag share a slot, whatever the tag contains', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (id) => {
        expect(hashSlot(key('rl', tag(id), 'a'))).toBe(hashSlot(key('other', tag(id), 'b', 'c')));
      }),
      { numRuns: 500 },
    );
  });

  it('computes the Redis Cluster slot (CRC16/XMODEM mod 16384)', () => {
    // Reference values from `CLUSTER KEYSLOT`.
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('bar')).toBe(5061);
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('{user1000}.followers'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}'));
    expect(hashSlot('{}foo')).not.toBe(hashSlot('foo'));
  });

  it('rejects empty and non-finite parts with a VALIDATION error naming the field', () => {
    for (const bad of [() => key(''), () => key('a', Number.NaN), () => key(), () => tag()]) {
      try {
        bad();
        expect.unreachable();
      } catch (error) {
        expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
        expect((error as Error).message).toMatch(/\[redbrick\/core\]/);
      }
    }
  });
});

describe('glob', () => {
  it('matches like Redis', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', '', true],
      ['*', 'anything', true],
      ['h?llo', 'hello', true],
      ['h?llo', 'hllo', false],
      ['h*llo', 'heeeello', true],
      ['h[ae]llo', 'hallo', true],
      ['h[ae]llo', 'hillo', false],
      ['h[^e]llo', 'hallo', true],
      ['h[^e]llo', 'hello', false],
      ['h[a-b]llo', 'hbllo', true],
      ['h[b-a]llo', 'hbllo', true],
      ['h\\*llo', 'h*llo', true],
      ['h\\*llo', 'hello', false],
      ['a*b*c', 'aXXbYYc', true],
      ['a*b*c', 'aXXbYY', false],
      ['events.*', 'events.user', true],
      ['[\\]]', ']', true],
    ];
    for (const [pattern, subject, expected] of cases)
      expect([pattern, subject, matchGlob(pattern, subject)]).toEqual([pattern, subject, expected]);
  });

  it('an escaped literal matches exactly itself (fuzzed)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '*', '?', '[', ']', '\\', '^', '-', 'b') }),
        fc.string(),
        (lit, other) => {
          expect(matchGlob(escapeGlob(lit), lit)).toBe(true);
          if (other !== lit) expect(matchGlob(escapeGlob(lit), other)).toBe(false);
          expect(matchGlob(`${escapeGlob(lit)}*`, `${lit}tail`)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
