import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Turns values into the strings a backend stores, and back. */
export interface Codec<T = unknown> {
  readonly name: string;
  encode(value: T): string;
  decode(stored: string): T;
}

const TAG = '$rb';

type TypedArrayName =
  | 'Uint8Array'
  | 'Int8Array'
  | 'Uint8ClampedArray'
  | 'Uint16Array'
  | 'Int16Array'
  | 'Uint32Array'
  | 'Int32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

const TYPED_ARRAYS: Record<
  TypedArrayName,
  { new (buffer: ArrayBuffer): ArrayBufferView; BYTES_PER_ELEMENT: number }
> = {
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/**
 * Defines an own property. Plain assignment would turn a key named
 * `__proto__` (which JSON.parse creates as an own property) into the
 * object's prototype: data lost, and a prototype-pollution hole.
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function toTagged(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [TAG]: 'number', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      return { [TAG]: 'bigint', v: value.toString() };
    case 'undefined':
      return { [TAG]: 'undefined' };
    case 'function':
    case 'symbol':
      throw new ValidationError(`[redbrick/core] json codec cannot encode a ${typeof value}`, {
        field: 'value',
      });
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(toTagged);
  if (value instanceof Date) {
    const t = value.getTime();
    return { [TAG]: 'Date', v: Number.isNaN(t) ? null : value.toISOString() };
  }
  if (value instanceof Map)
    return { [TAG]: 'Map', v: [...value].map(([k, v]) => [toTagged(k), toTagged(v)]) };
  if (value instanceof Set) return { [TAG]: 'Set', v: [...value].map(toTagged) };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedArrayName;
    if (name in TYPED_ARRAYS || value instanceof Uint8Array) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return { [TAG]: name in TYPED_ARRAYS ? name : 'Uint8Array', v: bytes.toString('base64') };
    }
  }
  if (value instanceof RegExp) return { [TAG]: 'RegExp', v: [value.source, value.flags] };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value as object))
    setOwn(out, k, toTagged((value as Record<string, unknown>)[k]));
  // A user object that happens to carry our tag key is wrapped, so decoding stays unambiguous.
  if (Object.hasOwn(out, TAG)) return { [TAG]: 'object', v: out };
  return out;
}

function fromTagged(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fromTagged);
  const obj = value as Record<string, unknown>;
  const tag = obj[TAG];
  if (typeof tag === 'string') {
    const v = obj.v;
    switch (tag) {
      case 'number':
        return v === '-0' ? -0 : Number(v);
      case 'bigint':
        return BigInt(v as string);
      case 'undefined':
        return undefined;
      case 'Date':
        return new Date(v === null ? Number.NaN : (v as string));
      case 'Map':
        return new Map(
          (v as Array<[unknown, unknown]>).map(([k, x]) => [fromTagged(k), fromTagged(x)]),
        );
      case 'Set':
        return new Set((v as unknown[]).map(fromTagged));
      case 'RegExp': {
        const [source, flags] = v as [string, string];
        return new RegExp(source, flags);
      }
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v as object))
          setOwn(out, k, fromTagged((v as Record<string, unknown>)[k]));
        return out;
      }
      default: {
        const ctor = TYPED_ARRAYS[tag as TypedArrayName];
        if (ctor) {
          const bytes = Buffer.from(v as string, 'base64');
          const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
          return new ctor(buffer as ArrayBuffer);
        }
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) setOwn(out, k, fromTagged(obj[k]));
  return out;
}

function needsTagging(value: unknown, depth = 0): boolean {
  if (depth > 64) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return false;
    case 'number':
      return !Number.isFinite(value) || Object.is(value, -0);
    case 'object': {
      if (value === null) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (needsTagging(item, depth + 1)) return true;
        return false;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return true;
      for (const k in value) {
        if (k === TAG) return true;
        if (needsTagging((value as Record<string, unknown>)[k], depth + 1)) return true;
      }
      return false;
    }
    default:
      return true;
  }
}

/**
 * JSON that round-trips what `JSON.stringify` loses: Date, BigInt, Map, Set,
 * RegExp, typed arrays, `undefined` (in objects, arrays and at the top),
 * NaN, ±Infinity and -0. Plain JSON data is stored as plain JSON, so other
 * tools can read it. Class instances come back as plain objects.
 */
export const json: Codec<unknown> = {
  name: 'json',
  encode(value) {
    return JSON.stringify(needsTagging(value) ? toTagged(value) : value);
  },
  decode(stored) {
    const parsed: unknown = JSON.parse(stored);
    // Without a tag anywhere in the text (encode writes it as a literal `"$rb"`), JSON.parse's
    // result is already the value: plain objects whose keys, `__proto__` included, are own data
    // properties. Only tagged text needs the rebuilding walk.
    if (parsed === null || typeof parsed !== 'object' || !stored.includes(TAG_TEXT)) return parsed;
    return fromTagged(parsed);
  },
};

const TAG_TEXT = `"${TAG}"`;

/** Stores strings as they are. */
export const text: Codec<string> = {
  name: 'text',
  encode(value) {
    if (typeof value !== 'string') {
      throw new ValidationError(
        `[redbrick/core] text codec encodes strings only, got ${typeof value}`,
        {
          field: 'value',
        },
      );
    }
    return value;
  },
  decode: (stored) => stored,
};

/** Formats zod issues as `path: message; …`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map(
      (issue) =>
        `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
    )
    .join('; ');
}

/**
 * Wraps a codec with a zod schema: values are validated before they are
 * written and after they are read. Bad or foreign data becomes a
 * `ValidationError` naming the path, never a silently wrong value.
 */
export function withSchema<S extends z.ZodType>(
  schema: S,
  codec: Codec<unknown> = json,
  pkg = 'core',
): Codec<z.output<S>> & { validate(value: unknown, where?: string): z.output<S> } {
  const validate = (value: unknown, where = 'value'): z.output<S> => {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw new ValidationError(
        `[redbrick/${pkg}] ${where} does not match the schema: ${formatIssues(result.error)}`,
        {
          field: where,
          cause: result.error,
        },
      );
    }
    return result.data;
  };
  return {
    name: `${codec.name}+schema`,
    validate,
    encode(value) {
      return codec.encode(validate(value, 'value to write'));
    },
    decode(stored) {
      let raw: unknown;
      try {
        raw = codec.decode(stored);
      } catch (cause) {
        throw new ValidationError(
          `[redbrick/${pkg}] stored value cannot be decoded with the ${codec.name} codec`,
          {
            field: 'stored value',
            cause,
          },
        );
      }
      return validate(raw, 'stored value');
    },
  };
}

