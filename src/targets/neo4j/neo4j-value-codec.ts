/**
 * Lossless JSON for Neo4j property values, as written in export files (docs/neo4j.md): every value
 * is a one-key object naming its type, so an INTEGER stays an INTEGER (64-bit, as a string — a JS
 * number would be sent back as FLOAT), a byte array stays bytes, and temporal and spatial values
 * keep every component (zone id and offset, SRID, z).
 *
 * The codec takes the neo4j-driver module as an argument, so loading this file does not load the
 * driver (`qnb --help` stays light) and unit tests pass the module in.
 */
import type neo4jDriver from 'neo4j-driver';

/** The driver module (its default export). */
export type Neo4jModule = typeof neo4jDriver;

/** A property value as it appears in an export file, e.g. `{"int":"9007199254740993"}`. */
export type TaggedValue =
  | { int: string }
  | { float: number | 'NaN' | 'Infinity' | '-Infinity' | '-0' }
  | { string: string }
  | { boolean: boolean }
  | { bytes: string }
  | { list: TaggedValue[] }
  | { date: [number, number, number] }
  | { localtime: [number, number, number, number] }
  | { time: [number, number, number, number, number] }
  | { localdatetime: [number, number, number, number, number, number, number] }
  | { datetime: [number, number, number, number, number, number, number, number | null, string | null] }
  | { duration: [string, string, string, string] }
  | { point: [number, number, number] | [number, number, number, number] };

/** Encodes and decodes property values and property maps. */
export interface ValueCodec {
  /** Driver value → tagged JSON. Throws on a value that cannot be a property (maps, nodes, null). */
  encode(value: unknown): TaggedValue;
  /** Tagged JSON → driver value that the driver sends back as the same Neo4j type. */
  decode(tagged: unknown): unknown;
  encodeProperties(props: Record<string, unknown>): Record<string, TaggedValue>;
  decodeProperties(props: unknown): Record<string, unknown>;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());

type Parts = Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'nanosecond', unknown>;
const ymd = (v: Pick<Parts, 'year' | 'month' | 'day'>): [number, number, number] => [
  num(v.year),
  num(v.month),
  num(v.day),
];
const hmsn = (
  v: Pick<Parts, 'hour' | 'minute' | 'second' | 'nanosecond'>,
): [number, number, number, number] => [num(v.hour), num(v.minute), num(v.second), num(v.nanosecond)];

function encodeFloat(v: number): TaggedValue {
  if (Number.isNaN(v)) return { float: 'NaN' };
  if (v === Number.POSITIVE_INFINITY) return { float: 'Infinity' };
  if (v === Number.NEGATIVE_INFINITY) return { float: '-Infinity' };
  if (Object.is(v, -0)) return { float: '-0' };
  return { float: v };
}

function decodeFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  const special: Record<string, number> = {
    NaN: Number.NaN,
    Infinity: Number.POSITIVE_INFINITY,
    '-Infinity': Number.NEGATIVE_INFINITY,
    '-0': -0,
  };
  if (typeof v === 'string' && v in special) return special[v]!;
  throw new Error(`not a float: ${JSON.stringify(v)}`);
}

function numbers(v: unknown, min: number, max: number, tag: string): number[] {
  if (!Array.isArray(v) || v.length < min || v.length > max)
    throw new Error(`"${tag}" needs ${min === max ? min : `${min}–${max}`} components`);
  return v as number[];
}

