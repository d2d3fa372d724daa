/**
 * Semantic probes of a Qdrant collection (docs/consistency.md): at backup time, K sampled points
 * with the ids of their exact top-10 neighbours (`points/query` with `params.exact`); after a
 * restore (and in `verify --deep`), the exact top-10 must be the same (recall 1.0) and the
 * approximate (HNSW) top-10 is measured against it: recall@10, an index-health figure with a
 * threshold. Skipped with a note when strict mode disables exact search or no dense vector exists.
 * Strict mode's `max_query_limit` caps both the number of probes and their k (recorded as `top`
 * and used again after the restore, so like is compared with like).
 */
import { VerificationError } from '../../core/errors.js';
import type { QdrantApi } from './qdrant-api.js';
import { queryLimit, strictModeOf } from './qdrant-count.js';

type Id = string | number;
type Json = Record<string, unknown>;

/** What the manifest records (details.probes of a collection artifact). */
export interface QdrantProbes {
  /** The named vector searched; absent for the unnamed default vector. */
  using?: string;
  /** k of the top-k, when strict mode's max_query_limit made it smaller than 10. */
  top?: number;
  samples: { id: Id; top: Id[] }[];
  /** Why no probe was recorded. */
  note?: string;
}

/** What a restore's probe check found. */
export interface QdrantProbeCheck {
  checked: number;
  /** Mean HNSW recall@k against exact search. */
  recall?: number;
  /** k, when not 10 (QdrantProbes.top). */
  top?: number;
  note?: string;
}

const TOP = 10;

/** The dense vector to probe: the unnamed one, else the first named dense vector. */
function denseVector(config: Json | null): { using?: string } | undefined {
  const vectors = ((config?.params as Json | undefined)?.vectors ?? {}) as Json;
  if (typeof vectors.size === 'number') return {};
  const name = Object.keys(vectors)
    .sort()
    .find((k) => typeof (vectors[k] as Json | undefined)?.size === 'number');
  return name === undefined ? undefined : { using: name };
}

const exactDisabled = (config: Json | null) => {
  const s = config?.strict_mode_config as Json | undefined;
  return s?.enabled === true && s.search_allow_exact === false;
};

async function neighbours(
  api: QdrantApi,
  name: string,
  id: Id,
  probes: { using?: string | undefined; top?: number | undefined },
  exact: boolean,
) {
  const res = await api.points<{ points: { id: Id }[] }>(name, 'query', {
    query: id,
    ...(probes.using === undefined ? {} : { using: probes.using }),
    limit: probes.top ?? TOP,
    ...(exact ? { params: { exact: true } } : {}),
    with_payload: false,
    with_vector: false,
  });
  return res.points.map((p) => p.id);
}

/** Records the probes of `name` (before its snapshot). Never throws for a probe it cannot make. */
export async function recordQdrantProbes(
  api: QdrantApi,
  name: string,
  config: Json | null,
  k: number,
): Promise<QdrantProbes> {
  if (k <= 0) return { samples: [], note: 'probes disabled (drill.qdrantSamples 0)' };
  if (exactDisabled(config)) return { samples: [], note: 'skipped: strict mode disables exact search' };
  const vector = denseVector(config);
  if (!vector) return { samples: [], note: 'skipped: no dense vector to search' };
  const strict = strictModeOf(config);
  const top = queryLimit(TOP, strict);
  const probe = { ...vector, ...(top < TOP ? { top } : {}) };
  const page = await api.points<{ points: { id: Id }[] }>(name, 'scroll', {
    limit: queryLimit(k, strict),
    with_payload: false,
    with_vector: false,
  });
  const samples: QdrantProbes['samples'] = [];
  try {
    for (const { id } of page.points) samples.push({ id, top: await neighbours(api, name, id, probe, true) });
  } catch (err) {
    if (/exact/i.test((err as Error).message))
      return { samples: [], note: 'skipped: strict mode disables exact search' };
    throw err;
  }
  return { ...probe, samples };
}

const key = (id: Id) => `${typeof id}:${String(id)}`;

/** Re-runs the probes on a restored collection; throws VerificationError naming the failed probe. */
export async function checkQdrantProbes(
  api: QdrantApi,
  collection: string,
  probes: QdrantProbes,
  opts: { recallThreshold: number; changing: boolean },
): Promise<QdrantProbeCheck> {
  if (probes.note || probes.samples.length === 0)
    return { checked: 0, note: probes.note ?? 'no probes recorded' };
  const k = probes.top ?? TOP;
  let recallSum = 0;
  for (const s of probes.samples) {
    const exact = await neighbours(api, collection, s.id, probes, true);
    const want = new Set(s.top.map(key));
    const got = new Set(exact.map(key));
    const missing = s.top.filter((id) => !got.has(key(id)));
    const extra = exact.filter((id) => !want.has(key(id)));
    if ((missing.length || extra.length) && !opts.changing)
      throw new VerificationError(
        `qdrant "${collection}": probe "exact top-${k} of point ${String(s.id)}" differs from the backup's (missing ${missing.join(', ') || '—'}; new ${extra.join(', ') || '—'})`,
        'the restored collection does not hold the vectors that were backed up',
      );
    const approx = new Set((await neighbours(api, collection, s.id, probes, false)).map(key));
    recallSum += exact.length ? exact.filter((id) => approx.has(key(id))).length / exact.length : 1;
  }
  const recall = Math.round((recallSum / probes.samples.length) * 1000) / 1000;
  if (recall < opts.recallThreshold)
    throw new VerificationError(
      `qdrant "${collection}": probe "HNSW recall@${k}" is ${recall}, below drill.recallThreshold ${opts.recallThreshold}`,
      'the vector index answers wrongly; rebuild it (update the collection’s hnsw_config) or check the Qdrant server log',
    );
  return { checked: probes.samples.length, recall, ...(k === TOP ? {} : { top: k }) };
}
