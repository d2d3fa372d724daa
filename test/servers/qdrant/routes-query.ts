/**
 * `POST /collections/{c}/points/query` as Qdrant answers it for the nearest-neighbour queries qnb's
 * probes make: `query` a dense vector or a point id (that point's stored vector; the point itself
 * is left out of the results, as Qdrant does), `using`, `limit` (default 10), `filter`,
 * `params.exact`, `with_payload` (default false), `with_vector`; answer `{ points: ScoredPoint[] }`.
 * The server has no HNSW graph: every search is a full scan (what Qdrant does below its full-scan
 * threshold), so approximate and exact results agree — until the `degraded-index` fault, which
 * makes approximate (non-exact) searches see only every other point, as a broken index would.
 */
import type { Route } from './context.js';
import {
  badInput,
  badRequest,
  formatError,
  notFound,
  readJson,
  sendOk,
  validationError,
} from './http-util.js';
import { denseParams, idKey, matchesFilter, parseId, payloadOutput, vectorOutput } from './points.js';
import { checkQuery } from './strict-mode.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

/** Score and order of a distance: higher is better except for Euclid and Manhattan. */
function scorer(distance: unknown, q: number[]): { score: (v: number[]) => number; asc: boolean } {
  switch (distance) {
    case 'Euclid':
      return { score: (v) => Math.sqrt(v.reduce((s, x, i) => s + (x - q[i]!) ** 2, 0)), asc: true };
    case 'Manhattan':
      return { score: (v) => v.reduce((s, x, i) => s + Math.abs(x - q[i]!), 0), asc: true };
    case 'Cosine': {
      const norm = Math.sqrt(dot(q, q)) || 1;
      const unit = q.map((x) => x / norm);
      return { score: (v) => dot(v, unit), asc: false };
    }
    default:
      return { score: (v) => dot(v, q), asc: false };
  }
}

function limitOf(v: unknown): number {
  if (v === undefined || v === null) return 10;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw formatError('JSON body', 'limit: expected usize');
  if (v < 1) throw validationError('JSON body', 'limit: value 0 invalid, must be 1 or larger');
  return v;
}

export const queryRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/collections/{name}/points/query',
    op: 'query',
    write: false,
    handler: async (ctx) => {
      const body = (await readJson(ctx.req)) as Json;
      const c = ctx.env.store.get(ctx.params.name!);
      if (body.prefetch !== undefined && body.prefetch !== null)
        throw badRequest('prefetch is not supported by the qnb test server');
      const using = typeof body.using === 'string' ? body.using : '';
      const params = denseParams(c.config);
      const p = params.get(using);
      if (!p) throw badInput(`Not existing vector name error: ${using}`);
      let query = body.query as unknown;
      if (query && typeof query === 'object' && !Array.isArray(query) && 'nearest' in (query as Json))
        query = (query as Json).nearest;
      let exclude: string | undefined;
      let vector: number[];
      if (Array.isArray(query)) {
        if (!query.every((x) => typeof x === 'number'))
          throw formatError('JSON body', 'query: expected a dense vector');
        if (query.length !== p.size)
          throw badInput(`Vector dimension error: expected dim: ${p.size}, got ${query.length}`);
        vector = query;
      } else if (typeof query === 'number' || typeof query === 'string') {
        const id = parseId(query);
        const point = c.points.get(idKey(id));
        if (!point) throw notFound(`No point with id ${String(id)} found`);
        vector = point.vector[using] as number[];
        exclude = idKey(id);
      } else throw badRequest('the qnb test server answers nearest-neighbour queries only');
      const paramsIn = (body.params ?? {}) as Json;
      const exact = paramsIn.exact === true;
      const limit = limitOf(body.limit);
      checkQuery(c, limit);
      const offset = typeof body.offset === 'number' ? body.offset : 0;
      const degraded = !exact && ctx.faults.main?.kind === 'degraded-index';
      const { score, asc } = scorer(p.distance, vector);
      const candidates = ctx.env.store
        .sorted(c)
        .filter((pt, i) => (!degraded || i % 2 === 0) && idKey(pt.id) !== exclude)
        .filter((pt) => matchesFilter(pt, body.filter) && Array.isArray(pt.vector[using]));
      const scored = candidates
        .map((pt: StoredPoint) => ({ pt, s: Math.fround(score(pt.vector[using] as number[])) }))
        .sort((a, b) => (asc ? a.s - b.s : b.s - a.s));
      const points = scored.slice(offset, offset + limit).map(({ pt, s }) => {
        const out: Json = { id: pt.id, version: 0, score: s };
        const payload = payloadOutput(pt.payload, body.with_payload ?? false);
        if (payload !== undefined) out.payload = payload;
        const vec = vectorOutput(c.config, pt, body.with_vector ?? false);
        if (vec !== undefined) out.vector = vec;
        if (pt.shard_key !== undefined) out.shard_key = pt.shard_key;
        return out;
      });
      sendOk(ctx.res, ctx.start, { points });
    },
  },
];
