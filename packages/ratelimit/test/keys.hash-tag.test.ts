import { tag } from '@redbrick/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashTagOf } from '../src/rate-limiter.js';

/* The limiter builds a key's hash tag itself on the hot path; it must be core's tag(), byte for byte. */

describe('hashTagOf', () => {
  it('is core tag() for every non-empty key', () => {
    const special = fc.constantFrom('%', ':', '{', '}', '%3A', 'a', 'ü', '😀', ' ');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ minLength: 1 }),
          fc.array(special, { minLength: 1 }).map((a) => a.join('')),
        ),
        (id) => {
          expect(hashTagOf(id)).toBe(tag(id).hashTag);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('examples', () => {
    expect(hashTagOf('ip:1.2.3.4')).toBe('{ip%3A1.2.3.4}');
    expect(hashTagOf('a{b}%')).toBe('{a%7Bb%7D%25}');
    expect(hashTagOf('plain')).toBe('{plain}');
  });
});
