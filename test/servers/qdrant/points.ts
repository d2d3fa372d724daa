/**
 * Point handling as Qdrant does it: id parsing and ordering, vector validation (dense, named,
 * sparse), float32 storage with Cosine normalisation, payload/vector selection, simple filters.
 */
import { badInput, badRequest, formatError, validationError } from './http-util.js';
import type { StoredPoint } from './types.js';

export type PointId = number | string;
export type SparseVec = { indices: number[]; values: number[] };
export type VectorValue = number[] | number[][] | SparseVec;
type Json = Record<string, unknown>;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Parse an ExtendedPointId: unsigned integer or UUID (normalised to lowercase hyphenated). */
export function parseId(v: unknown): PointId {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const s = v.replace(/^urn:uuid:/i, '').replace(/^\{(.*)\}$/, '$1');
    if (UUID_RE.test(s)) {
      const h = s.replace(/-/g, '').toLowerCase();
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
  }
  throw formatError(
    'JSON body',
    `value ${JSON.stringify(v)} is not a valid point ID, valid values are either an unsigned integer or a UUID`,
  );
}

/** Map key for a point id. */
export const idKey = (id: PointId) => (typeof id === 'number' ? `n${id}` : `u${id}`);

/** Qdrant's id order: integers ascending first, then UUIDs (as 128-bit numbers). */
export function compareIds(a: PointId, b: PointId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Dense vector params by name ('' = the unnamed default vector). */
export function denseParams(config: Json): Map<string, Json> {
  const params = (config.params ?? {}) as Json;
  const vectors = (params.vectors ?? {}) as Json;
  const out = new Map<string, Json>();
  if (typeof vectors.size === 'number' && typeof vectors.distance === 'string') out.set('', vectors);
  else for (const [k, v] of Object.entries(vectors)) out.set(k, v as Json);
  return out;
}

/** Sparse vector names. */
export function sparseNames(config: Json): Set<string> {
  const params = (config.params ?? {}) as Json;
  return new Set(Object.keys((params.sparse_vectors ?? {}) as Json));
}

const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

function dense(name: string, p: Json, v: unknown): number[] | number[][] {
  const size = p.size as number;
  const check = (arr: number[]) => {
    if (arr.length !== size)
      throw badInput(`Vector dimension error: expected dim: ${size}, got ${arr.length}`);
    let out = arr.map((x) => Math.fround(x));
    if (p.distance === 'Cosine') {
      const norm = Math.sqrt(arr.reduce((s, x) => s + x * x, 0));
      if (norm > 0) out = arr.map((x) => Math.fround(x / norm));
    }
    return out;
  };
  if (isNumArray(v)) return check(v);
  if (Array.isArray(v) && v.length > 0 && v.every(isNumArray) && p.multivector_config) return v.map(check);
  throw formatError(
    'JSON body',
    `vector \`${name}\`: data did not match any variant of untagged enum VectorStruct`,
  );
}

function sparse(name: string, v: unknown): SparseVec {
  const o = v as Json;
  if (!o || typeof o !== 'object' || !isNumArray(o.indices) || !isNumArray(o.values)) {
    throw formatError('JSON body', `vector \`${name}\`: expected a sparse vector {indices, values}`);
  }
  const { indices, values } = o as SparseVec;
  if (indices.length !== values.length) {
    throw validationError('JSON body', `${name}.values: must be the same length as indices`);
  }
  if (new Set(indices).size !== indices.length)
    throw validationError('JSON body', `${name}.indices: must be unique`);
  if (indices.some((i) => !Number.isInteger(i) || i < 0 || i > 0xffffffff)) {
    throw formatError('JSON body', `${name}.indices: expected u32`);
  }
  const order = indices.map((_, i) => i).sort((a, b) => indices[a]! - indices[b]!);
  return { indices: order.map((i) => indices[i]!), values: order.map((i) => Math.fround(values[i]!)) };
}

/** Validate and normalise one point's vector input against the collection config. */
export function parseVector(config: Json, input: unknown): Record<string, VectorValue> {
  const denseMap = denseParams(config);
  const sparseSet = sparseNames(config);
  const out: Record<string, VectorValue> = {};
  if (Array.isArray(input)) {
    const p = denseMap.get('');
    if (!p) throw badInput('Not existing vector name error: ');
    out[''] = dense('', p, input);
    return out;
  }
  if (!input || typeof input !== 'object') throw formatError('JSON body', 'invalid vector');
  for (const [name, v] of Object.entries(input as Json)) {
    const p = denseMap.get(name);
    if (p) out[name] = dense(name, p, v);
    else if (sparseSet.has(name)) out[name] = sparse(name, v);
    else throw badInput(`Not existing vector name error: ${name}`);
  }
  return out;
}

/** Parse a PointInsertOperations body (`points` list or `batch`) into points. */
export function parseUpsert(config: Json, body: Json): StoredPoint[] {
  const shardKey = body.shard_key as string | number | undefined;
  const mk = (id: unknown, vector: unknown, payload: unknown): StoredPoint => {
    if (
      payload !== undefined &&
      payload !== null &&
      (typeof payload !== 'object' || Array.isArray(payload))
    ) {
      throw formatError('JSON body', 'payload: invalid type, expected a map');
    }
    const p: StoredPoint = {
      id: parseId(id),
      vector: parseVector(config, vector),
      payload: (payload as Json) ?? {},
    };
    if (shardKey !== undefined && shardKey !== null) p.shard_key = shardKey;
    return p;
  };
  if (Array.isArray(body.points)) {
    return body.points.map((pt: Json) => {
      if (!pt || typeof pt !== 'object' || !('id' in pt))
        throw formatError('JSON body', 'points: missing field `id`');
      return mk(pt.id, pt.vector ?? {}, pt.payload);
    });
  }
  const batch = body.batch as Json | undefined;
  if (batch && Array.isArray(batch.ids)) {
    const ids = batch.ids as unknown[];
    const vectors = batch.vectors;
    const payloads = (batch.payloads ?? []) as unknown[];
    return ids.map((id, i) => {
      let vec: unknown;
      if (Array.isArray(vectors)) vec = vectors[i];
      else if (vectors && typeof vectors === 'object') {
        vec = Object.fromEntries(
          Object.entries(vectors as Record<string, unknown[]>)
            .filter(([, arr]) => Array.isArray(arr) && arr[i] !== undefined)
            .map(([name, arr]) => [name, arr[i]]),
        );
      }
      if (vec === undefined) throw badInput(`vectors and ids length mismatch at index ${i}`);
      return mk(id, vec, payloads[i]);
    });
  }
  throw formatError('JSON body', 'data did not match any variant of untagged enum PointInsertOperations');
}

/** The `vector` field of a Record for a with_vector selector. */
export function vectorOutput(config: Json, p: StoredPoint, withVector: unknown): unknown {
  if (withVector === undefined || withVector === null || withVector === false) return undefined;
  const names = Array.isArray(withVector) ? new Set(withVector.map(String)) : undefined;
  const keys = Object.keys(p.vector).filter((k) => !names || names.has(k));
  const onlyDefault =
    denseParams(config).has('') && denseParams(config).size === 1 && sparseNames(config).size === 0;
  if (onlyDefault && !names) return p.vector[''] ?? {};
  return Object.fromEntries(keys.map((k) => [k, p.vector[k]]));
}

/** The `payload` field of a Record for a with_payload selector (top-level keys only). */
export function payloadOutput(payload: Json, withPayload: unknown): Json | undefined {
  if (withPayload === undefined || withPayload === null || withPayload === true) return payload;
  if (withPayload === false) return undefined;
  const pick = (keys: string[], keep: boolean) =>
    Object.fromEntries(Object.entries(payload).filter(([k]) => keys.includes(k) === keep));
  if (Array.isArray(withPayload)) return pick(withPayload.map(String), true);
  const sel = withPayload as Json;
  if (Array.isArray(sel.include)) return pick(sel.include.map(String), true);
  if (Array.isArray(sel.exclude)) return pick(sel.exclude.map(String), false);
  throw formatError('JSON body', 'with_payload: data did not match any variant');
}

/** A Record (API output) for a point. */
export function record(config: Json, p: StoredPoint, withPayload: unknown, withVector: unknown): Json {
  const r: Json = { id: p.id };
  const payload = payloadOutput(p.payload, withPayload);
  if (payload !== undefined) r.payload = payload;
  const vector = vectorOutput(config, p, withVector);
  if (vector !== undefined) r.vector = vector;
  if (p.shard_key !== undefined) r.shard_key = p.shard_key;
  return r;
}

function getPath(payload: Json, key: string): unknown {
  let cur: unknown = payload;
  for (const part of key.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Json)[part];
  }
  return cur;
}

