import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fields, hashCodec, isRedbrickError, json, withSchema } from '../src/index.js';

describe('json codec', () => {
  it('round-trips what JSON.stringify loses', () => {
    const value = {
      when: new Date('2024-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, new Set([1, 'x'])],
      ]),
      set: new Set([new Date(0)]),
      missing: undefined,
      list: [1, undefined, null, Number.NaN, Number.POSITIVE_INFINITY, -0],
      bytes: new Uint8Array([0, 1, 255]),
      floats: new Float64Array([1.5, -2]),
      regex: /a+b/gi,
      nested: { $rb: 'not a tag', deeper: { undef: undefined } },
      invalidDate: new Date(Number.NaN),
    };
    const back = json.decode(json.encode(value)) as typeof value;
    expect(back).toEqual(value);
    expect(Object.hasOwn(back, 'missing')).toBe(true);
    expect(Object.is(back.list[5], -0)).toBe(true);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect(back.floats).toBeInstanceOf(Float64Array);
    expect(back.when).toBeInstanceOf(Date);
  });

  it('stores plain JSON as plain JSON', () => {
    expect(json.encode({ a: 1, b: ['x', null, true] })).toBe('{"a":1,"b":["x",null,true]}');
    expect(json.encode('s')).toBe('"s"');
    expect(json.decode(json.encode(undefined))).toBeUndefined();
  });

  it('round-trips arbitrary values (fuzzed)', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.bigInt(),
      fc.date(),
      fc.uint8Array(),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        leaf,
        tie('array'),
        tie('object'),
        tie('map'),
        tie('set'),
      ),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
      map: fc.array(fc.tuple(fc.string(), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
      set: fc.array(fc.string(), { maxLength: 3 }).map((e) => new Set(e)),
    }));
    fc.assert(
      fc.property(value, (v) => {
        expect(json.decode(json.encode(v))).toEqual(v);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps an own "__proto__" key as data, never as the prototype', () => {
    const value = JSON.parse(
      '{"__proto__":{"admin":true},"b":2,"n":{"__proto__":{"x":1},"d":new Date(0)}}'.replace(
        'new Date(0)',
        '0',
      ),
    );
    const back = json.decode(json.encode(value)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect((back as { admin?: unknown }).admin).toBeUndefined();
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(back).toEqual(value);
    const tagged = json.decode(json.encode({ ...value, when: new Date(0) })) as Record<
      string,
      unknown
    >;
    expect(Object.hasOwn(tagged, '__proto__')).toBe(true);
    expect(({} as { admin?: unknown }).admin).toBeUndefined();
  });

  it('decodes untagged JSON exactly as JSON.parse does (the fast path)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        fc.pre(!text.includes('"$rb"'));
        const back = json.decode(text);
        expect(back).toStrictEqual(JSON.parse(text));
        if (back !== null && typeof back === 'object') {
          expect(Object.getPrototypeOf(back)).toBe(
            Array.isArray(back) ? Array.prototype : Object.prototype,
          );
        }
      }),
      { numRuns: 1000 },
    );
    const proto = json.decode('{"__proto__":{"admin":true}}') as Record<string, unknown>;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect((proto as { admin?: unknown }).admin).toBeUndefined();
  });

  it('refuses functions and symbols', () => {
    expect(() => json.encode({ f: () => 1 })).toThrow(/cannot encode a function/);
  });
});

describe('fields', () => {
  it('refuse a value of another type on write (no "5" for 5, no "1" for "false")', () => {
    expect(() => fields.string.encode(5 as never)).toThrow(
      /string field must be a string, got number/,
    );
    expect(() => fields.number.encode('5' as never)).toThrow(/number field must be a number/);
    expect(() => fields.boolean.encode('false' as never)).toThrow(
      /boolean field must be a boolean/,
    );
    expect(fields.boolean.encode(false)).toBe('0');
  });
});

describe('withSchema', () => {
  const user = withSchema(z.object({ name: z.string(), age: z.number().int() }));

  it('validates on write and on read, naming the path', () => {
    expect(user.decode(user.encode({ name: 'a', age: 3 }))).toEqual({ name: 'a', age: 3 });
    try {
      user.encode({ name: 'a', age: 1.5 } as never);
      expect.unreachable();
    } catch (error) {
      expect(isRedbrickError(error, 'VALIDATION')).toBe(true);
      expect((error as Error).message).toMatch(/age/);
    }
    expect(() => user.decode('{"name":1}')).toThrow(/name/);
    expect(() => user.decode('not json')).toThrow(/cannot be decoded/);
  });
});

describe('hash field codecs', () => {
  const codec = hashCodec({
    name: fields.string,
    active: fields.boolean,
    joined: fields.date,
    count: fields.number,
    meta: fields.json,
  });

  it('uses "1"/"0" booleans and ISO dates, with no type guessing', () => {
    const encoded = codec.encode({
      name: '123',
      active: true,
      joined: new Date('2024-05-06T00:00:00.000Z'),
      count: 1,
      meta: { x: [1] },
    });
    expect(encoded).toEqual({
      name: '123',
      active: '1',
      joined: '2024-05-06T00:00:00.000Z',
      count: '1',
      meta: '{"x":[1]}',
    });
    const decoded = codec.decode(encoded);
    expect(decoded.name).toBe('123');
    expect(decoded.count).toBe(1);
    expect(decoded.active).toBe(true);
    expect(decoded.joined).toEqual(new Date('2024-05-06T00:00:00.000Z'));
  });

  it('reports a corrupt field by name', () => {
    expect(() => codec.decode({ active: 'yes' })).toThrow(/field "active"/);
    expect(() => codec.decode({ count: 'abc' })).toThrow(/field "count"/);
    expect(() => codec.decode({ joined: 'yesterday' })).toThrow(/field "joined"/);
    expect(() => codec.encode({ nope: 1 } as never)).toThrow(/unknown hash field "nope"/);
  });
});