/** Creates the codec over the driver module. */
export function createValueCodec(neo4j: Neo4jModule): ValueCodec {
  const t = neo4j.types;

  function encode(v: unknown): TaggedValue {
    if (typeof v === 'string') return { string: v };
    if (typeof v === 'boolean') return { boolean: v };
    if (typeof v === 'number') return encodeFloat(v);
    if (typeof v === 'bigint') return { int: v.toString() };
    if (neo4j.isInt(v)) return { int: v.toString() };
    if (v instanceof Int8Array || v instanceof Uint8Array)
      return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    if (Array.isArray(v)) return { list: v.map(encode) };
    if (neo4j.isDate(v)) return { date: ymd(v) };
    if (neo4j.isLocalTime(v)) return { localtime: hmsn(v) };
    if (neo4j.isTime(v)) return { time: [...hmsn(v), num(v.timeZoneOffsetSeconds)] };
    if (neo4j.isLocalDateTime(v)) return { localdatetime: [...ymd(v), ...hmsn(v)] };
    if (neo4j.isDateTime(v)) {
      // both offset and zone id: the offset tells apart the two 02:30 of a DST fall-back night
      const offset = v.timeZoneOffsetSeconds === undefined ? null : num(v.timeZoneOffsetSeconds);
      return { datetime: [...ymd(v), ...hmsn(v), offset, v.timeZoneId ?? null] };
    }
    if (neo4j.isDuration(v))
      return { duration: [String(v.months), String(v.days), String(v.seconds), String(v.nanoseconds)] };
    if (neo4j.isPoint(v)) {
      const p = v as { srid: unknown; x: number; y: number; z?: number };
      return { point: p.z === undefined ? [num(p.srid), p.x, p.y] : [num(p.srid), p.x, p.y, p.z] };
    }
    const what = v === null || v === undefined ? 'null' : ((v as object).constructor?.name ?? typeof v);
    throw new Error(`cannot store a ${what} value as a property`);
  }

  function decode(tagged: unknown): unknown {
    if (!tagged || typeof tagged !== 'object' || Array.isArray(tagged))
      throw new Error(`not a tagged value: ${JSON.stringify(tagged)?.slice(0, 80)}`);
    const entries = Object.entries(tagged);
    if (entries.length !== 1) throw new Error(`not a tagged value: ${JSON.stringify(tagged).slice(0, 80)}`);
    const [tag, v] = entries[0]!;
    switch (tag) {
      case 'int':
        if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new Error(`not an integer: ${v}`);
        return neo4j.int(v);
      case 'float':
        return decodeFloat(v);
      case 'string':
        if (typeof v !== 'string') throw new Error('"string" needs a string');
        return v;
      case 'boolean':
        if (typeof v !== 'boolean') throw new Error('"boolean" needs true or false');
        return v;
      case 'bytes': {
        const b = Buffer.from(String(v), 'base64');
        return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
      }
      case 'list':
        if (!Array.isArray(v)) throw new Error('"list" needs an array');
        return v.map(decode);
      case 'date': {
        const [y, m, d] = numbers(v, 3, 3, tag);
        return new t.Date(y!, m!, d!);
      }
      case 'localtime': {
        const [h, mi, s, ns] = numbers(v, 4, 4, tag);
        return new t.LocalTime(h!, mi!, s!, ns!);
      }
      case 'time': {
        const [h, mi, s, ns, off] = numbers(v, 5, 5, tag);
        return new t.Time(h!, mi!, s!, ns!, off!);
      }
      case 'localdatetime': {
        const [y, mo, d, h, mi, s, ns] = numbers(v, 7, 7, tag);
        return new t.LocalDateTime(y!, mo!, d!, h!, mi!, s!, ns!);
      }
      case 'datetime': {
        const c = numbers(v, 9, 9, tag) as unknown[];
        const [y, mo, d, h, mi, s, ns] = c as number[];
        const off = c[7] === null ? undefined : (c[7] as number);
        const zone = c[8] === null ? undefined : (c[8] as string);
        return new t.DateTime(y!, mo!, d!, h!, mi!, s!, ns!, off, zone);
      }
      case 'duration': {
        const [mo, d, s, ns] = numbers(v, 4, 4, tag).map((x) => neo4j.int(String(x)));
        return new t.Duration(mo!, d!, s!, ns!);
      }
      case 'point': {
        const [srid, x, y, z] = numbers(v, 3, 4, tag);
        return new t.Point(neo4j.int(srid!), x!, y!, z);
      }
      default:
        throw new Error(`unknown value type "${tag}"`);
    }
  }

  return {
    encode,
    decode,
    encodeProperties: (props) =>
      Object.fromEntries(
        Object.entries(props).map(([k, v]) => {
          try {
            return [k, encode(v)];
          } catch (err) {
            throw new Error(`property "${k}": ${(err as Error).message}`);
          }
        }),
      ),
    decodeProperties(props) {
      if (!props || typeof props !== 'object' || Array.isArray(props))
        throw new Error('"properties" must be an object');
      return Object.fromEntries(
        Object.entries(props).map(([k, v]) => {
          try {
            return [k, decode(v)];
          } catch (err) {
            throw new Error(`property "${k}": ${(err as Error).message}`);
          }
        }),
      );
    },
  };
}