/** How one hash field is stored (the tenant-repos wire format). */
export interface FieldCodec<T> {
  readonly kind: string;
  encode(value: T): string;
  decode(stored: string): T;
}

function fieldError(kind: string, stored: string): ValidationError {
  return new ValidationError(
    `[redbrick/core] hash field holds ${JSON.stringify(stored.length > 40 ? `${stored.slice(0, 40)}…` : stored)}, which is not a valid ${kind}`,
    { field: kind },
  );
}

function encodeError(kind: string, value: unknown): ValidationError {
  return new ValidationError(
    `[redbrick/core] ${kind} field must be a ${kind}, got ${value === null ? 'null' : typeof value}`,
    { field: kind },
  );
}

/**
 * Field codecs: no type guessing, each field says what it is. Booleans are
 * `"1"`/`"0"`, dates ISO strings, numbers decimal, `json` anything.
 */
export const fields = {
  string: {
    kind: 'string',
    encode: (v: string) => {
      if (typeof v !== 'string') throw encodeError('string', v);
      return v;
    },
    decode: (s: string) => s,
  } satisfies FieldCodec<string>,
  number: {
    kind: 'number',
    encode: (v: number) => {
      if (typeof v !== 'number') throw encodeError('number', v);
      if (!Number.isFinite(v))
        throw new ValidationError(`[redbrick/core] number field must be finite, got ${v}`);
      return String(v);
    },
    decode: (s: string) => {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) throw fieldError('number', s);
      return n;
    },
  } satisfies FieldCodec<number>,
  boolean: {
    kind: 'boolean',
    encode: (v: boolean) => {
      if (typeof v !== 'boolean') throw encodeError('boolean', v);
      return v ? '1' : '0';
    },
    decode: (s: string) => {
      if (s === '1') return true;
      if (s === '0') return false;
      throw fieldError('boolean ("1" or "0")', s);
    },
  } satisfies FieldCodec<boolean>,
  date: {
    kind: 'date',
    encode: (v: Date) => {
      if (!(v instanceof Date) || Number.isNaN(v.getTime())) {
        throw new ValidationError('[redbrick/core] date field must be a valid Date');
      }
      return v.toISOString();
    },
    decode: (s: string) => {
      const d = new Date(s);
      if (Number.isNaN(d.getTime())) throw fieldError('ISO date', s);
      return d;
    },
  } satisfies FieldCodec<Date>,
  json: {
    kind: 'json',
    encode: (v: unknown) => json.encode(v),
    decode: (s: string) => {
      try {
        return json.decode(s);
      } catch {
        throw fieldError('JSON value', s);
      }
    },
  } satisfies FieldCodec<unknown>,
} as const;

type FieldSpec = Record<
  string,
  { kind: string; encode(value: never): string; decode(stored: string): unknown }
>;
type FieldValues<S extends FieldSpec> = {
  [K in keyof S]?: ReturnType<S[K]['decode']>;
};

/**
 * A codec from objects to hash fields, one declared codec per field.
 * Fields not in the spec are rejected on encode and ignored on decode.
 */
export function hashCodec<S extends FieldSpec>(spec: S) {
  return {
    encode(value: FieldValues<S>): Record<string, string> {
      const out: Record<string, string> = {};
      for (const [name, v] of Object.entries(value)) {
        const codec = spec[name] as FieldCodec<unknown> | undefined;
        if (!codec) {
          throw new ValidationError(
            `[redbrick/core] unknown hash field "${name}" (declared: ${Object.keys(spec).join(', ')})`,
            { field: name },
          );
        }
        if (v === undefined) continue;
        out[name] = codec.encode(v);
      }
      return out;
    },
    decode(stored: Record<string, string>): FieldValues<S> {
      const out: Record<string, unknown> = {};
      for (const [name, codec] of Object.entries(spec) as Array<[string, FieldCodec<unknown>]>) {
        const s = stored[name];
        if (s === undefined) continue;
        try {
          out[name] = codec.decode(s);
        } catch (error) {
          if (error instanceof ValidationError) {
            throw new ValidationError(`${error.message} (field "${name}")`, {
              field: name,
              cause: error,
            });
          }
          throw error;
        }
      }
      return out as FieldValues<S>;
    },
  };
}