function condition(p: StoredPoint, c: Json): boolean {
  if (Array.isArray(c.has_id)) return c.has_id.some((id) => idKey(parseId(id)) === idKey(p.id));
  if ('must' in c || 'should' in c || 'must_not' in c) return matchesFilter(p, c);
  if (typeof c.key === 'string') {
    const v = getPath(p.payload, c.key);
    const vals = Array.isArray(v) ? v : [v];
    const m = c.match as Json | undefined;
    if (m && 'value' in m) return vals.some((x) => x === m.value);
    if (m && Array.isArray(m.any)) return vals.some((x) => (m.any as unknown[]).includes(x));
    if (m && Array.isArray(m.except)) return !vals.some((x) => (m.except as unknown[]).includes(x));
    const r = c.range as Record<string, number> | undefined;
    if (r) {
      return vals.some(
        (x) =>
          typeof x === 'number' &&
          (r.gt === undefined || x > r.gt) &&
          (r.gte === undefined || x >= r.gte) &&
          (r.lt === undefined || x < r.lt) &&
          (r.lte === undefined || x <= r.lte),
      );
    }
  }
  throw badRequest(`filter condition ${JSON.stringify(c)} is not supported by the qnb test server`);
}

/** Evaluate a Filter (must/should/must_not with match/range/has_id conditions). */
export function matchesFilter(p: StoredPoint, filter: unknown): boolean {
  if (filter === undefined || filter === null) return true;
  const f = filter as Json;
  const list = (v: unknown): Json[] =>
    v === undefined || v === null ? [] : Array.isArray(v) ? v : [v as Json];
  const must = list(f.must);
  const should = list(f.should);
  const mustNot = list(f.must_not);
  if (!must.every((c) => condition(p, c))) return false;
  if (should.length > 0 && !should.some((c) => condition(p, c))) return false;
  return !mustNot.some((c) => condition(p, c));
}
